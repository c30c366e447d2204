/**
 * The browser app's download names (web/src/sources.ts stem): as the CLI names outputs, letters of
 * any script kept (every Cyrillic or CJK name had become '_': two photos, one download name).
 */
import { describe, expect, it } from 'vitest';
import { stem } from '../web/src/sources.js';
import { outputStem } from '../src/cli/inputs.js';

describe("the web app's download names", () => {
  it('keep a photo name of any script, as the CLI does, with _ for what a mesh line or a file name cannot hold', () => {
    expect(stem('фото.jpg')).toBe('фото');
    expect(stem('照片.png')).toBe('照片');
    expect(stem('Café photo.jpg')).toBe('Café photo');
    expect(stem('фото.jpg')).not.toBe(stem('照片.png'));
    for (const n of ['фото.jpg', 'Café photo.jpg', ' my  photo #1.jpg', 'a.b.c.png']) expect(stem(n), n).toBe(outputStem(n));
    expect(stem('a<b>c:d"e|f?g*h.jpg')).toBe('a_b_c_d_e_f_g_h');
    expect(stem('.jpg')).toBe('image');
  });
});

/**
 * The web app's choice of model (web/src/runtime-choice.ts): a model file the server does not
 * have is not chosen, the other is. A single-page host (vite preview, many static hosts) answers
 * a missing file with its index page and status 200: that is not the model either (the app
 * stopped with "the server sent an HTML page, not the model file" instead of falling back).
 */
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { chooseRuntime, parseThreads } from '../web/src/runtime-choice.js';

describe('the web app\'s runtime choice', () => {
  it('falls back to the other model when the chosen one is not served: a 404, or an HTML page with status 200', async () => {
    let missing: 'notfound' | 'index' = 'notfound';
    const server = createServer((req, res) => {
      if (req.url?.endsWith('prnet-light.safetensors')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1447960' });
        return void res.end();
      }
      if (missing === 'notfound') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    try {
      for (const kind of ['notfound', 'index'] as const) {
        missing = kind;
        const choice = await chooseRuntime(base, new URLSearchParams('backend=wasm'), 'default');
        expect(choice, kind).toEqual({ model: 'light', backends: ['wasm'], reason: 'default model not served, using light' });
      }
      expect(await chooseRuntime(base, new URLSearchParams('backend=wasm'), 'light')).toEqual({ model: 'light', backends: ['wasm'], reason: 'chosen' });
    } finally {
      server.close();
    }
  });

  it('reads ?threads= as a whole number ≥ 1 in decimal digits, leading zeros too; refuses 0, signs, fractions, exponents and numbers past 2^53', () => {
    expect(parseThreads(null)).toBeUndefined();
    expect(parseThreads('')).toBeUndefined();
    for (const [text, n] of [['1', 1], ['01', 1], ['002', 2], ['16', 16], ['9007199254740991', 2 ** 53 - 1]] as const) expect(parseThreads(text), text).toBe(n);
    for (const text of ['0', '00', '-1', '+2', '1.5', '2.0', '1e2', '0x2', ' 2', '2 ', 'abc', '9007199254740992', '1'.padEnd(400, '0')]) {
      let error: unknown;
      try {
        parseThreads(text);
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(Error);
      expect((error as Error).message, text).toBe(`?threads= must be a whole number ≥ 1, got "${text}": correct it or remove it from the address`);
      expect((error as { inAddress?: boolean }).inAddress, text).toBe(true);
    }
  });
});

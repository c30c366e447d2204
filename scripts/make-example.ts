/**
 * Derives the README's example photo, examples/astronaut.jpg, from the shared reference copy of
 * astronaut.png (NASA photo of Eileen Collins, public domain; the copy shipped with scikit-image's
 * data): re-encoded as JPEG, same 512×512 pixels.
 *   npx tsx scripts/make-example.ts [--shared ../shared]
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { sharedDir } from '../tools/data/tddfa.js';

const i = process.argv.indexOf('--shared');
const shared = i >= 0 ? process.argv[i + 1] : sharedDir();
mkdirSync('examples', { recursive: true });
await sharp(join(shared, 'eval', 'portraits', 'astronaut.png'))
  .jpeg({ quality: 90, mozjpeg: true })
  .withMetadata({ exif: { IFD0: { Copyright: 'Public domain (NASA)', ImageDescription: 'Eileen Collins, NASA' } } })
  .toFile('examples/astronaut.jpg');
process.stderr.write('wrote examples/astronaut.jpg\n');

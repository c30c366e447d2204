/**
 * Where a frame's time goes in the browser: runs web/profile.html (web/src/profile-worker.ts) in
 * headless Chromium on a 640×480 frame of astronaut.png and prints the median milliseconds of each
 * stage of the app's per-frame path, the network for each model, precision and batch, all
 * interleaved round by round (so ratios hold on a loaded machine).
 *
 *   npm run build:web && npx tsx web/scripts/profile-browser.ts [--rounds 20] [--threads 2] [--default]
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { serveStatic } from './serve.js';
import type { ProfileReply, ProfileRequest } from '../src/profile-worker.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const rounds = Number(opt('rounds', '20'));
const threads = args.includes('--threads') ? Number(opt('threads', '2')) : undefined;
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const dist = resolve(import.meta.dirname, '..', 'dist');
if (!existsSync(join(dist, 'profile.html'))) throw new Error('build the app first: npm run build:web');

// The fake camera's frame: the photo scaled so that the face is about 160 px, on a 640×480 frame.
const photo = resolve(import.meta.dirname, '../../../shared/eval/portraits/astronaut.png');
const { data, info } = await sharp(photo).resize(640, 480, { fit: 'contain', background: '#000' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });

const dir = mkdtempSync(join(tmpdir(), 'prnet-profile-'));
const server = await serveStatic(dist);
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}profile.html`);
  await page.waitForFunction(() => document.getElementById('out')?.textContent === 'Ready');
  const req = { base: `${server.url}`, width: info.width, height: info.height, rounds, threads, withDefault: args.includes('--default') };
  const reply = await page.evaluate(async ([r, rgb]) => {
    const request = { ...r, rgb: new Uint8Array(rgb).buffer } as ProfileRequest;
    return (window as unknown as { profileFrame(q: ProfileRequest): Promise<ProfileReply> }).profileFrame(request);
  }, [req, Array.from(data)] as const);
  console.log(`headless Chromium, WebAssembly, cross-origin isolated: ${reply.crossOriginIsolated}, ${reply.threads} threads; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}); ${rounds} rounds, medians in ms`);
  console.table(Object.entries(reply.stages).map(([stage, ms]) => ({ stage, ms })));
} finally {
  await browser.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The web app's choice of model (web/src/runtime-choice.ts): a model file the server does not
 * have is not chosen, the other is. A single-page host (vite preview, many static hosts) answers
 * a missing file with its index page and status 200: that is not the model either (the app
 * stopped with "the server sent an HTML page, not the model file" instead of falling back).
 */
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { chooseRuntime } from '../web/src/runtime-choice.js';

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
});

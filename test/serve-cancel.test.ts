/**
 * prnet serve: a client that leaves while its image's header is checked (after its body arrived,
 * before its task is queued) costs no worker time. The header check (sharp's metadata, on the
 * main thread) is held open here so that the client can leave inside it; the workers use their
 * own, unmocked sharp.
 */
import { readFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createServer, type PrnetServer } from '../src/serve/server.js';
import { ASTRONAUT } from './helpers/paths.js';

const gate = vi.hoisted(() => ({ hold: null as null | Promise<void>, entered: null as null | (() => void) }));
vi.mock('sharp', async (importOriginal) => {
  const real = (await importOriginal<{ default: (...args: unknown[]) => { metadata(): Promise<unknown> } }>()).default;
  const held = (...args: unknown[]) => {
    const image = real(...args);
    const metadata = image.metadata.bind(image);
    image.metadata = async () => {
      const hold = gate.hold;
      if (hold) {
        gate.entered?.();
        await hold;
      }
      return metadata();
    };
    return image;
  };
  return { default: Object.assign(held, real) };
});

let server: PrnetServer;
let url: URL;
beforeAll(async () => {
  server = await createServer({ workers: 1, models: { light: 'light' } });
  url = new URL(await server.app.listen({ host: '127.0.0.1', port: 0 }));
  await server.ready;
});
afterAll(() => server?.close());

const facesTotal = async (): Promise<number> => Number(/^prnet_faces_total (\d+)$/m.exec(await (await fetch(`${url.origin}/metrics`)).text())?.[1] ?? NaN);

describe('prnet serve: a client gone before its task is queued', () => {
  it('is not reconstructed (its close came before the route listened for it: the task ran in full for nobody)', async () => {
    const photo = await readFile(ASTRONAUT);
    const before = await facesTotal();
    let release!: () => void;
    gate.hold = new Promise<void>((r) => (release = r));
    const entered = new Promise<void>((r) => (gate.entered = r));
    const socket = createConnection({ host: url.hostname, port: Number(url.port) });
    socket.on('error', () => undefined);
    socket.write(`POST /v1/reconstruct HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: ${photo.length}\r\n\r\n`);
    socket.write(photo);
    await entered; // the body is in, its header being checked
    socket.destroy();
    await sleep(200);
    gate.hold = null;
    release();
    // One worker, in order: the next request's answer comes after the abandoned task was run or skipped.
    const res = await fetch(`${url.origin}/v1/reconstruct`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: photo });
    expect(res.status).toBe(200);
    const { faces } = (await res.json()) as { faces: unknown[] };
    expect(faces.length).toBe(1);
    expect((await facesTotal()) - before).toBe(1);
  }, 60_000);
});

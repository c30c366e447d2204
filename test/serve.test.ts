/**
 * `prnet serve`: the HTTP service with its real worker threads, the bundled light model and the
 * real detector, on real photos over loopback HTTP. In process (createServer) for the API and its
 * limits; as the command for a short load run (autocannon) and a SIGTERM under load.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImageFile, encodePng } from '../src/io/image-node.js';
import { createPrnet, producerJson } from '../src/pipeline/node.js';
import { packageVersion } from '../src/util/version.js';
import { buildOutputs } from '../src/pipeline/outputs.js';
import { createServer, type PrnetServer } from '../src/serve/server.js';
import { CONTENT_TYPES } from '../src/serve/task.js';
import { blackPng, gradientPng, pngHeaderOnly, pngSize } from './helpers/images.js';
import { heicOf } from './helpers/heic.js';
import { parseGlb, parseObj, parsePly } from './helpers/meshes.js';
import { AFLW_PHOTO, ASTRONAUT, GROUP_PHOTO } from './helpers/paths.js';
import { runCli } from './helpers/cli.js';
import { runMain } from './helpers/main-inprocess.js';
import { startCli } from './helpers/spawn.js';
import { readMat } from '../tools/eval/mat.js';

const VERTICES = 43867;

interface FaceJson {
  index: number;
  box: Record<string, number>;
  landmarks: { '2d': number[][]; '3d': number[][] };
  pose: { yaw: number; rotation: number[][] };
  vertexCount: number;
  triangleCount: number;
  producer?: Record<string, unknown>;
}

interface ErrorJson {
  error: { code: string; message: string };
}

let server: PrnetServer;
let base: string;
let astronaut: Uint8Array<ArrayBuffer>;

/** File bytes as a fetch body. */
const bytesOf = async (path: string): Promise<Uint8Array<ArrayBuffer>> => new Uint8Array(await readFile(path));

const post = (body: BodyInit | Uint8Array<ArrayBuffer>, query = '', type = 'image/png'): Promise<Response> =>
  fetch(`${base}/v1/reconstruct${query}`, { method: 'POST', body, headers: typeof body === 'string' || body instanceof Uint8Array ? { 'content-type': type } : {} });

/**
 * A POST of `length` bytes declared, sent 256 kB at a time while the server reads (or only
 * `sendOnly` bytes, then it stalls): its response's status line and body, and how much was sent.
 */
function rawUpload(url: URL, length: number, sendOnly = length, target = 'POST /v1/reconstruct'): { statusLine: Promise<string>; body: Promise<string>; sent: () => number; socket: ReturnType<typeof createConnection> } {
  const socket = createConnection({ host: url.hostname, port: Number(url.port) });
  socket.on('error', () => undefined);
  let sent = 0;
  let answered = false;
  let text = '';
  const statusLine = new Promise<string>((resolve) => {
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      answered = true;
      if (text.includes('\r\n')) resolve(text.split('\r\n')[0]);
    });
    socket.on('close', () => resolve(text.split('\r\n')[0]));
  });
  const body = new Promise<string>((resolve) => {
    const check = (): void => { if (/\r\n\r\n[\s\S]*\}\}/.test(text)) resolve(text.slice(text.indexOf('\r\n\r\n') + 4)); };
    socket.on('data', check);
    socket.on('close', () => resolve(text.slice(text.indexOf('\r\n\r\n') + 4)));
  });
  socket.write(`${target} HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${length}\r\n\r\n`);
  const chunk = new Uint8Array(256 * 1024).fill(7);
  const pump = (): void => {
    while (!answered && !socket.destroyed && sent < sendOnly) {
      const n = Math.min(chunk.length, sendOnly - sent);
      sent += n;
      if (!socket.write(chunk.subarray(0, n))) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  socket.once('connect', () => setTimeout(pump, 20));
  return { statusLine, body, sent: () => sent, socket };
}

async function expectError(res: Response, status: number, code: string): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as ErrorJson;
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(5);
  return body.error.message;
}

beforeAll(async () => {
  astronaut = await bytesOf(ASTRONAUT);
  server = await createServer({ workers: 1, models: { light: 'light' }, maxQueue: 2, bodyLimit: 2 * 1024 * 1024 });
  base = await server.app.listen({ host: '127.0.0.1', port: 0 });
  await server.ready;
});
afterAll(() => server?.close());

describe('prnet serve: the API', () => {
  it('answers /healthz, /readyz and /openapi.json', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready', workers: 1, models: ['light'] });
    const spec = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/reconstruct', '/healthz', '/readyz', '/metrics']));
    // every status the route answers is in the document: 405 for the other methods, 408 for a body that stalls
    const route = spec.paths['/v1/reconstruct'] as Record<string, { responses: Record<string, unknown> }>;
    expect(Object.keys(route.post.responses)).toEqual(['200', '400', '408', '413', '415', '422', '503', '504']);
    for (const method of ['get', 'head', 'put', 'delete', 'patch', 'options', 'trace']) expect(Object.keys(route[method].responses), method).toEqual(['405']);
    // every content type an answer of the route has is in its 200's (format=mat's was not)
    const ok = route.post.responses['200'] as { content: Record<string, unknown> };
    for (const [format, type] of Object.entries(CONTENT_TYPES)) expect(Object.keys(ok.content), format).toContain(type.replace(/;.*/, ''));
    await expectError(await fetch(`${base}/nowhere`), 404, 'not_found');
    // a URL that does not decode: the service's error format (was Fastify's {"error":"Bad Request","code":"FST_ERR_BAD_URL",…})
    expect(await expectError(await fetch(`${base}/%ZZ`), 400, 'bad_request')).toBe("the URL's path is not valid percent-encoding: /%ZZ");
  });

  it('enforces every bound the OpenAPI document gives its query parameters', async () => {
    const spec = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, { post: { parameters: { name: string; schema: Record<string, unknown> }[] } }> };
    const params = spec.paths['/v1/reconstruct']!.post.parameters;
    expect(params.map((p) => p.name).sort()).toEqual(['face', 'flip', 'format', 'maxFaces', 'model', 'smooth']);
    let checked = 0;
    for (const { name, schema } of params) {
      const bad: string[] = [];
      if (schema.enum) bad.push('nope');
      if (typeof schema.maximum === 'number') bad.push(String(schema.maximum + 1));
      if (typeof schema.minimum === 'number') bad.push(String(schema.minimum - 1));
      if (schema.type === 'integer') bad.push('1.5');
      if (schema.type === 'boolean') bad.push('maybe');
      for (const v of bad) {
        // Each names the parameter, the value sent and what is allowed.
        const message = await expectError(await post(astronaut, `?${name}=${v}`), 400, 'bad_request');
        expect(message).toMatch(new RegExp(`^query parameter '${name}' must be .+, got '${v.replace('.', '\\.')}'$`));
        if (schema.enum) expect(message).toContain(`must be one of ${(schema.enum as string[]).join(', ')}`);
        if (schema.type === 'boolean') expect(message).toContain('must be true or false');
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(9);
    // A parameter given twice is refused as such (the schema's type error quoted a valid value).
    expect(await expectError(await post(astronaut, '?format=obj&format=ply'), 400, 'bad_request')).toBe("query parameter 'format' is given 2 times; give it once");
    // A value after a second '?' is still read whole.
    expect(await expectError(await post(astronaut, '?format=obj?x'), 400, 'bad_request')).toBe("query parameter 'format' must be one of json, glb, obj, ply, posmap, frontal, mask, mat, got 'obj?x'");
    // An unknown parameter (a typo) is refused with its name, not dropped for the defaults.
    const typo = await post(astronaut, '?flp=false&maxFaces=1');
    expect(await expectError(typo, 400, 'bad_request')).toMatch(/^unknown query parameter 'flp'; the parameters are maxFaces, model, flip, smooth, format, face$/);
  });

  it('a bad query is refused as the request arrives, before its body is read; ?face without a file format is refused, not dropped', async () => {
    const url = new URL(base);
    for (const [query, message] of [
      ['?flp=1', /^unknown query parameter 'flp'/],
      ['?maxFaces=0', /^query parameter 'maxFaces' must be >= 1, got '0'$/],
      ['?smooth=1e999', /^query parameter 'smooth' must be a finite number$/],
    ] as const) {
      // 1.5 MB declared (under the 2 MiB limit), 4 bytes sent, then nothing: answered at once (it
      // came once the whole body had arrived, here never: at the request timeout)
      const upload = rawUpload(url, 1_500_000, 4, `POST /v1/reconstruct${query}`);
      const t0 = performance.now();
      expect(await upload.statusLine, query).toBe('HTTP/1.1 400 Bad Request');
      expect(performance.now() - t0, query).toBeLessThan(1500);
      expect((JSON.parse(await upload.body) as ErrorJson).error.message, query).toMatch(message);
      upload.socket.destroy();
    }
    // the JSON answer has every face: ?face=1 there was ignored without a word
    expect(await expectError(await post(astronaut, '?face=1'), 400, 'bad_request')).toBe("query parameter 'face' picks the face of a file format (format=glb, obj, …); the JSON answer has every face");
    await expectError(await post(astronaut, '?face=0&format=json'), 400, 'bad_request');
  });

  it('returns the faces the CLI writes to NAME_face<i>.json', async () => {
    const res = await post(astronaut);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const { faces } = (await res.json()) as { faces: FaceJson[] };
    expect(faces).toHaveLength(1);

    // The CLI's file for the same photo and model, made here in the test process.
    const prnet = await createPrnet({ model: 'light' });
    const image = await decodeImageFile(ASTRONAUT);
    const r = await prnet.reconstruct(image);
    const [file] = await buildOutputs('astronaut', image, r.faces, prnet.layout, new Set(['json']), (d, w, h, c) => encodePng(d, w, h, c), { producer: producerJson(prnet, 'light') });
    await prnet.dispose();
    const cli = JSON.parse(String(file.data)) as FaceJson;
    expect(Object.keys(faces[0])).toEqual(Object.keys(cli));
    expect(faces[0].producer).toEqual({ prnet: packageVersion(), model: 'light', precision: 'fp32', flip: true, smooth: 2 });
    expect(faces[0].box).toEqual(cli.box);
    expect(faces[0].vertexCount).toBe(VERTICES);
    expect(faces[0].triangleCount).toBe(cli.triangleCount);
    const a = faces[0].landmarks['3d'].flat();
    const b = cli.landmarks['3d'].flat();
    expect(a).toHaveLength(68 * 3);
    // Separate onnxruntime sessions may differ in the last rounded digit.
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThan(0.01);
  });

  it('takes multipart uploads (field "file") and the query options', async () => {
    const form = new FormData();
    form.append('file', new Blob([astronaut], { type: 'image/png' }), 'astronaut.png');
    const res = await post(form, '?flip=false&smooth=1.5');
    expect(res.status).toBe(200);
    const [face] = ((await res.json()) as { faces: FaceJson[] }).faces;
    // The options reach the reconstruction: the library's landmarks for them, not its defaults'.
    const prnet = await createPrnet({ model: 'light' });
    const image = await decodeImageFile(ASTRONAUT);
    const asked = (await prnet.reconstruct(image, { flip: false, smooth: 1.5 })).faces[0].landmarks;
    const byDefault = (await prnet.reconstruct(image)).faces[0].landmarks;
    await prnet.dispose();
    const worst = (lib: Float32Array): number => Math.max(...face.landmarks['3d'].flat().map((v, i) => Math.abs(v - lib[i])));
    expect(worst(asked)).toBeLessThan(0.01);
    expect(worst(byDefault)).toBeGreaterThan(0.05);
    await expectError(await post(astronaut, '?smooth=9'), 400, 'bad_request');

    const group = await bytesOf(GROUP_PHOTO);
    const all = (await (await post(group, '', 'image/jpeg')).json()) as { faces: FaceJson[] };
    expect(all.faces.length).toBe(3);
    const two = (await (await post(group, '?maxFaces=2', 'image/jpeg')).json()) as { faces: FaceJson[] };
    expect(two.faces.map((f) => f.box)).toEqual(all.faces.slice(0, 2).map((f) => f.box));

    // a "file" part without a filename (RFC 7578 makes it optional; `curl -F "file=<img.jpg"`) is the image too (was 400 missing_file)
    const boundary = 'prnetboundary';
    const unnamed = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"\r\n\r\n`), Buffer.from(astronaut), Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const noFilename = await post(new Uint8Array(unnamed), '', `multipart/form-data; boundary=${boundary}`);
    expect(noFilename.status, await noFilename.clone().text()).toBe(200);
    expect(((await noFilename.json()) as { faces: FaceJson[] }).faces).toHaveLength(1);
    const wrong = new FormData();
    wrong.append('photo', new Blob([astronaut], { type: 'image/png' }), 'astronaut.png');
    await expectError(await post(wrong), 400, 'missing_file');
    // an option sent as a form field was dropped without a word (7 faces for maxFaces=1); other fields are read through
    const asField = new FormData();
    asField.append('maxFaces', '1');
    asField.append('file', new Blob([group], { type: 'image/jpeg' }), 'group.jpg');
    expect(await expectError(await post(asField), 400, 'bad_request')).toBe(`form field 'maxFaces' is not read: options go in the query string (?maxFaces=…), the image in the field "file"`);
    const noted = new FormData();
    noted.append('note', 'from the test');
    noted.append('file', new Blob([astronaut], { type: 'image/png' }), 'a.png');
    expect((await post(noted)).status).toBe(200);
    await expectError(await post(astronaut, '?maxFaces=0'), 400, 'bad_request');
    await expectError(await post(astronaut, '?model=heavy'), 400, 'bad_request');
  });

  it('returns a mesh file for ?format=glb|obj|ply (the largest face, or ?face=i)', async () => {
    const glb = await post(astronaut, '?format=glb');
    expect(glb.status).toBe(200);
    expect(glb.headers.get('content-type')).toBe('model/gltf-binary');
    expect(parseGlb(new Uint8Array(await glb.arrayBuffer())).positions.length).toBe(VERTICES * 3);
    const obj = await post(astronaut, '?format=obj&face=0');
    expect(parseObj(await obj.text()).positions.length).toBe(VERTICES * 3);
    const ply = await post(astronaut, '?format=ply');
    expect(parsePly(new Uint8Array(await ply.arrayBuffer())).positions.length).toBe(VERTICES * 3);
    await expectError(await post(astronaut, '?format=glb&face=3'), 422, 'no_such_face');
    expect(glb.headers.get('content-disposition')).toBe('attachment; filename="face0.glb"');
  });

  it('returns the optional files for ?format=posmap|frontal|mask|mat, named as the CLI names them', async () => {
    const posmap = await post(astronaut, '?format=posmap');
    expect(posmap.status).toBe(200);
    expect(posmap.headers.get('content-disposition')).toBe('attachment; filename="face0_posmap.npy"');
    const npy = new Uint8Array(await posmap.arrayBuffer());
    expect(new TextDecoder().decode(npy.subarray(1, 6))).toBe('NUMPY');
    expect(new TextDecoder().decode(npy.subarray(10, 10 + (npy[8] | (npy[9] << 8))))).toMatch(/'shape': \(256, 256, 3\)/);
    expect(npy.length).toBe(10 + (npy[8] | (npy[9] << 8)) + 4 * 256 * 256 * 3);
    const frontal = await post(astronaut, '?format=frontal');
    expect(frontal.headers.get('content-type')).toMatch(/^model\/obj/);
    expect(parseObj(await frontal.text()).positions.length).toBe(VERTICES * 3);
    const mask = await post(astronaut, '?format=mask');
    expect(mask.headers.get('content-type')).toBe('image/png');
    expect(pngSize(new Uint8Array(await mask.arrayBuffer()))).toEqual({ width: 256, height: 256 });
    const mat = await post(astronaut, '?format=mat');
    expect(mat.headers.get('content-type')).toBe('application/x-matlab-data');
    expect(mat.headers.get('content-disposition')).toBe('attachment; filename="face0_mesh.mat"');
    const vertices = readMat(new Uint8Array(await mat.arrayBuffer())).variables.get('vertices');
    expect(vertices).toMatchObject({ className: 'double', dims: [VERTICES, 3] });
  });

  it('answers 200 with no faces for a photo without one', async () => {
    const res = await post(new Uint8Array(await gradientPng()));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ faces: [] });
    await expectError(await post(new Uint8Array(await gradientPng()), '?format=glb'), 422, 'no_face');
  });

  it('reads PPM (and PGM / BMP) as the CLI does: the same face; a huge or cut PPM is refused', async () => {
    const { width, height, data } = await decodeImageFile(ASTRONAUT);
    const header = new TextEncoder().encode(`P6\n${width} ${height}\n255\n`);
    const ppm = new Uint8Array(header.length + data.length);
    ppm.set(header);
    ppm.set(data, header.length);
    const res = await post(ppm, '', 'image/x-portable-pixmap');
    expect(res.status, await res.clone().text()).toBe(200);
    const fromPpm = ((await res.json()) as { faces: FaceJson[] }).faces;
    const fromPng = ((await (await post(astronaut)).json()) as { faces: FaceJson[] }).faces;
    expect(fromPpm).toHaveLength(1);
    expect(fromPpm[0].box).toEqual(fromPng[0].box);
    expect(await expectError(await post(new TextEncoder().encode('P6\n30000 30000\n255\n'), '', 'image/x-portable-pixmap'), 422, 'image_too_large')).toMatch(/900 megapixels/);
    await expectError(await post(ppm.slice(0, 5000), '', 'image/x-portable-pixmap'), 422, 'corrupt_image');
  });

  it('odd requests: 405 with Allow, non-finite or blank numbers 400, malformed multipart 400, extra file parts read through', async () => {
    // (OPTIONS was 404 "no route"; TRACE, which fetch does not send, in the raw test below)
    for (const method of ['GET', 'PUT', 'DELETE', 'OPTIONS']) {
      const res = await fetch(`${base}/v1/reconstruct`, { method });
      expect(res.headers.get('allow'), method).toBe('POST');
      await expectError(res, 405, 'method_not_allowed');
    }
    expect((await fetch(`${base}/v1/reconstruct`, { method: 'HEAD' })).status).toBe(405);
    // 1e999 and Infinity were validated as numbers and reached the worker: 500.
    for (const [q, message] of [
      ['?smooth=Infinity', "query parameter 'smooth' must be a decimal number, got 'Infinity'"],
      ['?smooth=1e999', "query parameter 'smooth' must be a finite number"],
      ['?maxFaces=Infinity', "query parameter 'maxFaces' must be a decimal number, got 'Infinity'"],
      ['?face=Infinity&format=glb', "query parameter 'face' must be a decimal number, got 'Infinity'"],
    ]) {
      expect(await expectError(await post(astronaut, q), 400, 'bad_request'), q).toBe(message);
    }
    // A blank value was read as 0.
    expect(await expectError(await post(astronaut, '?smooth=%20'), 400, 'bad_request')).toBe("query parameter 'smooth' needs a value");
    // Hexadecimal and binary were coerced (face=0x1 was face 1).
    expect(await expectError(await post(astronaut, '?face=0x1&format=glb'), 400, 'bad_request')).toBe("query parameter 'face' must be a decimal number, got '0x1'");
    expect((await post(astronaut, '?smooth=.5e0&maxFaces=1')).status).toBe(200);
    // Multipart without a boundary, or cut short: 400 (was 500).
    await expectError(await post(new TextEncoder().encode('--x\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc'), '', 'multipart/form-data'), 400, 'bad_request');
    await expectError(await post(new TextEncoder().encode('--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nabc'), '', 'multipart/form-data; boundary=x'), 400, 'bad_request');
    // Two file parts: the one named "file" is the image (was 413 "reach files limit").
    const form = new FormData();
    form.append('thumb', new Blob([astronaut], { type: 'image/png' }), 't.png');
    form.append('file', new Blob([astronaut], { type: 'image/png' }), 'a.png');
    const two = await post(form);
    expect(two.status, await two.clone().text()).toBe(200);
    expect(((await two.json()) as { faces: FaceJson[] }).faces).toHaveLength(1);
    // Six file parts: 413 in words (was busboy's "reach files limit").
    const six = new FormData();
    for (let k = 0; k < 6; k++) six.append(k ? `extra${k}` : 'file', new Blob([k ? new Uint8Array(100) : astronaut], { type: 'image/png' }), `${k}.png`);
    expect(await expectError(await post(six), 413, 'body_too_large')).toBe('the multipart body has more than 5 file parts (the image goes in the one named "file")');
  });

  it('the deadline runs from arrival: an upload slower than --timeout gets a 504, not a late 200', async () => {
    const slow = await createServer({ workers: 1, models: { light: 'light' }, timeoutMs: 1000 });
    try {
      const url = new URL(await slow.app.listen({ host: '127.0.0.1', port: 0 }));
      await slow.ready;
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: url.hostname, port: url.port, path: '/v1/reconstruct', method: 'POST', headers: { 'content-type': 'image/png', 'content-length': String(astronaut.length) } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.write(astronaut.subarray(0, 1000));
        setTimeout(() => req.end(astronaut.subarray(1000)), 1500); // the rest after 1.5 s
      });
      // 504 when the body arrives after the deadline, or 408 when Node's request timeout (checked
      // every second) ends the upload first: never a late 200.
      expect([408, 504], answer.body).toContain(answer.status);
      expect(JSON.parse(answer.body)).toEqual(answer.status === 504
        ? { error: { code: 'deadline_exceeded', message: 'the request took longer than the deadline to arrive' } }
        : { error: { code: 'request_timeout', message: 'the request did not arrive whole within the deadline' } });
    } finally {
      await slow.close();
    }
  });

  it('close() with an answer still to come on a keep-alive connection: the answer says Connection: close and the connection ends with it (it was held until the 10 s grace)', async () => {
    const s = await createServer({ workers: 1, models: { light: 'light' } });
    const url = new URL(await s.app.listen({ host: '127.0.0.1', port: 0 }));
    let closed = false;
    try {
      await s.ready;
      const socket = createConnection({ host: url.hostname, port: Number(url.port) });
      socket.on('error', () => undefined);
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
      const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.write(`POST /v1/reconstruct HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Type: image/jpeg\r\nContent-Length: ${astronaut.length}\r\n\r\n`);
      socket.write(astronaut);
      for (let i = 0; i < 100 && s.inFlight() === 0; i++) await sleep(10);
      expect(s.inFlight()).toBe(1);
      const t0 = performance.now();
      await s.close();
      closed = true;
      expect(performance.now() - t0).toBeLessThan(5000);
      await ended;
      const head = got.slice(0, got.indexOf('\r\n\r\n')).split('\r\n');
      expect(head[0]).toBe('HTTP/1.1 200 OK');
      expect(head.map((l) => l.toLowerCase())).toContain('connection: close');
    } finally {
      if (!closed) await s.close();
    }
  }, 60_000);

  it('a stalled upload: 408 within about a second of --timeout (Node looked every 30 s), and it does not hold up close() past its grace', async () => {
    const slow = await createServer({ workers: 1, models: { light: 'light' }, timeoutMs: 1500, closeGraceMs: 500 });
    const url = new URL(await slow.app.listen({ host: '127.0.0.1', port: 0 }));
    const stall = (): { answer: Promise<string>; socket: ReturnType<typeof createConnection> } => {
      const socket = createConnection({ host: url.hostname, port: Number(url.port) });
      socket.write('POST /v1/reconstruct HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n\x89PNG');
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString()));
      const answer = new Promise<string>((resolve) => socket.on('close', () => resolve(got)));
      socket.on('error', () => undefined);
      return { answer, socket };
    };
    try {
      await slow.ready;
      const t0 = performance.now();
      const first = stall();
      const text = await first.answer;
      expect(text.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
      expect(performance.now() - t0).toBeLessThan(4000);
      // /metrics counts it as the 408 it was, not as a client that went away (499)
      await sleep(100);
      const metrics = await (await fetch(`${url.origin}/metrics`)).text();
      expect(metrics).toMatch(/prnet_http_requests_total\{method="POST",route="\/v1\/reconstruct",status="408"\} 1\n/);
      expect(metrics).not.toMatch(/status="499"/);
      // close() while an upload stalls (Node stops its request timeout once the server closes)
      const second = stall();
      await sleep(200);
      const t1 = performance.now();
      await slow.close();
      expect(performance.now() - t1).toBeLessThan(3000);
      await second.answer; // its connection was cut
    } finally {
      await slow.close().catch(() => undefined);
    }
  });

  it('a POST while the models load: 503 not_ready with Retry-After, before its body is read, which a client still sending receives', async () => {
    const starting = await createServer({ workers: 1, models: { default: 'default' } });
    try {
      const url = new URL(await starting.app.listen({ host: '127.0.0.1', port: 0 }));
      const upload = rawUpload(url, 8 * 2 ** 20);
      expect(await upload.statusLine).toBe('HTTP/1.1 503 Service Unavailable');
      expect(upload.sent()).toBeLessThan(8 * 2 ** 20); // answered before the body was all sent
      upload.socket.destroy();
      const res = await fetch(`${url.origin}/v1/reconstruct`, { method: 'POST', body: astronaut, headers: { 'content-type': 'image/png' } });
      if (res.status === 503) {
        expect(await expectError(res, 503, 'not_ready')).toBe('the models are loading');
        expect(res.headers.get('retry-after')).toBe('1');
      } else await res.arrayBuffer(); // loaded by then
      await starting.ready;
    } finally {
      await starting.close();
    }
  });

  it('uploads still arriving count against the queue (one place more per worker): a burst is refused with 503 before its bodies are read', async () => {
    const tight = await createServer({ workers: 1, models: { light: 'light' }, maxQueue: 1 });
    const url = new URL(await tight.app.listen({ host: '127.0.0.1', port: 0 }));
    try {
      await tight.ready;
      // two uploads that stall take the queue's place and the worker's
      const stalled = [rawUpload(url, 100_000, 4), rawUpload(url, 100_000, 4)];
      await sleep(300);
      const refused = rawUpload(url, 8 * 2 ** 20);
      expect(await refused.statusLine).toBe('HTTP/1.1 503 Service Unavailable');
      expect(refused.sent()).toBeLessThan(8 * 2 ** 20);
      expect(await refused.body).toMatch(/"code":"queue_full".*2 arriving/);
      refused.socket.destroy();
      stalled[0].socket.destroy();
      await sleep(300);
      // a place again: taken
      expect((await fetch(`${url.origin}/v1/reconstruct`, { method: 'POST', body: astronaut, headers: { 'content-type': 'image/png' } })).status).toBe(200);
      stalled[1].socket.destroy();
    } finally {
      await tight.close();
    }
  });

  it('an upload slower than 16 KiB/s after 2 s is ended with 408, freeing its place; so is one that cannot arrive before the deadline', async () => {
    const tight = await createServer({ workers: 1, models: { light: 'light' }, maxQueue: 1, timeoutMs: 5000 });
    const url = new URL(await tight.app.listen({ host: '127.0.0.1', port: 0 }));
    /** A POST of `length` bytes declared, sent `chunk` bytes every `everyMs`: its answer once the server closes the connection. */
    const trickle = (length: number, chunk: number, everyMs: number): { answer: Promise<string>; socket: ReturnType<typeof createConnection> } => {
      const socket = createConnection({ host: url.hostname, port: Number(url.port) });
      socket.on('error', () => undefined);
      socket.write(`POST /v1/reconstruct HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${length}\r\n\r\n`);
      const timer = setInterval(() => { if (!socket.destroyed) socket.write(new Uint8Array(chunk).fill(7)); }, everyMs);
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString()));
      const answer = new Promise<string>((resolve) => socket.on('close', () => { clearInterval(timer); resolve(got); }));
      return { answer, socket };
    };
    try {
      await tight.ready;
      // two clients sending a byte every 300 ms hold both places (the queue's and the worker's)
      const t0 = performance.now();
      const slow = [trickle(100_000, 1, 300), trickle(100_000, 1, 300)];
      await sleep(300);
      await expectError(await fetch(`${url.origin}/v1/reconstruct`, { method: 'POST', body: astronaut, headers: { 'content-type': 'image/png' } }), 503, 'queue_full');
      // ended at once after the 2 s grace (Node's request timeout would have come at 5 s)
      for (const { answer } of slow) {
        const text = await answer;
        expect(text.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
        expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).error.message).toMatch(/^the upload is too slow: \d+ B in 2\.\d s, under the minimum of 16 KiB\/s$/);
      }
      expect(performance.now() - t0).toBeLessThan(4000);
      // their places are free again
      expect((await fetch(`${url.origin}/v1/reconstruct`, { method: 'POST', body: astronaut, headers: { 'content-type': 'image/png' } })).status).toBe(200);
      // 40 KiB/s, above the floor, but 1.5 MB declared cannot arrive within the 5 s deadline: ended past the grace
      const large = trickle(1_500_000, 8192, 200);
      const text = await large.answer;
      expect(text.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
      expect(text).toMatch(/the upload is too slow to arrive within the deadline: [\d.]+ KiB of 1\.4 MiB in 2\.\d s, the rest cannot arrive in the \d\.\d s left/);
      const metrics = await (await fetch(`${url.origin}/metrics`)).text();
      expect(metrics).toMatch(/prnet_http_requests_total\{method="POST",route="\/v1\/reconstruct",status="408"\} 3\n/);
    } finally {
      await tight.close();
    }
  });

  it('a body no route takes (POST /healthz, PUT /v1/reconstruct, an unknown path) is answered before it is read, not held in memory', async () => {
    const url = new URL(base);
    for (const [target, status] of [['POST /healthz', '404 Not Found'], ['PUT /v1/reconstruct', '405 Method Not Allowed'], ['TRACE /v1/reconstruct', '405 Method Not Allowed'], ['DELETE /v1/reconstruct', '405 Method Not Allowed'], ['POST /nowhere', '404 Not Found'], ['PATCH /metrics', '404 Not Found']] as const) {
      // 2 MB declared (under this server's 2 MiB body limit), 4 bytes sent, then nothing: the
      // answer comes at once (it came only once the whole body had arrived, each held in memory;
      // stalled, at the request timeout)
      const upload = rawUpload(url, 2_000_000, 4, target);
      const t0 = performance.now();
      expect(await upload.statusLine, target).toBe(`HTTP/1.1 ${status}`);
      expect(performance.now() - t0, target).toBeLessThan(3000);
      upload.socket.destroy();
    }
    // without a body these routes answer as before
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    // a GET's body (which no parser reads: it is discarded) is let be, e.g. an empty chunked one
    for (const [head, body] of [['Transfer-Encoding: chunked', '0\r\n\r\n'], ['Content-Length: 4', 'abcd']]) {
      const socket = createConnection({ host: url.hostname, port: Number(url.port) });
      const answer = new Promise<string>((resolve, reject) => {
        let text = '';
        socket.on('data', (d: Buffer) => { text += d.toString(); if (text.includes('\r\n\r\n')) resolve(text); });
        socket.on('error', reject);
      });
      socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n${head}\r\n\r\n${body}`);
      expect((await answer).split('\r\n')[0], head).toBe('HTTP/1.1 200 OK');
      socket.destroy();
    }
    const put = await fetch(`${base}/v1/reconstruct`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('POST');
  });

  it('a client that goes away mid-upload is counted as 499 in /metrics, not 200', async () => {
    const count = async (): Promise<number> => Number((await (await fetch(`${base}/metrics`)).text()).match(/prnet_http_requests_total\{method="POST",route="\/v1\/reconstruct",status="499"\} (\d+)/)?.[1] ?? 0);
    const before = await count();
    const url = new URL(`${base}/v1/reconstruct`);
    await new Promise<void>((resolve) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'image/png', 'content-length': String(astronaut.length) } });
      req.on('error', () => resolve());
      req.write(astronaut.subarray(0, 1000));
      setTimeout(() => { req.destroy(); resolve(); }, 200);
    });
    await sleep(300);
    expect(await count()).toBe(before + 1);
  });

  it('refuses what is not an image, corrupt images, huge headers and big bodies, as JSON', async () => {
    expect(await expectError(await post('hello', '', 'text/plain'), 415, 'unsupported_media_type')).toMatch(/text\/plain/);
    await expectError(await post(new TextEncoder().encode('not a png at all'), '', 'image/png'), 415, 'unsupported_media_type');
    const truncated = (await bytesOf(AFLW_PHOTO)).slice(0, 6000);
    // (the worker's words, without the 'image: ' its decoder put first, as the header check's)
    expect(await expectError(await post(truncated, '', 'image/jpeg'), 422, 'corrupt_image')).toMatch(/^cannot decode image \(.*(premature end|truncated|corrupt)/i);
    // cut off within its header: a JPEG by its magic bytes, damaged (was 415, "not an image or an unsupported format")
    expect(await expectError(await post(truncated.slice(0, 200), '', 'image/jpeg'), 422, 'corrupt_image')).toMatch(/^cannot read the JPEG \(.*premature end/i);
    expect(await expectError(await post(astronaut.slice(0, 30)), 422, 'corrupt_image')).toMatch(/^cannot read the PNG \(/);
    // 30000 × 30000 declared in a ~100-byte file: refused from its header, before any decoding.
    const t0 = performance.now();
    expect(await expectError(await post(new Uint8Array(pngHeaderOnly(30000, 30000))), 422, 'image_too_large')).toMatch(/900 megapixels/);
    expect(performance.now() - t0).toBeLessThan(2000);
    // a sliver within the pixel limit: refused by its long side (10 × 10,000,000 took 10 s to decode)
    expect(await expectError(await post(new Uint8Array(pngHeaderOnly(10, 10_000_000))), 422, 'image_too_large')).toMatch(/^image is 10×10000000: its long side is above the limit of 65,535 pixels$/);
    // A HEIC photo (an iPhone's): 415 with the way to convert it, from the worker's decoder.
    expect(await expectError(await post(new Uint8Array(await heicOf(ASTRONAUT)), '', 'image/heic'), 415, 'unsupported_media_type')).toMatch(/^a HEIC photo .*convert it to JPEG first/);
    await expectError(await post(new Uint8Array(3 * 1024 * 1024).fill(1), '', 'image/jpeg'), 413, 'body_too_large');
    const big = new FormData();
    big.append('file', new Blob([new Uint8Array(3 * 1024 * 1024).fill(1)], { type: 'image/jpeg' }), 'big.jpg');
    expect(await expectError(await post(big), 413, 'body_too_large')).toBe('the multipart body is larger than the body limit, 2 MiB');
    // the whole multipart body is bounded, not only each part: the image and two extra parts of 0.8 MB, each under the 2 MiB limit (was 200)
    const many = new FormData();
    many.append('file', new Blob([astronaut], { type: 'image/png' }), 'a.png');
    for (const k of [1, 2]) many.append(`extra${k}`, new Blob([new Uint8Array(800_000).fill(k)]), `${k}.bin`);
    expect(await expectError(await post(many), 413, 'body_too_large')).toBe('the multipart body is larger than the body limit, 2 MiB');
    // the same sent chunked (no length declared): refused when the limit is passed, and the client still sending gets the answer
    const boundary = 'prnetboundary';
    const partOf = (name: string, bytes: Uint8Array): Buffer => Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`), bytes, Buffer.from('\r\n')]);
    const body = Buffer.concat([partOf('file', astronaut), partOf('extra1', new Uint8Array(800_000)), partOf('extra2', new Uint8Array(800_000)), Buffer.from(`--${boundary}--\r\n`)]);
    const chunked = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${base}/v1/reconstruct`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.subarray(at, at + 64 * 1024));
      req.end();
    });
    expect(chunked.status, chunked.text).toBe(413);
    expect(JSON.parse(chunked.text)).toEqual({ error: { code: 'body_too_large', message: 'the multipart body is larger than the body limit, 2 MiB' } });
  });

  it('answers 503 with Retry-After when the queue is full, and counts it all in /metrics', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const res = await post(astronaut);
        if (res.status === 503) {
          expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
          expect(((await res.json()) as ErrorJson).error.code).toBe('queue_full');
        } else await res.arrayBuffer();
        return res.status;
      }),
    );
    expect(new Set(statuses)).toEqual(new Set([200, 503]));
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/prnet_http_requests_total\{method="POST",route="\/v1\/reconstruct",status="503"\} [1-9]/);
    // the text, the non-image bytes and the HEIC photo of the test before
    expect(metrics).toMatch(/prnet_http_requests_total\{method="POST",route="\/v1\/reconstruct",status="415"\} 3/);
    expect(metrics).toMatch(/prnet_http_request_duration_seconds_count\{route="\/v1\/reconstruct"\} \d+/);
    expect(metrics).toMatch(/^prnet_http_requests_in_flight 1$/m); // this request
    expect(metrics).toMatch(/^prnet_queue_depth 0$/m);
    const faces = Number(/^prnet_faces_total (\d+)$/m.exec(metrics)?.[1]);
    expect(faces).toBeGreaterThanOrEqual(8);
  });

  it('a task still running past its deadline + overrunMs is ended and its worker replaced; the server recovers', async () => {
    let overruns = 0;
    let inside = 0;
    // A task is ended only while it runs outside the pipeline (decoding): the deadline must pass
    // after the worker started it (under load a 150 ms one passed before, and the task was skipped)
    // and the overrun before its decode ends (a 64-megapixel JPEG decodes in ~0.5 s on a quiet
    // machine: within a 400 + 250 ms window, the task then stopping inside the pipeline, a CI run
    // read 0). A 96-megapixel photo (~0.75 s to decode), a 300 ms deadline and 100 ms of overrun,
    // sent up to three times: one of them is ended.
    const strict = await createServer({ workers: 1, models: { light: 'light' }, timeoutMs: 300, overrunMs: 100, onOverrun: (_ms, where) => { if (where === 'ended') overruns++; else inside++; } });
    try {
      const url = await strict.app.listen({ host: '127.0.0.1', port: 0 });
      await strict.ready;
      const big = new Uint8Array(await sharp(ASTRONAUT).resize(12000, 8000, { fit: 'fill' }).jpeg({ quality: 80 }).toBuffer());
      for (let attempt = 0; attempt < 3 && overruns === 0; attempt++) {
        if (attempt) await sleep(2000); // the task before stopped by itself (skipped, or at its next step)
        const res = await fetch(`${url}/v1/reconstruct`, { method: 'POST', body: big, headers: { 'content-type': 'image/jpeg' } });
        await expectError(res, 504, 'deadline_exceeded');
        // 100 ms later the task, started and still decoding, is ended (the callback fires only for a started task).
        for (let i = 0; i < 20 && overruns === 0; i++) await sleep(100);
      }
      expect(overruns, `${inside} overran inside the pipeline instead`).toBe(1);
      // The replacement worker loads its model, then small images are answered again (a 64² one
      // without a face: well within the 400 ms even on a loaded machine).
      const tiny = new Uint8Array(await gradientPng(64, 64));
      let status = 0;
      for (let i = 0; i < 60 && status !== 200; i++) {
        if (i) await sleep(250);
        status = (await fetch(`${url}/v1/reconstruct`, { method: 'POST', body: tiny, headers: { 'content-type': 'image/png' } })).status;
      }
      expect(status).toBe(200);
    } finally {
      await strict.close();
    }
  });

  it('a task past its deadline inside the pipeline stops by itself at its next step: no worker is ended inside onnxruntime (that aborted the process), and close() waits for it', async () => {
    let ended = 0;
    const strict = await createServer({ workers: 1, models: { default: 'default' }, timeoutMs: 500, overrunMs: 300, onOverrun: (_ms, where) => { if (where === 'ended') ended++; } });
    let closed = false;
    try {
      const url = await strict.app.listen({ host: '127.0.0.1', port: 0 });
      await strict.ready;
      // A crowd: the photo tiled 10 × 10 (a hundred faces, 25 network chunks with the flip: seconds of onnxruntime).
      const tile = await sharp(ASTRONAUT).resize(160, 160).png().toBuffer();
      const crowd = new Uint8Array(await sharp({ create: { width: 1600, height: 1600, channels: 3, background: 'white' } })
        .composite(Array.from({ length: 100 }, (_, i) => ({ input: tile, left: 160 * (i % 10), top: 160 * Math.floor(i / 10) }))).jpeg().toBuffer());
      const t0 = performance.now();
      await expectError(await fetch(`${url}/v1/reconstruct`, { method: 'POST', body: crowd, headers: { 'content-type': 'image/jpeg' } }), 504, 'deadline_exceeded');
      // The same worker answers later requests (the task stopped at a chunk boundary; without the
      // fix, ending it inside onnxruntime at 800 ms aborted the test's process), and no worker was ended.
      const tiny = new Uint8Array(await gradientPng(64, 64));
      let status = 0;
      while (status !== 200 && performance.now() - t0 < 30_000) {
        status = (await fetch(`${url}/v1/reconstruct`, { method: 'POST', body: tiny, headers: { 'content-type': 'image/png' } })).status;
        if (status !== 200) await sleep(200);
      }
      expect(status).toBe(200);
      expect(ended).toBe(0);
      // close() right after an abandoned task (here: another crowd whose client leaves) waits for it and resolves.
      const leaving = new AbortController();
      void fetch(`${url}/v1/reconstruct`, { method: 'POST', body: crowd, headers: { 'content-type': 'image/jpeg' }, signal: leaving.signal }).catch(() => undefined);
      await sleep(1500);
      leaving.abort();
      await strict.close();
      closed = true;
    } finally {
      if (!closed) await strict.close();
    }
  });

  it('a malformed HTTP request gets the service\'s own error JSON (400), as the parser\'s other errors (408 for a body that never arrives)', async () => {
    const { port, hostname } = new URL(base);
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = createConnection({ host: hostname, port: Number(port) }, () => sock.write('GARBAGE\r\n\r\n'));
      let text = '';
      sock.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve(text)).on('error', reject);
    });
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'bad_request', message: 'not a well-formed HTTP request' } });
  });

  it('an SVG is refused from its header (415), before a worker would draw it', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100"/></svg>';
    const res = await fetch(`${base}/v1/reconstruct`, { method: 'POST', body: svg, headers: { 'content-type': 'image/svg+xml' } });
    expect(await expectError(res, 415, 'unsupported_media_type')).toMatch(/SVG is a vector drawing/);
  });

  it('maxPixels (--max-pixels) reaches the workers\' decoder: above the default, a larger image is read (the header check let it through, the worker refused it)', async () => {
    const wide = await createServer({ workers: 1, models: { light: 'light' }, maxPixels: 100_010_000 });
    try {
      const url = await wide.app.listen({ host: '127.0.0.1', port: 0 });
      await wide.ready;
      // 10001 × 10000: just over the default 100 megapixels (a 16 KB file; 300 MB decoded)
      const res = await fetch(`${url}/v1/reconstruct`, { method: 'POST', body: new Uint8Array(blackPng(10_001, 10_000)), headers: { 'content-type': 'image/png' } });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(await res.json()).toEqual({ faces: [] });
      // and below the default, the header check refuses before any decoding
      const low = await createServer({ workers: 1, models: { light: 'light' }, maxPixels: 1_000_000 });
      try {
        const lowUrl = await low.app.listen({ host: '127.0.0.1', port: 0 });
        await low.ready;
        expect(await expectError(await fetch(`${lowUrl}/v1/reconstruct`, { method: 'POST', body: new Uint8Array(await gradientPng(2000, 1000)), headers: { 'content-type': 'image/png' } }), 422, 'image_too_large')).toBe('image is 2000×1000 = 2 megapixels, above the limit of 1 megapixels');
      } finally {
        await low.close();
      }
    } finally {
      await wide.close();
    }
  });

  it('answers 504 past the per-request deadline', async () => {
    const strict = await createServer({ workers: 1, models: { light: 'light' }, timeoutMs: 1 });
    try {
      const url = await strict.app.listen({ host: '127.0.0.1', port: 0 });
      await strict.ready;
      const res = await fetch(`${url}/v1/reconstruct`, { method: 'POST', body: astronaut, headers: { 'content-type': 'image/png' } });
      // (or 408 when Node's request timeout, looked at every 100 ms here, ends the 1 ms upload first)
      if (res.status === 408) await expectError(res, 408, 'request_timeout');
      else await expectError(res, 504, 'deadline_exceeded');
    } finally {
      await strict.close();
    }
  });
});

describe('prnet serve: the command under load', () => {
  it('serves a short autocannon run (200/503 only, RSS bounded) and stops on SIGTERM without cutting a request', async () => {
    const cli = startCli(['serve', '--port', '0', '--workers', '1', '--models', 'light', '--max-queue', '4']);
    try {
      const url = (await cli.waitFor(/listening on (http:\/\/\S+)/))[1];
      await cli.waitFor(/ready/);
      const photos = [Buffer.from(astronaut), await readFile(AFLW_PHOTO), await readFile(GROUP_PHOTO)];
      const result = await autocannon({
        url: `${url}/v1/reconstruct?model=light`,
        connections: 4,
        duration: 4,
        timeout: 60, // a loaded CI machine may be slow; what matters is that nothing but 200/503 comes back
        requests: photos.map((p) => ({ method: 'POST', body: p, headers: { 'content-type': 'image/jpeg' } })),
      });
      const codes = Object.keys(result.statusCodeStats ?? {}).map(Number);
      expect(result.errors).toBe(0);
      expect(result.timeouts).toBe(0);
      expect(codes.every((c) => c === 200 || c === 503)).toBe(true);
      expect(result['2xx']).toBeGreaterThan(0);
      const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${cli.child.pid}/status`, 'utf8'))?.[1]) * 1024;
      expect(hwm).toBeLessThan(1.5e9);

      // What autocannon left queued is answered first (the server does not drop abandoned requests).
      while ((await fetch(`${url}/v1/reconstruct`, { method: 'POST', body: astronaut, headers: { 'content-type': 'image/png' } })).status !== 200);

      // SIGTERM while 6 clients keep sending: every response that started is complete, the
      // requests in flight are answered, then the process exits 0.
      let stop = false;
      let termAt = Number.POSITIVE_INFINITY;
      const tally = { ok: 0, okAfterTerm: 0, busy: 0, refused: 0, cut: 0, other: 0 };
      const client = async () => {
        while (!stop) {
          let res: Response;
          try {
            res = await fetch(`${url}/v1/reconstruct`, { method: 'POST', body: astronaut, headers: { 'content-type': 'image/png' } });
          } catch {
            tally.refused++; // no response at all: the server had stopped accepting
            await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          try {
            const text = await res.text();
            if (res.status === 200) {
              expect((JSON.parse(text) as { faces: unknown[] }).faces).toHaveLength(1);
              tally.ok++;
              if (performance.now() > termAt) tally.okAfterTerm++;
            } else if (res.status === 503) {
              expect(['queue_full', 'shutting_down']).toContain((JSON.parse(text) as ErrorJson).error.code);
              tally.busy++;
            } else tally.other++;
          } catch (e) {
            if ((e as Error).name === 'AssertionError') throw e;
            tally.cut++;
          }
        }
      };
      const clients = Array.from({ length: 6 }, client);
      await new Promise((r) => setTimeout(r, 2000));
      termAt = performance.now();
      cli.child.kill('SIGTERM');
      const exit = await cli.exited;
      stop = true;
      await Promise.all(clients);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(tally.cut).toBe(0);
      expect(tally.other).toBe(0);
      expect(tally.okAfterTerm).toBeGreaterThan(0); // requests in flight at SIGTERM were answered
      expect(cli.lines.join('\n')).toMatch(/SIGTERM: stopping \(finishing \d+ requests? in flight\)\n.*stopped/);
    } finally {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    }
  });
});

describe('prnet serve arguments', () => {
  it('are usage errors (exit 2, one line)', async () => {
    const cases: [string[], RegExp][] = [
      [['serve', '--port', '70000'], /--port must be at most 65535/],
      [['serve', '--port', 'http'], /--port must be a whole number ≥ 0/],
      [['serve', '--workers', '0'], /--workers must be a whole number ≥ 1/],
      [['serve', '--models', 'a b'], /--models: 'a b' is not a name or name=file/],
      [['serve', 'extra'], /Unexpected argument 'extra'/],
      [['serve', '--workers', '100000'], /^prnet: --workers must be between 1 and \d+ \(the cores of this machine\), got '100000'$/],
      // Node's timers hold 24.8 days; a longer deadline fired at once (every request a 504).
      [['serve', '--timeout', '3000000'], /^prnet: --timeout must be at most 86400 seconds \(a day\), got '3000000'$/],
      // Checked before the port is bound or a model loaded (was exit 3 after binding).
      [['serve', '--detector', 'foo'], /^prnet: --detector must be one of blazeface, .*, got 'foo'$/],
      [['serve', '--models='], /^prnet: --models needs a value, got an empty one$/],
      // decimal digits only: ' ' was port 0 (a random port), 0x1F90 was 8080
      [['serve', '--port', ' '], /^prnet: --port must be a whole number ≥ 0, got ' '$/],
      [['serve', '--port', '0x1F90'], /^prnet: --port must be a whole number ≥ 0, got '0x1F90'$/],
      [['serve', '--workers', '1e0'], /^prnet: --workers must be a whole number ≥ 1, got '1e0'$/],
      // a body is buffered whole: no more than the largest image file read
      [['serve', '--max-body-mb', '1000000'], /^prnet: --max-body-mb must be at most 512 \(the largest image file read\), got '1000000'$/],
      [['serve', '--models', 'a=default,a=light'], /^prnet: --models: the name 'a' is given twice$/],
      [['serve', '--models', '__proto__=default'], /^prnet: --models: '__proto__' cannot be a model's name$/],
      [['serve', '--workers', '1', '--workers', '2'], /^prnet: --workers is given twice \('1' and '2'\): give it once$/],
      [['serve', '--min-upload-kib', '-1'], /^prnet: --min-upload-kib must be a whole number ≥ 0, got '-1'$/],
      [['serve', '--max-pixels', '0'], /^prnet: --max-pixels must be a whole number ≥ 1, got '0'$/],
    ];
    for (const [args, re] of cases) {
      const r = await runMain(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.errLines, args.join(' ')).toEqual([expect.stringMatching(re)]);
    }
  });

  it('a SIGTERM while the models load stops it cleanly: exit 0, no false load error', async () => {
    const cli = startCli(['serve', '--port', '0', '--host', '0.0.0.0', '--workers', '1', '--models', 'default,light']);
    try {
      // bound on every interface: the line says so (it read as if bound on 127.0.0.1 alone)
      expect((await cli.waitFor(/listening on .*/))[0]).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+ \(bound to 0\.0\.0\.0: every interface\) with 1 worker$/);
      cli.child.kill('SIGTERM');
      const exit = await cli.exited;
      expect(exit, cli.lines.join('\n')).toEqual({ code: 0, signal: null });
      expect(cli.lines.filter((l) => l.startsWith('prnet:')), cli.lines.join('\n')).toEqual([]);
    } finally {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    }
  });

  it('a port in use is one line and exit 2 before the workers start; a SIGTERM as it starts never aborts it (both gave exit 134 now and then)', async () => {
    const { createServer: netServer } = await import('node:net');
    const taken = netServer();
    await new Promise<void>((resolve) => taken.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
    const port = (taken.address() as { port: number }).port;
    try {
      for (let k = 0; k < 3; k++) {
        const r = await runCli(['serve', '--port', String(port), '--workers', '1', '--models', 'light']);
        expect(r.code, r.stderr).toBe(2);
        expect(r.errLines).toEqual([expect.stringMatching(new RegExp(`^prnet: cannot listen on 127\\.0\\.0\\.1:${port} \\(.*EADDRINUSE`))]);
      }
    } finally {
      taken.close();
    }
    for (const after of [400, 900, 1500]) {
      const cli = startCli(['serve', '--port', '0', '--workers', '1', '--models', 'default,light']);
      try {
        await sleep(after);
        cli.child.kill('SIGTERM');
        const exit = await cli.exited;
        // Ended by the signal itself while Node still loads the command (no worker yet), else a clean stop; never SIGABRT.
        expect([{ code: 0, signal: null }, { code: null, signal: 'SIGTERM' }], `${after} ms: ${cli.lines.join('\n')}`).toContainEqual(exit);
      } finally {
        if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
      }
    }
  });

  it('exits 3 with one line naming the file when a model cannot be loaded, before it listens', async () => {
    const r = await runCli(['serve', '--port', '0', '--workers', '1', '--models', 'mine=/nonexistent/model.safetensors']);
    expect(r.errLines, r.stderr).toEqual(['prnet: /nonexistent/model.safetensors: model file not found']);
    expect(r.code).toBe(3);
    // a mistyped bundled name (the service listened, then ended once its workers failed)
    const typo = await runCli(['serve', '--port', '0', '--workers', '1', '--models', 'default,lite']);
    expect(typo.errLines, typo.stderr).toEqual(["prnet: no bundled model 'lite' (did you mean 'light'?) and no such file (bundled models: default, light; or give a model file's path)"]);
    expect(typo.code).toBe(3);
  });
});

/**
 * `prnet serve`: the HTTP service (Fastify) in front of the inference thread pool. The HTTP thread
 * only parses, checks the image header and queues; decoding, the network and the outputs run in
 * the workers. Every refusal is JSON `{"error": {"code", "message"}}` with its HTTP status.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import sharp from 'sharp';
import { firstLine } from '../errors.js';
import { packageVersion } from '../util/version.js';
import { pixelCount } from '../io/pnm-bmp.js';
import type { DetectorKind } from '../detect/index.js';
import { MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, isVectorFormat, sideMessage } from '../io/image-node.js';
import { simpleImageSize, sniffSimpleFormat } from '../io/pnm-bmp.js';
import { createMetrics, type ServeMetrics } from './metrics.js';
import { openApi, querystringSchema, reconstructParameters } from './openapi.js';
import { createPool, type InferencePool } from './pool.js';
import { CONTENT_TYPES, FILE_ENDINGS, TASK_FLAGS, type FileFormat, type ReconstructTask, type TaskResult } from './task.js';

/** How much a multipart body may hold: file parts (the image and up to 4 others), fields, parts. */
const MULTIPART_LIMITS = { files: 5, fields: 10, parts: 20 } as const;

/** A multipart limit's 413 message, by @fastify/multipart's error code (another code keeps its own message). */
function multipartLimitMessage(code: string | undefined, bodyLimit: number, own: string): string {
  switch (code) {
    case 'FST_FILES_LIMIT':
      return `the multipart body has more than ${MULTIPART_LIMITS.files} file parts (the image goes in the one named "file")`;
    case 'FST_FIELDS_LIMIT':
      return `the multipart body has more than ${MULTIPART_LIMITS.fields} fields`;
    case 'FST_PARTS_LIMIT':
      return `the multipart body has more than ${MULTIPART_LIMITS.parts} parts`;
    case 'FST_REQ_FILE_TOO_LARGE':
      return `a file part is larger than the body limit, ${+(bodyLimit / 2 ** 20).toFixed(2)} MiB`;
    default:
      return own;
  }
}

export interface ServeOptions {
  /** Inference worker threads (default: the cores). */
  workers?: number;
  /** Models loaded by every worker, name → bundled name or file; the first is the default (default: default and light). */
  models?: Record<string, string>;
  detector?: DetectorKind;
  /** The detector's lowest score kept, 0 to 1 (createPrnet's minScore; default 0.5). */
  minScore?: number;
  /** Network threads per worker (default: the cores shared among the workers). */
  threads?: number;
  /** Largest body in bytes (default 20 MiB). */
  bodyLimit?: number;
  /** Largest image in pixels, read from the header before decoding and applied by the workers' decoder (default: the CLI's limit, MAX_IMAGE_PIXELS). */
  maxPixels?: number;
  /** Requests waiting for a worker before new ones get 503 (default: 8 per worker). */
  maxQueue?: number;
  /** Per-request deadline in milliseconds, from arrival to answer (default 30 s). */
  timeoutMs?: number;
  /**
   * A task still running this long after its request's deadline (the request has had its 504) is
   * ended and its worker replaced (default 10 s) when it is outside the pipeline (a decode or an
   * export that cannot be interrupted); inside it, it is left to stop at its next step (ending a
   * worker inside onnxruntime aborts the process).
   */
  overrunMs?: number;
  /**
   * Called (for the log) when a worker is ended for a task still running `overrunMs` past its
   * deadline ('ended'), or, once, when such a task is inside the pipeline and is left to stop ('inside-pipeline').
   */
  onOverrun?: (overrunMs: number, where: 'ended' | 'inside-pipeline') => void;
  /** How long close() lets the requests in flight finish before it cuts their connections (default CLOSE_GRACE_MS). */
  closeGraceMs?: number;
  /**
   * Slowest upload, bytes per second on average from the request's arrival (default
   * MIN_UPLOAD_RATE, 16 KiB/s; 0: none): past `uploadGraceMs` a slower body is ended with 408, as is
   * one whose declared length cannot arrive before the deadline even at twice its rate so far.
   */
  minUploadRate?: number;
  /** How long an upload may take before `minUploadRate` applies (default UPLOAD_GRACE_MS, 2 s). */
  uploadGraceMs?: number;
}

/** What a decimal number looks like in a query string (the finite check comes after validation). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** How long the workers get to stop on close() before the server stops waiting for them. */
const DESTROY_WAIT_MS = 12_000;
/** How long close() lets the requests in flight finish before it cuts their connections. */
export const CLOSE_GRACE_MS = 10_000;
/** How long close() waits for workers still loading their models (ending one there aborts the process). */
const LOAD_WAIT_MS = 60_000;
/** While an overrunning task is inside the pipeline, how often the server looks again. */
const OVERRUN_RECHECK_MS = 250;

export const DEFAULT_BODY_LIMIT = 20 * 1024 * 1024;
/** The slowest upload kept after UPLOAD_GRACE_MS, bytes per second on average (a trickle held a queue place for the whole deadline). */
export const MIN_UPLOAD_RATE = 16 * 1024;
/** How long an upload may take before MIN_UPLOAD_RATE applies. */
export const UPLOAD_GRACE_MS = 2000;
/** How often an upload's progress is looked at. */
const UPLOAD_CHECK_MS = 250;

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export interface PrnetServer {
  app: FastifyInstance;
  pool: InferencePool;
  metrics: ServeMetrics;
  /** Resolves when every worker has loaded its models (rejects when one cannot). */
  ready: Promise<void>;
  /** Requests being answered. */
  inFlight(): number;
  /** Stops accepting, finishes the requests in flight, then stops the workers. */
  close(): Promise<void>;
}

/** The query after validation: Fastify fills in the defaults reconstructParameters documents. */
interface Query {
  maxFaces?: number;
  model: string;
  flip: boolean;
  smooth?: number;
  format: FileFormat | 'json';
  face: number;
}


/** The 404 of a path no route serves (the not-found handler's, and a body sent there). */
function notFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(404).send(errorBody('not_found', `no route ${req.method} ${req.url.split('?')[0]}`));
}

/** The 405 of /v1/reconstruct with another method than POST. */
function methodNotAllowed(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(405).header('Allow', 'POST').send(errorBody('method_not_allowed', `${req.method} is not allowed here: POST the image`));
}

/** The raster format the first bytes announce, for the formats sharp decodes (JPEG, PNG, GIF, WebP, TIFF), or undefined. */
function knownFormat(bytes: Uint8Array): string | undefined {
  const starts = (...b: number[]): boolean => b.every((v, i) => bytes[i] === v);
  const ascii = (at: number, text: string): boolean => [...text].every((c, i) => bytes[at + i] === c.charCodeAt(0));
  if (starts(0xff, 0xd8, 0xff)) return 'JPEG';
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'PNG';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'GIF';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'WebP';
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return 'TIFF';
  return undefined;
}

/** The image's size from its header (no pixels decoded): 415 when it is not an image, 422 when too large or its header is damaged. */
async function checkHeader(bytes: Uint8Array, maxPixels: number): Promise<void> {
  if (sniffSimpleFormat(bytes)) {
    // PGM/PPM and uncompressed BMP, which the CLI reads and sharp does not: the size from the header
    // with the decoder's own checks, no pixels decoded on this thread (the worker decodes).
    try {
      simpleImageSize(bytes, 'image', maxPixels);
    } catch (e) {
      const message = firstLine(e).replace(/^image: /, '');
      throw /above the limit/.test(message) ? new HttpError(422, 'image_too_large', message) : new HttpError(422, 'corrupt_image', message);
    }
    return;
  }
  const meta = await sharp(bytes, { limitInputPixels: false }).metadata().catch((e: unknown) => {
    // A photo whose magic bytes say what it is but whose header does not read (a JPEG cut off at
    // 200 bytes: "premature end of JPEG") is a damaged image, not an unsupported format.
    const format = knownFormat(bytes);
    if (format) throw new HttpError(422, 'corrupt_image', `cannot read the ${format} (${firstLine(e)})`);
    throw new HttpError(415, 'unsupported_media_type', `not an image or an unsupported format (${firstLine(e)})`);
  });
  if (isVectorFormat(meta.format)) {
    throw new HttpError(415, 'unsupported_media_type', `not a photo (${meta.format!.toUpperCase()} is a vector drawing: send it as PNG or JPEG)`);
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (!width || !height) throw new HttpError(415, 'unsupported_media_type', 'not an image (no dimensions)');
  if (width * height > maxPixels) {
    throw new HttpError(422, 'image_too_large', `image is ${width}×${height} = ${pixelCount(width * height)}, above the limit of ${pixelCount(maxPixels)}`);
  }
  if (Math.max(width, height) > MAX_IMAGE_SIDE) throw new HttpError(422, 'image_too_large', sideMessage(width, height));
}

/**
 * A query parameter's schema error in the service's words: the parameter, what it must be (the
 * allowed values of an enum, true or false) and the value sent ("querystring/format must be equal
 * to one of the allowed values" named neither).
 */
function validationMessage(v: { instancePath?: string; keyword?: string; params?: Record<string, unknown>; message?: string }, url: string): string {
  const name = (v.instancePath ?? '').replace(/^\//, '') || String(v.params?.missingProperty ?? '');
  const q = url.indexOf('?');
  const sent = q < 0 ? null : new URLSearchParams(url.slice(q + 1)).get(name);
  const got = sent === null ? '' : `, got '${sent}'`;
  if (v.keyword === 'enum' && Array.isArray(v.params?.allowedValues)) return `query parameter '${name}' must be one of ${(v.params.allowedValues as unknown[]).join(', ')}${got}`;
  if (v.keyword === 'type' && v.params?.type === 'boolean') return `query parameter '${name}' must be true or false${got}`;
  if (v.keyword === 'type' && v.params?.type === 'integer') return `query parameter '${name}' must be a whole number${got}`;
  return `query parameter '${name}' ${v.message ?? 'is not valid'}${got}`;
}

/** Bytes for a message: 12 B, 3.4 KiB, 5.6 MiB. */
function sizeText(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  return bytes < 2 ** 20 ? `${+(bytes / 1024).toFixed(1)} KiB` : `${+(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** Connections whose upload Node's request timeout ended with a 408 (counted as 408 in /metrics, not 499). */
const timedOut = new WeakSet<Duplex>();

/**
 * Errors Node's HTTP parser raises before a request exists (a body that never arrives whole within
 * the deadline, headers too large, a malformed request): answered in the service's own error
 * format, as every other error (Fastify's default writes its own JSON shape).
 */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') timedOut.add(socket);
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request_timeout', 'the request did not arrive whole within the deadline']
    : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'headers_too_large', 'the request headers are too large']
    : [400, 'bad_request', 'not a well-formed HTTP request'];
  const body = JSON.stringify(errorBody(code, message));
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/**
 * Errors Fastify raises before routing (a URL whose percent-encoding does not decode, `/%ZZ`): in
 * the service's error format (Fastify's own is `{"error":"Bad Request","code":"FST_ERR_BAD_URL",…}`).
 */
function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  const message = err.code === 'FST_ERR_BAD_URL' ? `the URL's path is not valid percent-encoding: ${req.url.split('?')[0]}` : firstLine(err);
  void reply.code(status).send(errorBody('bad_request', message));
}

export async function createServer(options: ServeOptions = {}): Promise<PrnetServer> {
  const models = options.models ?? { default: 'default', light: 'light' };
  const modelNames = Object.keys(models);
  if (!modelNames.length) throw new Error('no model to serve');
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const maxPixels = options.maxPixels ?? MAX_IMAGE_PIXELS;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const overrunMs = options.overrunMs ?? 10_000;
  if (!(overrunMs >= 0 && overrunMs <= 2 ** 31 - 1)) throw new RangeError(`overrunMs must be from 0 to ${2 ** 31 - 1} ms, got ${overrunMs}`);
  // Node's timers hold at most 2^31 − 1 ms; a longer deadline would fire at once.
  if (!(timeoutMs > 0 && timeoutMs <= 2 ** 31 - 1)) throw new RangeError(`timeoutMs must be from 1 to ${2 ** 31 - 1} ms, got ${timeoutMs}`);
  const minUploadRate = options.minUploadRate ?? MIN_UPLOAD_RATE;
  const uploadGraceMs = options.uploadGraceMs ?? UPLOAD_GRACE_MS;
  if (!(minUploadRate >= 0 && Number.isFinite(minUploadRate))) throw new RangeError(`minUploadRate must be a finite number ≥ 0, got ${minUploadRate}`);
  if (!(uploadGraceMs >= 0 && uploadGraceMs <= 2 ** 31 - 1)) throw new RangeError(`uploadGraceMs must be from 0 to ${2 ** 31 - 1} ms, got ${uploadGraceMs}`);
  let isReady = false;
  const pool = createPool({
    workers: options.workers,
    models,
    detector: options.detector,
    minScore: options.minScore,
    threads: options.threads,
    // Before readiness the error is the caller's (ready rejects); after it, it is logged.
    onError: (e) => isReady && process.stderr.write(`prnet serve: a worker failed: ${firstLine(e)}\n`),
  });
  const maxQueue = options.maxQueue ?? pool.workers * 8;
  const metrics = createMetrics(() => pool.queueSize);
  let closing = false;
  let inFlight = 0;
  /** The shared flags of the tasks given to the pool and not settled yet (see ReconstructTask.cancelled). */
  const inFlightTasks = new Set<Int32Array>();
  let meanTaskMs = 1000; // running mean of a task's time in a worker, for Retry-After
  /** Seconds until a place in the queue is likely free (Retry-After). */
  const retryAfter = (): number => Math.max(1, Math.ceil(((pool.queueSize + receiving.size + 1) * meanTaskMs) / pool.workers / 1000));
  const ready = pool.ready().then(() => {
    isReady = true;
  });
  ready.catch(() => undefined); // the caller decides what a failed start means

  // requestTimeout: Node ends an upload that has not arrived whole within the deadline (408). It
  // looks every connectionsCheckingInterval (30 s by default), and its headers timeout, made
  // when the server is (Fastify sets requestTimeout after), must not exceed it: a 2 s deadline was
  // kept for 60–90 s.
  const app = Fastify({
    logger: false, bodyLimit, return503OnClosing: false, forceCloseConnections: 'idle', requestTimeout: timeoutMs, clientErrorHandler, frameworkErrors,
    http: { connectionsCheckingInterval: Math.max(100, Math.min(1000, timeoutMs)), requestTimeout: timeoutMs, headersTimeout: Math.min(60_000, timeoutMs) },
  });
  /** Reconstruct requests whose body is arriving or being checked, not yet handed to the pool. */
  const receiving = new Set<object>();
  const arrivals = new WeakMap<object, number>();
  // Only image bodies (and multipart): no JSON or text parser, so a body is always bytes.
  app.removeAllContentTypeParsers();
  // Up to 5 file parts: the image is the one named "file", the others are read through (a client
  // that also sends, say, a thumbnail is not refused); each part is bounded by the body limit.
  // The part named "file" is the image whether or not it has a filename (RFC 7578 makes it
  // optional; `curl -F "file=<img.jpg"` sends none, and busboy took such a part for a text field).
  await app.register(multipart, {
    limits: { fileSize: bodyLimit, files: MULTIPART_LIMITS.files, fields: MULTIPART_LIMITS.fields, parts: MULTIPART_LIMITS.parts },
    isPartAFile: (name: string | undefined, type: string | undefined, filename: string | undefined) => name === 'file' || type === 'application/octet-stream' || filename !== undefined,
  });
  app.addContentTypeParser(/^image\//, { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));

  const parameters = reconstructParameters(modelNames);
  const querystring = querystringSchema(parameters);
  const known = new Set(parameters.map((p) => p.name));
  // The numeric parameters, from their schemas: decimal only, and finite.
  const numeric = parameters.filter((p) => p.schema.type === 'number' || p.schema.type === 'integer').map((p) => p.name) as (keyof Query & string)[];
  // An unknown parameter (a typo such as `flp=false`) is a 400 naming it: the schema's validator
  // would drop it silently and answer with the defaults.
  // A blank value (`smooth=` or `smooth=%20`, which the validator reads as 0) is one too.
  const rejectUnknown = (req: { query: unknown }): void => {
    const query = (req.query ?? {}) as Record<string, unknown>;
    const unknown = Object.keys(query).filter((k) => !known.has(k));
    if (unknown.length) throw new HttpError(400, 'bad_request', `unknown query parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; the parameters are ${[...known].join(', ')}`);
    // A parameter given twice (format=obj&format=ply) is an array the schema then refuses by type.
    const twice = Object.keys(query).find((k) => Array.isArray(query[k]));
    if (twice) throw new HttpError(400, 'bad_request', `query parameter '${twice}' is given ${(query[twice] as unknown[]).length} times; give it once`);
    const blank = Object.keys(query).find((k) => typeof query[k] === 'string' && query[k].trim() === '');
    if (blank) throw new HttpError(400, 'bad_request', `query parameter '${blank}' needs a value`);
    // Numbers in decimal only: the validator's coercion reads '0x1' as 1 and '0b1' as 1.
    const odd = numeric.find((k) => typeof query[k] === 'string' && !DECIMAL.test(query[k].trim()));
    if (odd) throw new HttpError(400, 'bad_request', `query parameter '${odd}' must be a decimal number, got '${String(query[odd])}'`);
  };
  /**
   * The query of POST /v1/reconstruct, checked when the request arrives (onRequest), before its
   * body is read: Fastify validates the query only after the body (`?flp=1` with a 20 MB body read
   * the 20 MB first). The route's own validation then finds it valid.
   */
  const checkQuery = (req: FastifyRequest): void => {
    rejectUnknown(req);
    const sent = new Set(Object.keys(req.query ?? {}));
    const validate = req.getValidationFunction('querystring');
    if (validate && !validate(req.query)) throw new HttpError(400, 'bad_request', validationMessage(validate.errors?.[0] ?? {}, req.url));
    const q = req.query as Query;
    // The validator lets 1e999 and Infinity through as numbers: not a usable value either.
    for (const k of numeric) {
      if (q[k] !== undefined && !Number.isFinite(q[k] as number)) throw new HttpError(400, 'bad_request', `query parameter '${k}' must be a finite number`);
    }
    // The JSON answer has every face: a face asked for there would be dropped without a word.
    if (sent.has('face') && q.format === 'json') throw new HttpError(400, 'bad_request', `query parameter 'face' picks the face of a file format (format=glb, obj, …); the JSON answer has every face`);
  };
  // Answers sent while the service stops close their connection: a keep-alive connection that fell
  // idle after its answer was held open until the grace ran out (forceCloseConnections: 'idle'
  // closes only the connections idle when close() begins; Fastify marks only later requests).
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onRequest', async (req, reply) => {
    inFlight++;
    metrics.inFlight.inc();
    const route = req.routeOptions.url ?? 'unmatched';
    const end = metrics.latency.startTimer({ route });
    arrivals.set(req, Date.now());
    const socket = req.raw.socket;
    // The status as sent (a parser that fails after an answer went out may still set another).
    let sent: string | undefined;
    reply.raw.once('finish', () => (sent = String(reply.statusCode)));
    reply.raw.once('close', () => {
      inFlight--;
      metrics.inFlight.dec();
      end();
      // A request whose client went away before the answer was sent counts as 499 (as nginx logs
      // it), not as the 200 the reply's status still holds then; one whose upload Node's request
      // timeout ended (its 408 written on the socket, outside the reply) as 408.
      metrics.requests.inc({ method: req.method, route, status: sent ?? (timedOut.has(socket) ? '408' : '499') });
    });
    // Requests that arrive on an open keep-alive connection while the server shuts down.
    if (closing) {
      return reply.code(503).headers({ Connection: 'close', 'Retry-After': '1' }).send(errorBody('shutting_down', 'the server is shutting down; retry on another instance'));
    }
    // A body that no route takes (POST /healthz, PUT /v1/reconstruct, an unknown path) is answered
    // before it is read: the body parsers apply to every route, so such bodies were held whole in
    // memory, outside the queue's count (60 uploads of 19 MB to /healthz took the process to 1.3 GB).
    // GET and HEAD bodies are let be: Fastify parses none for them, and Node discards them unread
    // (some clients send `Transfer-Encoding: chunked` with an empty body on every request).
    const declared = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (declared && req.method !== 'GET' && req.method !== 'HEAD' && !(req.method === 'POST' && route === '/v1/reconstruct')) {
      if (route === '/v1/reconstruct') return methodNotAllowed(req, reply);
      if (route === 'unmatched') return notFound(req, reply);
      return reply.code(400).send(errorBody('bad_request', `${req.method} ${route} takes no request body`));
    }
    if (req.method === 'POST' && route === '/v1/reconstruct') {
      checkQuery(req);
      // The bodies still arriving count with the queue: each is held whole in memory, so a burst
      // of large uploads is refused before it is read (60 concurrent 19 MB uploads took the
      // process to 2 GB, and their 503s came only once each body had arrived). One place per
      // worker more than the queue's, so idle workers do not stand for the uploads that feed them.
      // The refusal leaves the connection open: Node reads the rest of the body through without
      // keeping it, and the client, still sending, gets the answer (with `Connection: close` it
      // got a broken pipe instead).
      if (receiving.size + pool.queueSize >= maxQueue + pool.workers) {
        return reply.code(503).headers({ 'Retry-After': String(retryAfter()) })
          .send(errorBody('queue_full', `${pool.queueSize} request${pool.queueSize === 1 ? '' : 's'} waiting and ${receiving.size} arriving; retry later`));
      }
      if (!isReady) return reply.code(503).headers({ 'Retry-After': '1' }).send(errorBody('not_ready', 'the models are loading'));
      receiving.add(req);
      reply.raw.once('close', () => receiving.delete(req));
      watchUpload(req, reply);
    }
  });

  /**
   * Ends an upload that arrives too slowly with 408, freeing its place among those arriving (each
   * took one until the deadline however slowly it sent: 20 clients sending a byte a second refused
   * every other request with 503 for 30 s). Past the grace period, a body slower than
   * minUploadRate on average since its arrival, or whose declared length cannot arrive before the
   * deadline even at twice its rate so far, is answered at once with `Connection: close`. The
   * bytes are the socket's (the body parsers read it; a listener here would start the stream).
   */
  function watchUpload(req: FastifyRequest, reply: FastifyReply): void {
    if (!(minUploadRate > 0)) return;
    const socket = req.raw.socket;
    const start = arrivals.get(req) ?? Date.now();
    const base = socket.bytesRead;
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    const timer = setInterval(() => {
      if (req.raw.complete || reply.sent || !receiving.has(req) || socket.destroyed) return clearInterval(timer);
      const now = Date.now();
      if (now - start < uploadGraceMs) return;
      const seconds = (now - start) / 1000;
      const got = Math.max(0, socket.bytesRead - base);
      const rate = got / seconds;
      const message = rate < minUploadRate
        ? `the upload is too slow: ${sizeText(got)} in ${seconds.toFixed(1)} s, under the minimum of ${sizeText(minUploadRate)}/s`
        : Number.isFinite(declared) && (declared - got) / (2 * rate) > (start + timeoutMs - now) / 1000
          ? `the upload is too slow to arrive within the deadline: ${sizeText(got)} of ${sizeText(declared)} in ${seconds.toFixed(1)} s, the rest cannot arrive in the ${((start + timeoutMs - now) / 1000).toFixed(1)} s left`
          : undefined;
      if (!message) return;
      clearInterval(timer);
      receiving.delete(req);
      void reply.code(408).headers({ Connection: 'close' }).send(errorBody('request_timeout', message));
    }, UPLOAD_CHECK_MS);
    timer.unref();
    reply.raw.once('close', () => clearInterval(timer));
  }

  app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
    if (err instanceof HttpError) return reply.code(err.status).headers(err.headers).send(errorBody(err.code, err.message));
    const fe = err as FastifyError;
    const status = fe.statusCode && fe.statusCode >= 400 ? fe.statusCode : 500;
    const code = fe.validation ? 'bad_request'
      : status === 413 ? 'body_too_large'
      : status === 415 ? 'unsupported_media_type'
      : status === 503 ? 'unavailable'
      : status < 500 ? 'bad_request'
      : 'internal';
    if (fe.validation?.length) fe.message = validationMessage(fe.validation[0], req.url);
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') fe.message = `content type '${req.headers['content-type'] ?? ''}' is not an image: send image/* or multipart/form-data with a 'file' field`;
    if (status >= 500 && code === 'internal') process.stderr.write(`prnet serve: ${firstLine(err)}\n`);
    return reply.code(status).send(errorBody(code, status === 500 ? 'internal error' : firstLine(err)));
  });
  app.setNotFoundHandler(notFound);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (!isReady) return reply.code(503).header('Retry-After', '1').send(errorBody('not_ready', 'the models are loading'));
    return { status: 'ready', workers: pool.workers, models: modelNames };
  });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  const spec = openApi({ models: modelNames, version: packageVersion() });
  app.get('/openapi.json', async () => spec);

  // Not POST on the route: 405 with Allow (HEAD comes with GET; OPTIONS and TRACE were 404 "no route").
  app.route({
    method: ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE'],
    url: '/v1/reconstruct',
    handler: async (req, reply) => methodNotAllowed(req, reply),
  });

  app.post('/v1/reconstruct', { schema: { querystring } }, async (req, reply) => {
    const q = req.query as Query; // checked on arrival (checkQuery)
    let bytes: Uint8Array;
    if (req.isMultipart()) {
      // The image is the part named "file"; other parts are read through (bounded by the limits).
      let found: Buffer | undefined;
      let field: string | undefined;
      // The whole body is bounded too, not only each part (the body parsers' limit does not apply
      // to multipart: four 15 MiB extra parts and the image were read and answered 200). A
      // declared length over it is refused before reading; a chunked body when it gets there: the
      // parts are no longer parsed and the rest is read through (the client still sending gets the
      // answer, as with the other 413s).
      const tooLarge = (): HttpError => new HttpError(413, 'body_too_large', `the multipart body is larger than the body limit, ${+(bodyLimit / 2 ** 20).toFixed(2)} MiB`);
      if (Number(req.headers['content-length']) > bodyLimit) throw tooLarge();
      let received = 0;
      let overLimit: (e: HttpError) => void = () => undefined;
      const over = new Promise<never>((_, reject) => (overLimit = reject));
      over.catch(() => undefined);
      const count = (chunk: Buffer): void => {
        received += chunk.length;
        if (received <= bodyLimit) return;
        req.raw.off('data', count);
        req.raw.unpipe();
        req.raw.resume();
        overLimit(tooLarge());
      };
      // (parts() pipes the request into the parser as it is first asked for a part, in this tick;
      // the listener is added after, so that it does not start the stream before the parser reads it)
      const parts = req.parts();
      let next = parts.next();
      req.raw.on('data', count);
      try {
        for (let r = await Promise.race([next, over]); !r.done; r = await Promise.race([next, over])) {
          const part = r.value;
          if (part.type !== 'file') {
            if (known.has(part.fieldname)) field ??= part.fieldname;
          } else if (part.fieldname === 'file' && !found) found = await Promise.race([part.toBuffer(), over]);
          else part.file.resume();
          next = parts.next();
        }
      } catch (e) {
        if (e instanceof HttpError) throw e;
        // Over a limit: a 413 in words (the package's own are "reach files limit" and the like).
        // Otherwise a malformed body (no boundary, cut short): 400, not 500.
        if ((e as FastifyError).statusCode === 413) throw new HttpError(413, 'body_too_large', multipartLimitMessage((e as FastifyError).code, bodyLimit, firstLine(e)));
        throw new HttpError(400, 'bad_request', `malformed multipart body (${firstLine(e)})`);
      } finally {
        req.raw.off('data', count);
      }
      // Options are query parameters: one sent as a form field (maxFaces=1) was dropped without a
      // word (other fields are read through, as extra file parts are).
      if (field !== undefined) throw new HttpError(400, 'bad_request', `form field '${field}' is not read: options go in the query string (?${field}=…), the image in the field "file"`);
      if (!found) throw new HttpError(400, 'missing_file', 'multipart body needs the image in a field named "file"');
      bytes = found;
    } else {
      bytes = req.body as Buffer;
    }
    if (!(bytes instanceof Uint8Array) || !bytes.length) throw new HttpError(400, 'empty_body', 'the body is empty: send the image');
    // The deadline runs from the request's arrival: a slow upload uses it up too.
    const deadline = (arrivals.get(req) ?? Date.now()) + timeoutMs;
    if (Date.now() > deadline) throw new HttpError(504, 'deadline_exceeded', 'the request took longer than the deadline to arrive');
    await checkHeader(bytes, maxPixels);
    if (pool.queueSize >= maxQueue) {
      throw new HttpError(503, 'queue_full', `${pool.queueSize} request${pool.queueSize === 1 ? '' : 's'} waiting; retry later`, { 'Retry-After': String(retryAfter()) });
    }
    receiving.delete(req); // counted by the pool's queue from here
    const format = q.format;
    const task: ReconstructTask = {
      kind: 'reconstruct',
      image: bytes,
      model: q.model,
      maxFaces: q.maxFaces,
      flip: q.flip,
      smooth: q.smooth,
      format,
      face: q.face,
      maxPixels,
      deadline,
      cancelled: new Int32Array(new SharedArrayBuffer(4 * TASK_FLAGS)),
    };
    // A client that gives up (or a request past its deadline) does not cost a worker's time.
    const cancel = () => Atomics.store(task.cancelled, 0, 1);
    inFlightTasks.add(task.cancelled);
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) cancel();
    });
    // A client that left while the body was read or its header checked had its 'close' before the
    // listener above was there: its task would run in full for nobody.
    if (reply.raw.destroyed) cancel();
    const abort = new AbortController();
    const running = pool.run(task, abort.signal).catch((e: unknown) => {
      if (abort.signal.aborted) throw new HttpError(504, 'deadline_exceeded', 'not answered within the request deadline');
      throw e;
    });
    // Past the deadline the worker skips a task still queued; one still running after the
    // overrun allowance is ended (piscina ends its worker and starts another).
    // (Capped: Node's timers overflow past 2³¹ − 1 ms and would fire at once.) A task still queued
    // then is left to the worker, which skips it; only a started one (flag 1 in slot 1) is ended.
    // Inside the pipeline the worker is not ended (onnxruntime-node aborts the whole process when
    // its thread is ended mid-run): it stops by itself at its next step, the cancel flag being set
    // at the deadline; the check is repeated until it has left.
    let overrun: NodeJS.Timeout;
    let toldInside = false;
    const checkOverrun = (): void => {
      if (Atomics.load(task.cancelled, 1) !== 1) return;
      if (Atomics.load(task.cancelled, 2) === 1) {
        cancel();
        if (!toldInside) options.onOverrun?.(overrunMs, 'inside-pipeline');
        toldInside = true;
        overrun = setTimeout(checkOverrun, OVERRUN_RECHECK_MS);
        return;
      }
      abort.abort();
      options.onOverrun?.(overrunMs, 'ended');
    };
    overrun = setTimeout(checkOverrun, Math.min(2 ** 31 - 1, Math.max(0, task.deadline - Date.now()) + overrunMs));
    running.then(() => clearTimeout(overrun), () => clearTimeout(overrun)).finally(() => inFlightTasks.delete(task.cancelled));
    // At the deadline the task is told to stop (a queued one is skipped, a running one stops at
    // its next step): set when the deadline wins the race (a timer fires at the deadline's
    // millisecond, where a `Date.now() > deadline` test was false about half the time).
    const result = await withDeadline(running, task.deadline, cancel);
    if (!result.ok) throw new HttpError(result.status, result.code, result.message);
    meanTaskMs += (result.ms - meanTaskMs) * 0.1;
    metrics.faces.inc(result.faces);
    reply.type(CONTENT_TYPES[format]);
    if (format !== 'json') reply.header('Content-Disposition', `attachment; filename="face${q.face}${FILE_ENDINGS[format]}"`);
    return reply.send(typeof result.body === 'string' ? result.body : Buffer.from(result.body.buffer, result.body.byteOffset, result.body.byteLength));
  });

  return {
    app,
    pool,
    metrics,
    ready,
    inFlight: () => inFlight,
    async close() {
      closing = true;
      // The requests in flight are answered first (app.close waits for them), for at most
      // CLOSE_GRACE_MS: then the connections left (an upload that stalled, which Node's request
      // timeout no longer ends once the server closes) are cut.
      const closed = app.close();
      if (!(await settledWithin(closed, options.closeGraceMs ?? CLOSE_GRACE_MS))) app.server.closeAllConnections();
      await closed;
      // Tasks still running after that were abandoned (answered 504, or their client left): they
      // stop at their next step, and piscina waits for them rather than ending a worker inside
      // onnxruntime, which aborted the whole process (SIGABRT) instead of exiting 0. Workers still
      // loading their models are let finish for the same reason.
      for (const flags of inFlightTasks) Atomics.store(flags, 0, 1);
      if (!(await settledWithin(ready, LOAD_WAIT_MS))) throw new Error(`the workers did not finish loading the models within ${LOAD_WAIT_MS / 1000} s`);
      // A worker stuck in native code cannot be ended at once: stop waiting for it after a while.
      if (!(await settledWithin(pool.close(), DESTROY_WAIT_MS))) throw new Error(`the workers did not stop within ${DESTROY_WAIT_MS / 1000} s`);
    },
  };
}

/** Whether `p` settles (resolved or rejected) within `ms`. */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.then(() => true, () => true), new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/** The task's result, or a 504 when the deadline passes first (a task still queued is then skipped by the worker). */
async function withDeadline(task: Promise<TaskResult>, deadline: number, onLate: () => void): Promise<TaskResult> {
  task.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onLate();
      reject(new HttpError(504, 'deadline_exceeded', 'not answered within the request deadline'));
    }, Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([task, late]);
  } finally {
    clearTimeout(timer);
  }
}

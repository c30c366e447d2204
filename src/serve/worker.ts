/**
 * An inference worker of the service's thread pool (piscina): loads one pipeline per model at
 * start (one inference session each, the face detector shared) and answers tasks one at a time.
 */
import { workerData } from 'node:worker_threads';
import type { DetectorKind } from '../detect/index.js';
import { AbortedError, InputError, UnsupportedImageError } from '../errors.js';
import { decodeImageBuffer, encodePng } from '../io/image-node.js';
import { createPrnet, producerJson } from '../pipeline/node.js';
import { buildOutputs } from '../pipeline/outputs.js';
import type { Prnet } from '../pipeline/prnet.js';
import type { TaskResult, WorkerTask } from './task.js';

export interface WorkerConfig {
  /** Model names or files, loaded at start: the keys of `?model=`. */
  models: Record<string, string>;
  threads?: number;
  detector?: DetectorKind;
  minScore?: number;
}

const config = workerData as WorkerConfig;
const prnets = new Map<string, Prnet>();
for (const [name, model] of Object.entries(config.models)) {
  prnets.set(name, await createPrnet({ model, threads: config.threads, detector: config.detector, minScore: config.minScore }));
}

const encode = (d: Uint8Array, w: number, h: number, c: 1 | 3): Promise<Uint8Array> => encodePng(d, w, h, c);

export default async function run(task: WorkerTask): Promise<TaskResult> {
  const t0 = performance.now();
  if (task.kind === 'ping') return { ok: true, body: '', faces: 0, ms: 0 };
  if (Atomics.load(task.cancelled, 0) === 1) return { ok: false, status: 499, code: 'client_closed', message: 'the client went away before its turn' };
  if (Date.now() > task.deadline) return { ok: false, status: 504, code: 'deadline_exceeded', message: 'the request waited in the queue past its deadline' };
  Atomics.store(task.cancelled, 1, 1); // started: past its deadline + overrun, the server may end this worker
  const prnet = prnets.get(task.model);
  if (!prnet) return { ok: false, status: 400, code: 'unknown_model', message: `model '${task.model}' is not loaded` };
  let image;
  try {
    image = await decodeImageBuffer(task.image, 'image', { maxPixels: task.maxPixels });
  } catch (e) {
    // The body has no name: the decoder's message without its 'image: ' (as the HTTP thread's header check words it).
    const message = e instanceof Error ? e.message.replace(/^image: /, '') : '';
    if (e instanceof UnsupportedImageError) return { ok: false, status: 415, code: 'unsupported_media_type', message };
    if (e instanceof InputError) return { ok: false, status: 422, code: 'corrupt_image', message };
    throw e;
  }
  // The HTTP thread's cancel flag stops the call between its steps (the client went away, or the
  // deadline passed); while inside it this thread is not ended (see TASK_FLAGS).
  const signal = { get aborted() { return Atomics.load(task.cancelled, 0) === 1; } };
  let faces;
  Atomics.store(task.cancelled, 2, 1);
  try {
    ({ faces } = await prnet.reconstruct(image, { maxFaces: task.maxFaces, flip: task.flip, smooth: task.smooth, signal }));
  } catch (e) {
    if (e instanceof AbortedError) return { ok: false, status: 504, code: 'deadline_exceeded', message: 'stopped: the request was cancelled or passed its deadline' };
    throw e;
  } finally {
    Atomics.store(task.cancelled, 2, 0);
  }
  if (task.format === 'json') {
    // The objects the CLI writes to NAME_face<i>.json (built by the same code), each on one line.
    const producer = producerJson(prnet, config.models[task.model], { flip: task.flip, smooth: task.smooth });
    const files = await buildOutputs('image', image, faces, prnet.layout, new Set(['json']), encode, { producer });
    const text = (d: string | Uint8Array): string => (typeof d === 'string' ? d : new TextDecoder().decode(d));
    const body = `{"faces":[${files.map((f) => JSON.stringify(JSON.parse(text(f.data)))).join(',')}]}\n`;
    return { ok: true, body, faces: faces.length, ms: performance.now() - t0 };
  }
  const index = task.face ?? 0;
  const face = faces[index];
  if (!face) {
    const message = faces.length ? `face ${index} asked for, ${faces.length} found` : 'no face found';
    return { ok: false, status: 422, code: faces.length ? 'no_such_face' : 'no_face', message };
  }
  const [file] = await buildOutputs('image', image, [face], prnet.layout, new Set([task.format]), encode);
  return { ok: true, body: file.data, faces: faces.length, ms: performance.now() - t0 };
}

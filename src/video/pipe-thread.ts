/**
 * ffmpeg's pipes, serviced from a worker thread.
 *
 * onnxruntime-node runs an inference synchronously on the JavaScript thread, so a pipe to
 * ffmpeg owned by that thread is only read or written between frames: a decoder could hand over
 * no more than the pipe's 64 KB while a frame was processed, and a 2.7 MB frame (1280 × 720 RGB)
 * then took dozens of event-loop turns, each waiting for ffmpeg to refill the pipe — tens of
 * milliseconds per frame on a busy machine, the same for the encoder's input. Here a small worker
 * thread owns ffmpeg's stdio: it reads whole frames ahead (decoding) or writes queued frames
 * (encoding) while the main thread runs the network, and frames cross threads as one message
 * each (decoded frames' buffers are transferred, not copied).
 *
 * The worker is plain JavaScript (evaluated, so the same code runs from the TypeScript sources,
 * the compiled package and the tests).
 */
import { Worker } from 'node:worker_threads';

/** The worker's code (CommonJS, `eval: true`). */
const SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const { cmd, args, mode, frameBytes, readAhead } = workerData;
let stderr = '';
let child = null;
try {
  child = spawn(cmd, args, { stdio: mode === 'decode' ? ['ignore', 'pipe', 'pipe'] : ['pipe', 'ignore', 'pipe'] });
} catch (e) {
  parentPort.postMessage({ type: 'spawn-error', code: e && e.code, message: String(e && e.message) });
  parentPort.postMessage({ type: 'close', code: null, signal: null, stderr: '', partial: 0 });
}
if (child) {
  if (child.pid !== undefined) parentPort.postMessage({ type: 'spawned', pid: child.pid });
  run(child);
}
function run(child) {
child.on('error', (e) => parentPort.postMessage({ type: 'spawn-error', code: e && e.code, message: String(e && e.message) }));
child.stderr.setEncoding('utf8').on('data', (d) => { if (stderr.length < 65536) stderr += d; });
let partial = 0;
child.on('close', (code, signal) => parentPort.postMessage({ type: 'close', code, signal, stderr, partial }));
if (mode === 'decode') {
  let inFlight = 0;
  let buf = new Uint8Array(frameBytes);
  let filled = 0;
  child.stdout.on('data', (chunk) => {
    let data = chunk;
    while (data.length) {
      const n = Math.min(frameBytes - filled, data.length);
      buf.set(data.subarray(0, n), filled);
      filled += n;
      data = data.subarray(n);
      if (filled === frameBytes) {
        parentPort.postMessage({ type: 'frame', data: buf }, [buf.buffer]);
        inFlight++;
        buf = new Uint8Array(frameBytes);
        filled = 0;
      }
    }
    partial = filled;
    if (inFlight >= readAhead) child.stdout.pause();
  });
  parentPort.on('message', (m) => {
    if (m === 'ack') {
      inFlight--;
      if (inFlight < readAhead && child.stdout.isPaused()) child.stdout.resume();
    } else if (m === 'kill') {
      // A paused stdout holding unread frames never ends, and the child's 'close' waits for it:
      // drop what is left so that 'close' comes.
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      child.kill('SIGKILL');
    }
  });
} else {
  child.stdin.on('error', (e) => parentPort.postMessage({ type: 'stdin-error', message: String(e && e.message) }));
  parentPort.on('message', (m) => {
    if (m === 'end') child.stdin.end();
    else if (m === 'kill') child.kill('SIGKILL');
    else if (m && m.type === 'frame') {
      // A frame shown for several frames of the output is written that many times; 'taken' once.
      for (let k = 1; k < (m.repeat || 1); k++) child.stdin.write(m.data);
      child.stdin.write(m.data, () => parentPort.postMessage({ type: 'taken' }));
    }
  });
}
}
`;

export type PipeMessage =
  | { type: 'frame'; data: Uint8Array; repeat?: number }
  | { type: 'taken' }
  | { type: 'spawn-error'; code?: string; message: string }
  | { type: 'stdin-error'; message: string }
  | { type: 'close'; code: number | null; signal: string | null; stderr: string; partial: number }
  | { type: 'spawned'; pid: number };

export interface PipeThreadOptions {
  cmd: string;
  args: string[];
  mode: 'decode' | 'encode';
  /** Bytes per frame. */
  frameBytes: number;
  /** Decoding: frames read ahead of the consumer. */
  readAhead?: number;
}

/** A worker thread running one ffmpeg with its pipes (see the file comment). */
export class PipeThread {
  private readonly worker: Worker;
  /** Resolves with the 'close' message (or a synthetic one if the thread died). */
  readonly closed: Promise<Extract<PipeMessage, { type: 'close' }>>;
  private isClosed = false;

  constructor(options: PipeThreadOptions, onMessage: (m: PipeMessage) => void) {
    this.worker = new Worker(SOURCE, {
      eval: true,
      workerData: { cmd: options.cmd, args: options.args, mode: options.mode, frameBytes: options.frameBytes, readAhead: options.readAhead ?? 4 },
    });
    this.closed = new Promise((resolve) => {
      let closeSeen = false;
      let pid: number | undefined;
      this.worker.on('message', (m: PipeMessage) => {
        if (m.type === 'close') closeSeen = true;
        if (m.type === 'spawned') pid = m.pid;
        onMessage(m);
        if (m.type === 'close' || m.type === 'spawn-error') {
          this.isClosed = true;
          resolve(m.type === 'close' ? m : { type: 'close', code: null, signal: null, stderr: '', partial: 0 });
        }
      });
      // A thread that dies without its 'close' message: the consumer is told too (a frame reader
      // or an encoder waiting on onMessage would otherwise wait forever).
      const died = (why: string): void => {
        if (closeSeen) return;
        closeSeen = true;
        this.isClosed = true;
        // its ffmpeg would outlive it
        if (pid !== undefined) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
        const m = { type: 'close' as const, code: null, signal: null, stderr: why, partial: 0 };
        onMessage(m);
        resolve(m);
      };
      this.worker.on('error', (e: Error) => died(`the pipe thread failed: ${e.message}`));
      this.worker.on('exit', () => died('the pipe thread ended'));
    });
    // The thread ends itself once ffmpeg has closed and nothing is left to do.
    void this.closed.then(() => this.worker.terminate()).catch(() => undefined);
  }

  get done(): boolean {
    return this.isClosed;
  }

  post(message: unknown): void {
    if (!this.isClosed) this.worker.postMessage(message);
  }

  /** Stops ffmpeg at once and waits for it. */
  async kill(): Promise<void> {
    this.post('kill');
    await this.closed;
  }
}

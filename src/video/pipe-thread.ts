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
const { cmd, args, mode, frameBytes, readAhead, frameTimes } = workerData;
let stderr = '';
// frameTimes (a token): ffmpeg runs at -loglevel level+info with a filter 'showinfo@<token>',
// which logs each frame's number and pts before the frame is written out. Frame i is posted with
// the time of line n = i (the pts in the time base the filter logs when configured: exact, where
// pts_time has 6 significant digits). Only lines that begin with that filter's own prefix count:
// the token is random per run, so a file's metadata (printed in ffmpeg's stream dumps, at the same
// log level) cannot pose as one. Of the other lines only errors are kept (as -v error would print
// them). A frame whose line has not been read yet waits for it (stdout can run far ahead of stderr:
// a 64 KB read holds 85 frames of 16 × 16), but not without end: past MAX_WAITING bytes of frames
// waiting (and at least two frames), the oldest goes on without a time.
const own = frameTimes ? '^\\[showinfo@' + frameTimes + ' @ 0x[0-9a-fA-F]+\\] \\[info\\] ' : '';
const SHOWINFO = new RegExp(own + 'n:\\s*(\\d+)\\s+pts:\\s*(\\S+)\\s+pts_time:(\\S+)');
const TIME_BASE = new RegExp(own + 'config in time_base: (\\d+)\\/(\\d+)');
let tbNum = 0;
let tbDen = 0;
// Errors as -v error printed them: after any number of context prefixes (ffmpeg 7 writes two).
const LEVEL = /^((?:\[[^\]]*\] )*)\[(panic|fatal|error)\] /;
const MUXER_DTS = /non monotonically increasing dts to muxer/;
/** Frame number → time (s), for frames not yet posted. */
const times = new Map();
let posted = 0;
// showinfo numbers the frames from 0 again when ffmpeg rebuilds the filters (a stream that changes
// size midway): base is the frame number of the current filters' frame 0, lastN the last n read.
let base = 0;
let lastN = -1;
let line = '';
function stderrLine(l) {
  const m = SHOWINFO.exec(l);
  if (m) {
    const k = Number(m[1]);
    if (k <= lastN) base += lastN + 1;
    lastN = k;
    const n = base + k;
    const pts = Number(m[2]);
    if (n >= posted) times.set(n, tbNum > 0 && tbDen > 0 && Number.isSafeInteger(pts) ? (pts * tbNum) / tbDen : Number(m[3]));
    return;
  }
  const tb = TIME_BASE.exec(l);
  if (tb) {
    tbNum = Number(tb[1]);
    tbDen = Number(tb[2]);
    return;
  }
  const e = LEVEL.exec(l);
  // (not the raw frames' muxer saying two frames' times fall on one tick of its time base — a
  // variable rate's frames closer than its average rate: every frame still comes, with its own time)
  if (e && !MUXER_DTS.test(l) && stderr.length < 65536) stderr += (e[1] || '') + l.slice(e[0].length) + '\n';
}
function stderrText(d) {
  if (!frameTimes) {
    if (stderr.length < 65536) stderr += d;
    return;
  }
  line += d;
  let nl;
  while ((nl = line.indexOf('\n')) >= 0) {
    stderrLine(line.slice(0, nl));
    line = line.slice(nl + 1);
  }
  // A line without an end this long is not one of showinfo's: let it go.
  if (line.length > 1 << 20) line = '';
}
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
let partial = 0;
let inFlight = 0;
/** Whole frames not yet posted (waiting for their time). */
const pending = [];
const MAX_WAITING = 64 * 1024 * 1024;
function post(final) {
  while (pending.length && (!frameTimes || times.has(posted) || final || (pending.length > 2 && pending.length * frameBytes > MAX_WAITING))) {
    const buf = pending.shift();
    const time = times.has(posted) ? times.get(posted) : NaN;
    times.delete(posted);
    posted++;
    parentPort.postMessage({ type: 'frame', data: buf, time }, [buf.buffer]);
    inFlight++;
  }
}
child.stderr.setEncoding('utf8').on('data', (d) => {
  stderrText(d);
  post(false);
});
child.on('close', (code, signal) => {
  if (line) stderrLine(line);
  post(true);
  parentPort.postMessage({ type: 'close', code, signal, stderr, partial });
});
if (mode === 'decode') {
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
        pending.push(buf);
        buf = new Uint8Array(frameBytes);
        filled = 0;
      }
    }
    partial = filled;
    post(false);
    if (inFlight + Math.min(pending.length, 1) >= readAhead) child.stdout.pause();
  });
  parentPort.on('message', (m) => {
    if (m === 'ack') {
      inFlight--;
      if (inFlight + Math.min(pending.length, 1) < readAhead && child.stdout.isPaused()) child.stdout.resume();
    } else if (m === 'kill') {
      // A paused stdout holding unread frames never ends, and the child's 'close' waits for it:
      // drop what is left so that 'close' comes.
      child.stdout.removeAllListeners('data');
      pending.length = 0;
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
  /** A decoded frame (with its pts_time in seconds when frameTimes: NaN where unknown), or one to encode. */
  | { type: 'frame'; data: Uint8Array; repeat?: number; time?: number }
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
  /** Decoding: ffmpeg's arguments log each frame with a filter 'showinfo@<this token>' at -loglevel level+info; frames carry their times. */
  frameTimes?: string;
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
      workerData: { cmd: options.cmd, args: options.args, mode: options.mode, frameBytes: options.frameBytes, readAhead: options.readAhead ?? 4, frameTimes: options.frameTimes ?? '' },
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

/**
 * A progress bar on stderr for long jobs: redrawn in place on a terminal, one line every few
 * seconds otherwise (logs, CI), silent when disabled.
 */
export interface ProgressOptions {
  label?: string;
  stream?: NodeJS.WriteStream;
  enabled?: boolean;
  /** Seconds between lines when the stream is not a terminal. */
  logInterval?: number;
  /** What is counted, shown with the rate ("photos" → "8.1 photos/s"; default: just "/s"). */
  unit?: string;
  /**
   * The total is an estimate (a video container's frame count): reaching it does not end the bar,
   * counting past it raises it, and finish() ends it.
   */
  estimated?: boolean;
}

/** Items done within this many milliseconds of the first count as finishing with it. */
const BURST_MS = 50;

export class Progress {
  private done = 0;
  private failed = 0;
  private readonly start = Date.now();
  /** When the first item was done: the rate counts from there (the time before is start-up). */
  private firstAt = 0;
  /** The items done with the first, within BURST_MS of it (items finishing together): not counted in the rate. */
  private firstDone = 0;
  private lastDraw = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly enabled: boolean;
  private readonly label: string;
  private readonly logInterval: number;
  private readonly unit: string;
  private readonly estimated: boolean;
  /** The final line was drawn. */
  private ended = false;
  /** finish() said the job ended where it should: a bar of unknown total is drawn full. */
  private complete = false;

  constructor(private total: number, options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.enabled = options.enabled ?? true;
    this.label = options.label ?? '';
    this.logInterval = (options.logInterval ?? 5) * 1000;
    this.unit = options.unit ? ` ${options.unit}` : '';
    this.estimated = options.estimated ?? false;
  }

  tick(ok = true, note = ''): void {
    const t = Date.now();
    if (this.done === 0) this.firstAt = t;
    this.done++;
    if (t - this.firstAt <= BURST_MS) this.firstDone = this.done;
    if (!ok) this.failed++;
    if (this.estimated && this.done > this.total) this.total = this.done;
    this.draw(note, !this.estimated && this.done === this.total);
  }

  /**
   * Ends the bar where the count fell short of the total (a video with fewer frames than its
   * container said): the last line is drawn and the terminal line ended, so what follows starts
   * on its own line. `complete`: the job did end there (the container's count was an estimate),
   * so the total becomes the count (56/56, not 56/57); otherwise it stays (cut short: 56/158).
   */
  finish(note = '', complete = false): void {
    if (this.ended) return;
    if (complete) this.total = this.done;
    this.complete = complete;
    this.draw(note, true);
  }

  private draw(note: string, final: boolean): void {
    if (final) this.ended = true;
    if (!this.enabled) return;
    const now = Date.now();
    if (!final && now - this.lastDraw < (this.tty ? 100 : this.logInterval)) return;
    this.lastDraw = now;
    const elapsed = (now - this.start) / 1000;
    // The rate counts from the first item done: the time before it is start-up (loading the model,
    // probing the video), and it made a video's first line read "0.5/s ETA 32m59s" on a 40/s run.
    // A rate over less than a second says nothing (one fast failure first would read "200 photos/s"):
    // until then, and until two items are done, the rate and the ETA are shown as unknown.
    const span = (now - this.firstAt) / 1000;
    const known = final ? this.done > 0 : this.done > this.firstDone && span >= 1;
    // A total that is not known (a stream without a frame count): the count alone, no bar or ETA.
    const totalKnown = Number.isFinite(this.total) && this.total > 0;
    // The items after the first (burst) over the time since it; over less than a second (a final
    // line soon after the first item), all of them over the whole time.
    const rate = !known ? NaN : span >= 1 && this.done > this.firstDone ? (this.done - this.firstDone) / span : this.done / Math.max(elapsed, 1e-3);
    const eta = known && totalKnown ? Math.max(0, this.total - this.done) / rate : NaN;
    // (Of an unknown total, full only for a job that finished: a failed one — a video without a
    // frame — showed a full bar at 0.)
    const frac = totalKnown ? Math.min(1, this.done / this.total) : final && this.complete ? 1 : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const text = `${this.label ? this.label + ' ' : ''}${bar} ${this.done}${totalKnown ? `/${this.total}` : ''}` +
      `${this.failed ? ` (${this.failed} failed)` : ''} ${known ? rate.toFixed(1) : '–'}${this.unit}/s ETA ${formatSeconds(eta)}` +
      (note ? ` ${note}` : '');
    if (this.tty) this.stream.write(`\r\x1b[K${text}${final ? '\n' : ''}`);
    else this.stream.write(text + '\n');
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** `n noun` or `n nouns`: "1 face", "3 faces", "0 files". */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * Labels the project's photo sets with the two teachers (FaceMesh, 3DDFA_V2) into
 * <cache>/labels/<set>/ (cache: $PRNET_CACHE or ~/.cache/prnet-ts). Resumable: a rerun skips
 * photos already labelled or dropped.
 *
 *   prnet data label [--set eval|utkface|misc|webfaces|all] [--limit N] [--workers K]
 *                    [--every N] [--facemesh onnx|human] [--min-eye PX] [--out DIR]
 *                    [--shared DIR] [--summary]
 *   (or, in a checkout: npx tsx scripts/label.ts with the same options)
 *
 * Sets (read from the shared folder, $PRNET_SHARED or ../shared): eval = eval/aflw2000-3d and
 * eval/portraits images; utkface = every file of faces/utkface sorted by name (--every N: every
 * N-th); misc = faces/misc; webfaces = faces/webfaces, every face whose eyes are ≥ --min-eye px
 * (default 30) apart, one record each. `all` (default) runs eval, utkface, misc, webfaces in that
 * order. --facemesh: the FaceMesh teacher, 'onnx' (default; onnxruntime) or 'human' (tfjs-wasm,
 * 1.5× the CPU per photo). --workers K runs K processes, each taking every K-th photo into its own part
 * (default: the machine's cores, at most 8). --summary prints the kept/dropped counts and exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, intOption, parseOptions } from '../../src/cli/options.js';
import { ModelError } from '../../src/errors.js';
import { labelPhotos, loadTeachers, type LabelProgress } from './label.js';
import { FACE_BY_FACE_SETS, labelsDir, readLabels } from './labels-file.js';
import { sharedDir } from './tddfa.js';

const IMAGE_EXT = /\.(jpe?g|png|webp|bmp|tiff?|ppm)$/i;
export const SETS = ['eval', 'utkface', 'misc', 'webfaces'] as const;
export type SetName = (typeof SETS)[number];

interface Args {
  sets: SetName[];
  limit?: number;
  workers: number;
  every: number;
  out?: string;
  shared: string;
  part?: number;
  summary: boolean;
  facemesh: 'onnx' | 'human';
  minEye: number;
}

/** A bad command line (the CLI maps it to its usage exit code). */
export class LabelArgsError extends Error {}

export const USAGE = 'usage: prnet data label [--set eval|utkface|misc|webfaces|all] [--limit N] [--workers K] [--every N] [--facemesh onnx|human] [--min-eye PX] [--out DIR] [--shared DIR] [--summary]';

/**
 * The command line, read by the CLI's own parser (parseOptions: `--opt=value`, a value option
 * given twice refused, "did you mean", whole numbers in decimal digits); it had a parser of its own
 * where the last of two values won and `--limit 1e3` was taken.
 */
function parseArgs(argv: string[]): Args {
  const { values: o } = parseOptions(argv, {
    set: { type: 'string' }, limit: { type: 'string' }, workers: { type: 'string' }, every: { type: 'string' },
    out: { type: 'string' }, shared: { type: 'string' }, part: { type: 'string' }, summary: { type: 'boolean' },
    facemesh: { type: 'string' }, 'min-eye': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  }, false);
  if (o.help) throw new LabelArgsError(USAGE);
  const a: Args = { sets: [...SETS], workers: Math.min(8, availableParallelism()), every: 1, shared: o.shared ?? sharedDir(), summary: o.summary === true, facemesh: 'onnx', minEye: 30 };
  if (o.set !== undefined && o.set !== 'all') {
    const list = o.set.split(',');
    for (const x of list) if (!(SETS as readonly string[]).includes(x)) throw new LabelArgsError(`--set: unknown set ${x} (${SETS.join(', ')}, all)`);
    a.sets = list as SetName[];
  }
  a.limit = intOption(o.limit, 'limit', 0);
  if (o.workers !== undefined) a.workers = Math.max(1, intOption(o.workers, 'workers', 0)!);
  if (o.every !== undefined) a.every = Math.max(1, intOption(o.every, 'every', 0)!);
  a.out = o.out;
  a.part = intOption(o.part, 'part', 0);
  if (o.facemesh !== undefined) {
    if (o.facemesh !== 'onnx' && o.facemesh !== 'human') throw new LabelArgsError(`--facemesh: onnx or human, not ${o.facemesh}`);
    a.facemesh = o.facemesh;
  }
  a.minEye = intOption(o['min-eye'], 'min-eye', 0) ?? a.minEye;
  return a;
}

function images(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    // The shared data's folders: a wrong --shared (or PRNET_SHARED) is a bad argument, said plainly.
    const code = (e as NodeJS.ErrnoException).code;
    throw new LabelArgsError(`${dir}: ${code === 'ENOENT' ? 'no such folder' : `cannot read the folder (${code ?? (e as Error).message})`}: --shared (or PRNET_SHARED) must name the shared data folder, which holds eval/ and faces/ (the photos) and reference/ (the teachers; for photos of your own, training/README.md §7)`);
  }
  return names.filter((n) => IMAGE_EXT.test(n)).sort().map((n) => join(dir, n));
}

/** The photo list of a set, in labelling order. */
export function setFiles(set: SetName, shared: string, every = 1): string[] {
  if (set === 'eval') return [...images(join(shared, 'eval', 'aflw2000-3d')), ...images(join(shared, 'eval', 'portraits'))];
  if (set === 'utkface') return images(join(shared, 'faces', 'utkface')).filter((_, i) => i % every === 0);
  if (set === 'webfaces') return images(join(shared, 'faces', 'webfaces'));
  return images(join(shared, 'faces', 'misc'));
}

function outDir(a: Args, set: SetName): string {
  return a.out ? join(a.out, set) : labelsDir(set);
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/** Merges the progress of several workers. */
function merge(ps: LabelProgress[]): LabelProgress {
  const m: LabelProgress = { done: 0, total: 0, skipped: 0, kept: 0, dropped: 0, reasons: {}, msFaceMesh: 0, msTddfa: 0, msTotal: 0, elapsedS: 0 };
  for (const p of ps) {
    m.done += p.done; m.total += p.total; m.skipped += p.skipped; m.kept += p.kept; m.dropped += p.dropped;
    for (const [r, n] of Object.entries(p.reasons)) m.reasons[r] = (m.reasons[r] ?? 0) + n;
    m.msFaceMesh += p.msFaceMesh * p.done; m.msTddfa += p.msTddfa * p.kept; m.msTotal += p.msTotal * p.done;
    m.elapsedS = Math.max(m.elapsedS, p.elapsedS);
  }
  m.msFaceMesh /= Math.max(1, m.done); m.msTddfa /= Math.max(1, m.kept); m.msTotal /= Math.max(1, m.done);
  return m;
}

class Bar {
  private lastPrint = 0;
  private readonly tty = process.stderr.isTTY;
  constructor(private readonly label: string) {}
  update(p: LabelProgress, force = false): void {
    const now = Date.now();
    if (!force && now - this.lastPrint < (this.tty ? 250 : 15000)) return;
    this.lastPrint = now;
    const rate = p.elapsedS > 0 ? p.done / p.elapsedS : 0;
    const eta = rate > 0 ? (p.total - p.done) / rate : Infinity;
    const w = 24;
    const fill = p.total ? Math.round((w * p.done) / p.total) : w;
    const line = `[${this.label}] [${'#'.repeat(fill)}${'.'.repeat(w - fill)}] ${p.done}/${p.total} (+${p.skipped} done before)`
      + ` kept ${p.kept} dropped ${p.dropped} | ${rate.toFixed(1)}/s ETA ${fmtTime(eta)}`
      + ` | ms: facemesh ${p.msFaceMesh.toFixed(0)} 3ddfa ${p.msTddfa.toFixed(1)} total ${p.msTotal.toFixed(0)}`;
    process.stderr.write(this.tty ? `\r${line}\x1b[K` : `${new Date().toISOString()} ${line}\n`);
  }
  end(p: LabelProgress): void {
    this.update(p, true);
    if (this.tty) process.stderr.write('\n');
  }
}

function printSummary(set: string, dir: string): void {
  const s = readLabels(dir);
  const reasons: Record<string, number> = {};
  for (const e of s.entries) if (!e.ok) reasons[e.reason ?? '?'] = (reasons[e.reason ?? '?'] ?? 0) + 1;
  const dropped = s.entries.length - s.records.length;
  const photos = new Set(s.entries.map((e) => e.file)).size;
  process.stderr.write(`${set}: ${photos} photos in ${dir}: kept ${s.records.length} faces, dropped ${dropped}`
    + (dropped ? ` (${Object.entries(reasons).map(([r, n]) => `${r} ${n}`).join(', ')})` : '') + '\n');
}

async function runWorker(a: Args, set: SetName, part: number, stride: number, onProgress: (p: LabelProgress) => void): Promise<LabelProgress> {
  return labelPhotos({
    files: setFiles(set, a.shared, a.every),
    out: outDir(a, set),
    root: a.shared,
    shared: a.shared,
    part,
    stride,
    offset: part,
    // Of the first `limit` photos, worker `part` takes those with index ≡ part (mod stride).
    limit: a.limit === undefined ? undefined : Math.max(0, Math.ceil((a.limit - part) / stride)),
    facemesh: a.facemesh,
    allFaces: FACE_BY_FACE_SETS.includes(set),
    minEyeDistance: a.minEye,
    onProgress,
    onUnreadable: (_file, cause) => process.stderr.write(`prnet: warning: ${cause} (recorded as dropped: decode-error)\n`),
  });
}

/** Drop reasons that are failures (exit 1), not the rules' work. */
const FAILURE_REASONS = ['decode-error', 'facemesh-error', 'tddfa-error'];

/**
 * Runs the labelling command with CLI-style arguments; resolves to the number of photos that could
 * not be read (named on stderr) or that a teacher failed on. Faces dropped by the rules (no face, teachers that disagree, too
 * small) are the labeller's work, not failures: they made `prnet data label`, and so
 * training/make_pack.sh under `set -e`, stop with exit 1 on every fresh run.
 */
export async function runLabelCommand(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  let unreadable = 0;
  if (a.summary) {
    for (const set of a.sets) printSummary(set, outDir(a, set));
    return 0;
  }
  // A forked worker: label its share, report progress to the parent.
  if (a.part !== undefined && process.send) {
    for (const set of a.sets) {
      let last = 0;
      const p = await runWorker(a, set, a.part, a.workers, (q) => {
        if (Date.now() - last > 1000) { last = Date.now(); process.send!({ set, p: q }); }
      });
      process.send({ set, p, end: true });
    }
    return 0;
  }
  // Every set's folders are read once here, so a wrong --shared is one usage line, not each worker's.
  const empty = a.sets.filter((set) => setFiles(set, a.shared, a.every).length === 0);
  // The teachers too: a missing model file is one line and exit 3 before any photo, not every
  // photo recorded as dropped (which later runs would skip).
  await loadTeachers({ facemesh: a.facemesh, shared: a.shared });
  for (const set of empty) process.stderr.write(`prnet: warning: no photos in the ${set} set's folder under ${a.shared}\n`);
  process.stderr.write(`labelling ${a.sets.join(', ')} with ${a.workers} worker(s), FaceMesh on ${a.facemesh === 'onnx' ? 'onnxruntime' : 'human (tfjs-wasm)'}; shared ${a.shared}\n`);
  // Ctrl-C: what this run did is said (the labels written so far are kept; a rerun goes on from them).
  let current: { set: SetName; p?: LabelProgress } | undefined;
  const children = new Set<ChildProcess>();
  const interrupted = (): void => {
    for (const child of children) child.kill('SIGINT');
    if (current?.p) process.stderr.write(`\n${current.set}: interrupted; ${current.p.done} of ${current.p.total} photos were done at the last report (kept ${current.p.kept}, dropped ${current.p.dropped}); the labels so far are kept: run the same command again to go on\n`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  try {
    for (const set of a.sets) {
      const bar = new Bar(set);
      current = { set };
      const show = (p: LabelProgress): void => {
        current!.p = p;
        bar.update(p);
      };
      let final: LabelProgress;
      if (a.workers === 1) {
        final = await runWorker(a, set, 0, 1, show);
      } else {
        const latest: LabelProgress[] = [];
        const self = fileURLToPath(import.meta.url);
        const setArgs = ['--set', set, '--workers', String(a.workers), '--every', String(a.every), '--shared', a.shared,
          '--facemesh', a.facemesh, '--min-eye', String(a.minEye),
          ...(a.limit !== undefined ? ['--limit', String(a.limit)] : []), ...(a.out ? ['--out', a.out] : [])];
        await Promise.all(Array.from({ length: a.workers }, (_, k) => new Promise<void>((res, rej) => {
          const execArgv = self.endsWith('.ts') ? ['--import', 'tsx'] : [];
          const child = fork(self, [...setArgs, '--part', String(k)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
          children.add(child);
          // Shown once every worker has said its count (before, the first lines counted worker 0's share only).
          child.on('message', (m: { p: LabelProgress }) => {
            latest[k] = m.p;
            if (latest.filter(Boolean).length === a.workers) show(merge(latest));
          });
          child.on('exit', (code) => {
            children.delete(child);
            if (code === 0) res();
            else rej(code === EXIT.model ? new ModelError(`labelling worker ${k} could not load a teacher model (its line above names the file)`) : new Error(`worker ${k} exited with code ${code}`));
          });
          child.on('error', rej);
        })));
        final = merge(latest.filter(Boolean));
      }
      bar.end(final);
      // Failures, not the rules' drops: a photo that cannot be read, a teacher that threw on it.
      unreadable += FAILURE_REASONS.reduce((n, r) => n + (final.reasons[r] ?? 0), 0);
      printSummary(set, outDir(a, set));
    }
  } finally {
    // A worker that failed stops the others (they held the process for their whole share).
    for (const child of children) child.kill('SIGTERM');
    process.removeListener('SIGINT', interrupted);
  }
  return unreadable;
}

// A forked worker runs this file directly.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runLabelCommand(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`label: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof ModelError ? EXIT.model : 1);
  });
}

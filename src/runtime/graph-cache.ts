/**
 * The graph cache (Node): a model file's int8 network graph, kept on disk after its first build so
 * that later sessions open it instead of building it again (the int8 build was the largest part of
 * `createPrnet()`: docs/model-format.md, "The graph cache").
 *
 * Entries live in the `prnet-graphs` folder of the cache folder, which holds nothing else (its marker
 * file says this cache made it): two files
 * named after the model file's real path and the graph builder's fingerprint, `<key>.int8.onnx`
 * (the graph) and `<key>.json` (its manifest: the model file's path and identity — device, inode,
 * size, change and modification times in nanoseconds, as git's index tells a changed file —, the
 * graph file's size and SHA-256, the package version, the builder's fingerprint — a hash of the
 * source of the modules that build the graph, so that a checkout whose builder changed never opens
 * an older graph — and the model's metadata). An entry is used only when all of them match: a
 * model written again or replaced (its change time moves with any write), a graph of another
 * version or builder, a damaged graph is not used, and the graph is built (and its entry written).
 * Only int8 graphs are kept: an fp32 graph is quick to build and four times the size.
 *
 * Where: `$PRNET_GRAPH_CACHE` (`off` turns the cache off), else `node_modules/.cache/prnet-ts` of the
 * project this package is installed in (a checkout's own node_modules). A folder that cannot be
 * made or written, or (POSIX) a `prnet-graphs` folder or entry another user owns or others may write,
 * means no cache, never an error.
 */
import { createHash } from 'node:crypto';
import { constants, statSync } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, realpath, rm, stat, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResfcnConfig } from '../model/resfcn.js';
import { configFromMetadata } from '../model/weights.js';
import { packageVersion } from '../util/version.js';
import { writeFileAtomic } from '../util/write-atomic.js';
import { networkGraphOptions } from './ort.js';

/** The environment variable naming the cache folder (`off`, `0` or `false`: no cache). */
export const GRAPH_CACHE_ENV = 'PRNET_GRAPH_CACHE';
export const GRAPH_CACHE_FORMAT = 'prnet-ts/graph-cache';
export const GRAPH_CACHE_VERSION = 1;
/** The cache folder's sub-folder holding the entries (and nothing else). */
export const GRAPH_CACHE_ENTRIES = 'prnet-graphs';
/**
 * The file this cache writes in its entries folder when it makes it: a folder of that name without
 * it (someone else's) is neither used nor swept.
 */
export const GRAPH_CACHE_MARKER = '.prnet-graph-cache';
/**
 * The most entries kept: a write removes the least recently used beyond it (an entry's manifest is
 * touched at each use). 8 of the default model's size are ~110 MB.
 */
export const GRAPH_CACHE_MAX_ENTRIES = 8;
/**
 * Entries of a model file gone or changed, temporary files and graphs without a manifest (a
 * process killed while writing) are removed by a write once unused for this long.
 */
const STALE_MS = 3_600_000;
/**
 * A model file changed less than this before its identity was taken is not cached at that load: a
 * write of the same size in the same tick of the file system's clock would leave its identity as
 * it was (git's "racily clean" files). For file systems whose times tick in milliseconds (ext4,
 * xfs, btrfs, tmpfs, APFS, NTFS); a change time on a whole second (ext3, HFS+, FAT: a tick of 1–2 s)
 * asks for RACY_COARSE_MS.
 */
export const RACY_MS = 100;
export const RACY_COARSE_MS = 2100;
/** The largest manifest read (they are a few kB). */
const MAX_MANIFEST_BYTES = 1 << 20;
/** How long a session waits for its entry to be written before it goes on (a slow or hung file system). */
const WRITE_WAIT_MS = 2000;

/** An entry's manifest (`<key>.json`). */
export interface GraphCacheManifest {
  format: typeof GRAPH_CACHE_FORMAT;
  version: typeof GRAPH_CACHE_VERSION;
  /** The package version whose graph builder made the graph. */
  prnet: string;
  /** The graph builder's fingerprint (builderFingerprint()). */
  builder: string;
  /** The model file it was built from: its real path and identity (taken before it was read). */
  model: { path: string } & FileIdentity;
  precision: 'int8';
  /** The graph file, beside the manifest. */
  graph: { file: string; bytes: number; sha256: string };
  /** The model file's metadata (the session's `metadata`, its config keys included). */
  metadata: Record<string, string>;
}

/** A file's identity: device, inode, size, change and modification times (ns), as decimal strings. */
export interface FileIdentity {
  dev: string;
  ino: string;
  bytes: string;
  ctimeNs: string;
  mtimeNs: string;
}

const IDENTITY_KEYS = ['dev', 'ino', 'bytes', 'ctimeNs', 'mtimeNs'] as const;
const sameIdentity = (a: FileIdentity, b: FileIdentity) => IDENTITY_KEYS.every((k) => a[k] === b[k]);

/** A cached graph that matches its model file. */
export interface CachedGraph {
  graph: Uint8Array;
  config: ResfcnConfig;
  metadata: Record<string, string>;
  precision: 'int8';
}

/**
 * The cache folder: `$PRNET_GRAPH_CACHE` when set (`~` is the home folder; a relative path is taken
 * from the working directory; `off`, `0` or `false`: null; empty: as if not set), else
 * `node_modules/.cache/prnet-ts` of the outermost node_modules above this package (installed), or
 * of its own (a checkout); null when that node_modules does not exist, or when this module's URL
 * is not its file's (bundled). Entries go in its `prnet-graphs` folder.
 */
export function graphCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const set = env[GRAPH_CACHE_ENV]?.trim();
  if (set) {
    if (/^(off|0|false)$/i.test(set)) return null;
    let dir: string;
    try {
      dir = resolve(set === '~' ? homedir() : /^~[\\/]/.test(set) ? join(homedir(), set.slice(2)) : set);
    } catch {
      return null; // no home folder
    }
    // (Linux's kernel file systems hold no cache: Node's recursive mkdir under /proc never returned, spinning a core)
    return /^\/(proc|sys)(\/|$)/.test(dir) ? null : dir;
  }
  try {
    // (bundled into one CommonJS file, import.meta.url is not this module's: no cache)
    const root = fileURLToPath(new URL('../../', import.meta.url)).replace(/[\\/]+$/, '');
    const parts = root.split(sep);
    const at = parts.indexOf('node_modules');
    const modules = at >= 0 ? parts.slice(0, at + 1).join(sep) : join(root, 'node_modules');
    if (!statSync(modules).isDirectory()) return null;
    return join(modules, '.cache', 'prnet-ts');
  } catch {
    return null;
  }
}

/**
 * The modules whose code decides the graph's bytes (relative to this one): a change to any of them
 * changes the fingerprint, and entries of another fingerprint are not used.
 */
const BUILDER_MODULES = ['../model/resfcn', '../model/mobile', '../model/onnx', '../model/tensor-map', '../model/weights', '../util/safetensors', './ort', './graph-cache'];

let fingerprint: Promise<string | null> | undefined;

/**
 * A SHA-256 of the source of the modules that build the graph (BUILDER_MODULES, as this build
 * runs them: the TypeScript of a checkout, the JavaScript of the package), with the package
 * version; null when one cannot be read (then nothing is cached). Computed once per process.
 */
export function builderFingerprint(): Promise<string | null> {
  fingerprint ??= (async () => {
    try {
      const ext = /\.([cm]?[jt]s)$/.exec(fileURLToPath(import.meta.url))?.[1];
      if (!ext || packageVersion() === 'unknown') return null;
      const hash = createHash('sha256').update(packageVersion());
      for (const m of BUILDER_MODULES) hash.update('\0').update(await readFile(new URL(`${m}.${ext}`, import.meta.url)));
      return hash.digest('hex');
    } catch {
      return null;
    }
  })();
  return fingerprint;
}

/** The entry's key: a model file's real path with the builder's fingerprint. */
function entryKey(real: string, builder: string): string {
  return createHash('sha256').update(real).update('\0').update(builder).digest('hex').slice(0, 24);
}

/**
 * The folder of the entries, checked: made by this cache (its marker file in it) and, on POSIX,
 * ours and not writable by others; null when it is not there or not usable.
 */
async function entriesDir(root: string): Promise<string | null> {
  const dir = join(root, GRAPH_CACHE_ENTRIES);
  const [st, marker] = await Promise.all([lstat(dir).catch(() => null), lstat(join(dir, GRAPH_CACHE_MARKER)).catch(() => null)]);
  return st && st.isDirectory() && owned(st) && marker?.isFile() ? dir : null;
}

/** Makes the entries folder (private, with its marker) unless it is there; then entriesDir. */
async function makeEntriesDir(root: string): Promise<string | null> {
  const dir = join(root, GRAPH_CACHE_ENTRIES);
  await mkdir(root, { recursive: true });
  const made = await mkdir(dir, { mode: 0o700 }).then(() => true, (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
    return false;
  });
  if (made) await writeFile(join(dir, GRAPH_CACHE_MARKER), 'prnet-ts graph cache: entries of network graphs (docs/model-format.md, "The graph cache")\n', { flag: 'wx', mode: 0o600 });
  return entriesDir(root);
}

/** POSIX: owned by this process's user and not writable by group or others (elsewhere: true). */
function owned(st: { uid: number; mode: number }): boolean {
  const uid = process.getuid?.();
  return uid === undefined || (st.uid === uid && (st.mode & 0o022) === 0);
}

/**
 * Opens a regular file for reading without blocking on anything else at the name (a FIFO);
 * null when it is not a regular file, not owned as `owned` asks, or larger than `maxBytes`.
 */
async function openRegular(path: string, maxBytes: number): Promise<{ fh: FileHandle; size: number } | null> {
  const fh = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0)).catch(() => null);
  if (!fh) return null;
  const st = await fh.stat().catch(() => null);
  if (!st || !st.isFile() || !owned(st) || st.size > maxBytes) {
    await fh.close();
    return null;
  }
  return { fh, size: st.size };
}

/**
 * The model file's cached int8 graph when the cache holds one that matches the file as it is and
 * int8 is what is asked for (or, `precision` undefined, the model's default), else null. Never
 * throws (missing, unreadable, malformed, stale entries, a precision that is not one: null, and
 * the caller builds, which reports what is wrong with the model or the options).
 */
export async function readCachedGraph(modelPath: string, precision: unknown, root: string): Promise<CachedGraph | null> {
  try {
    if (precision !== undefined && precision !== 'int8') return null;
    const [dir, builder, real] = await Promise.all([entriesDir(root), builderFingerprint(), realpath(modelPath)]);
    if (!dir || !builder) return null;
    const key = entryKey(real, builder);
    const manifest = await readManifestJson(join(dir, `${key}.json`));
    if (!isManifest(manifest) || manifest.prnet !== packageVersion() || manifest.builder !== builder || manifest.model.path !== real || manifest.graph.file !== `${key}.int8.onnx`) return null;
    // int8 asked for, or the model's default (the metadata is the file's when its identity matches, below).
    if (networkGraphOptions(manifest.metadata, precision, modelPath).precision !== 'int8') return null;
    const [model, graph] = await Promise.all([
      // Opened, not only stat'ed: a model this process may not read is not served from the cache.
      open(real, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)).then(async (fh) => {
        try {
          return identityOf(await fh.stat({ bigint: true }));
        } finally {
          await fh.close();
        }
      }),
      openRegular(join(dir, manifest.graph.file), manifest.graph.bytes).then(async (f) => {
        if (!f) return null;
        const bytes = await f.fh.readFile().finally(() => f.fh.close());
        return bytes.byteLength === manifest.graph.bytes && sha256(bytes) === manifest.graph.sha256 ? bytes : null;
      }),
    ]);
    if (!model || !sameIdentity(model, manifest.model) || !graph) return null;
    const metadata = { ...manifest.metadata };
    const config = configFromMetadata(metadata, modelPath);
    // Used now: the last an eviction removes (a failure to touch it changes nothing else).
    const now = new Date();
    await utimes(join(dir, `${key}.json`), now, now).catch(() => undefined);
    return { graph: new Uint8Array(graph.buffer, graph.byteOffset, graph.byteLength), config, metadata, precision: 'int8' };
  } catch {
    return null;
  }
}

/** A manifest's JSON (a regular file of ours within MAX_MANIFEST_BYTES), else null; a SyntaxError when it is not JSON. */
async function readManifestJson(path: string): Promise<unknown> {
  const file = await openRegular(path, MAX_MANIFEST_BYTES);
  if (!file) return null;
  return JSON.parse(await file.fh.readFile('utf8').finally(() => file.fh.close())) as unknown;
}

function identityOf(st: { isFile(): boolean; dev: bigint; ino: bigint; size: bigint; ctimeNs: bigint; mtimeNs: bigint }): FileIdentity | null {
  if (!st.isFile()) return null;
  return { dev: String(st.dev), ino: String(st.ino), bytes: String(st.size), ctimeNs: String(st.ctimeNs), mtimeNs: String(st.mtimeNs) };
}

/**
 * A model file's identity to cache its graph under, taken before the file is read for the build;
 * null (do not cache) when it is not a regular file or changed less than RACY_MS ago.
 */
export async function modelIdentity(path: string): Promise<FileIdentity | null> {
  try {
    const st = await stat(path, { bigint: true });
    const id = identityOf(st);
    const racy = BigInt(st.ctimeNs % 1_000_000_000n === 0n ? RACY_COARSE_MS : RACY_MS) * 1_000_000n;
    return id && BigInt(Date.now()) * 1_000_000n - st.ctimeNs >= racy ? id : null;
  } catch {
    return null;
  }
}

/**
 * Writes the entry for a model file and its int8 graph: the graph, then the manifest, each through
 * a temporary name (an earlier manifest is removed first, so that none names a graph it does not
 * match). `model` is the file's identity taken before it was read for the build (modelIdentity).
 * Resolves once the entry is written (or could not be: false) and what can no longer be used is
 * removed (sweep). Never rejects; a session waits for it at most WRITE_WAIT_MS (waitForWrite).
 */
export async function writeCachedGraph(root: string, modelPath: string, model: FileIdentity, graph: Uint8Array, metadata: Record<string, string>): Promise<boolean> {
  try {
    const builder = await builderFingerprint();
    if (!builder) return false;
    const real = await realpath(modelPath);
    const key = entryKey(real, builder);
    const manifest: GraphCacheManifest = {
      format: GRAPH_CACHE_FORMAT,
      version: GRAPH_CACHE_VERSION,
      prnet: packageVersion(),
      builder,
      model: { path: real, ...model },
      precision: 'int8',
      graph: { file: `${key}.int8.onnx`, bytes: graph.byteLength, sha256: sha256(graph) },
      metadata: { ...metadata },
    };
    // The folder holds entries only; made private (a cache others can write could be given a graph).
    const dir = await makeEntriesDir(root);
    if (!dir) return false;
    const manifestPath = join(dir, `${key}.json`);
    await rm(manifestPath, { force: true });
    await writeFileAtomic(join(dir, manifest.graph.file), graph, 0o600);
    await writeFileAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`, 0o600);
    await sweep(dir, key).catch(() => undefined);
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits for an entry being written, at most WRITE_WAIT_MS (a hung file system does not hold the
 * session); true when it was written in that time.
 */
export async function waitForWrite(writing: Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), WRITE_WAIT_MS);
    timer.unref();
  });
  try {
    return await Promise.race([writing, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Removes a model file's entry (a graph onnxruntime would not open). Never rejects. */
export async function removeCachedGraph(root: string, modelPath: string): Promise<void> {
  try {
    const [builder, real] = await Promise.all([builderFingerprint(), realpath(modelPath)]);
    const dir = await entriesDir(root);
    if (builder && dir) await removeEntry(dir, entryKey(real, builder));
  } catch {
    // nothing to remove
  }
}

function isManifest(m: unknown): m is GraphCacheManifest {
  const o = m as Partial<GraphCacheManifest> | null;
  const model = o?.model as Record<string, unknown> | undefined;
  const graph = o?.graph as Record<string, unknown> | undefined;
  return !!o && typeof o === 'object' && o.format === GRAPH_CACHE_FORMAT && o.version === GRAPH_CACHE_VERSION && typeof o.prnet === 'string'
    && typeof o.builder === 'string' && o.precision === 'int8'
    && !!model && typeof model === 'object' && typeof model.path === 'string' && IDENTITY_KEYS.every((k) => typeof model[k] === 'string')
    && !!graph && typeof graph === 'object' && typeof graph.file === 'string' && Number.isSafeInteger(graph.bytes) && typeof graph.sha256 === 'string' && /^[0-9a-f]{64}$/.test(graph.sha256)
    && !!o.metadata && typeof o.metadata === 'object' && !Array.isArray(o.metadata) && Object.values(o.metadata).every((v) => typeof v === 'string');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}


const MANIFEST_NAME = /^[0-9a-f]{24}\.json$/;
const GRAPH_NAME = /^[0-9a-f]{24}\.int8\.onnx$/;
const TEMP_NAME = /^[0-9a-f]{24}\.(?:json|int8\.onnx)\.tmp-\d+-[0-9a-f]{12}$/;

/**
 * After a write (`keep`: its key), in the entries folder: removes the least recently used entries
 * beyond GRAPH_CACHE_MAX_ENTRIES, then, once unused for STALE_MS, the entries that can no longer be
 * used here (their model file gone or changed) and temporary files and graphs without a manifest
 * left by a killed process. Entries of another version, format version or builder are left to the
 * count (projects on two versions may share a cache); a file whose name looks like a manifest but
 * is not one of this cache's is never removed. Another process reading an entry removed here only
 * misses it and builds.
 */
async function sweep(dir: string, keep: string): Promise<void> {
  const now = Date.now();
  const names = await readdir(dir);
  const manifests = new Set(names.filter((n) => MANIFEST_NAME.test(n)).map((n) => n.slice(0, 24)));
  const entries: { key: string; used: number; usable: boolean }[] = [];
  for (const key of manifests) {
    if (key === keep) continue;
    const path = join(dir, `${key}.json`);
    const st = await lstat(path).catch(() => null);
    if (!st) continue;
    let usable: boolean;
    try {
      const m = await readManifestJson(path);
      if (m === null) continue; // not a file of ours: left as it is
      if ((m as { format?: unknown } | null)?.format !== GRAPH_CACHE_FORMAT) continue; // not an entry of this cache: never removed
      if (!isManifest(m) || m.prnet !== packageVersion()) usable = true; // another version's: left to the count
      else {
        const model = await stat(m.model.path, { bigint: true }).then(identityOf, () => null);
        usable = !!model && sameIdentity(model, m.model);
      }
    } catch {
      continue; // unreadable or not JSON: not known to be an entry, left as it is
    }
    entries.push({ key, used: st.mtimeMs, usable });
  }
  entries.sort((a, b) => b.used - a.used);
  for (const [i, e] of entries.entries()) {
    if (i >= GRAPH_CACHE_MAX_ENTRIES - 1 || (!e.usable && now - e.used > STALE_MS)) await removeEntry(dir, e.key);
  }
  for (const name of names) {
    const orphan = GRAPH_NAME.test(name) && !manifests.has(name.slice(0, 24));
    if (!orphan && !TEMP_NAME.test(name)) continue;
    const p = join(dir, name);
    const st = await lstat(p).catch(() => null);
    if (st && now - st.mtimeMs > STALE_MS) await rm(p, { force: true }).catch(() => undefined);
  }
}

async function removeEntry(dir: string, key: string): Promise<void> {
  // the manifest first: no moment leaves a manifest naming a removed graph
  await rm(join(dir, `${key}.json`), { force: true }).catch(() => undefined);
  await rm(join(dir, `${key}.int8.onnx`), { force: true }).catch(() => undefined);
}

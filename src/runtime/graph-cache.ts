/**
 * The graph cache (Node): a model file's int8 network graph, kept on disk after its first build so
 * that later sessions open it instead of building it again (the int8 build was the largest part of
 * `createPrnet()`: docs/model-format.md, "The graph cache").
 *
 * An entry is two files named after the model file's real path: `<key>.int8.onnx`, the graph, and
 * `<key>.json`, its manifest (the model file's path and identity — device, inode, size, change and
 * modification times in nanoseconds, as git's index tells a changed file —, the graph file's size
 * and SHA-256, the package version that built it and the model's metadata). An entry is used only
 * when all of them match the files as they are: a model written again or replaced (its change time
 * moves with any write), a graph of another version or a damaged graph is not used, and the graph is
 * built (and the entry written again). Hashing the model file instead would cost ~30 ms a load.
 * Only int8 graphs are kept: an fp32 graph is quick to build and four times the size. A write
 * removes the entries that can no longer be used and the least recently used beyond
 * GRAPH_CACHE_MAX_ENTRIES.
 *
 * Where: `$PRNET_CACHE_DIR` (`off` turns the cache off), else `node_modules/.cache/prnet-ts` of the
 * project this package is installed in (a checkout's own node_modules). A folder that cannot be
 * written means no cache, never an error.
 */
import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResfcnConfig } from '../model/resfcn.js';
import { configFromMetadata } from '../model/weights.js';
import { packageVersion } from '../util/version.js';
import { networkGraphOptions } from './ort.js';
import { checkPrecision } from './session.js';

/** The environment variable naming the cache folder (`off`, `0` or `false`: no cache). */
export const GRAPH_CACHE_ENV = 'PRNET_CACHE_DIR';
export const GRAPH_CACHE_FORMAT = 'prnet-ts/graph-cache';
export const GRAPH_CACHE_VERSION = 1;
/**
 * The most entries kept: a write removes the least recently used beyond it (an entry's manifest is
 * touched at each use). 8 of the default model's size are ~110 MB.
 */
export const GRAPH_CACHE_MAX_ENTRIES = 8;
/** Temporary files and graphs without a manifest older than this (a process killed while writing) are removed at a write. */
const STALE_TEMP_MS = 3_600_000;

/** An entry's manifest (`<key>.json`). */
export interface GraphCacheManifest {
  format: typeof GRAPH_CACHE_FORMAT;
  version: typeof GRAPH_CACHE_VERSION;
  /** The package version whose graph builder made the graph. */
  prnet: string;
  /** The model file it was built from: its real path and identity (stat, taken before it was read). */
  model: { path: string } & FileIdentity;
  precision: 'int8';
  /** The graph file, beside the manifest. */
  graph: { file: string; bytes: number; sha256: string };
  /** The model file's metadata (the session's `metadata`, its config keys included). */
  metadata: Record<string, string>;
}

/** A file's identity: device, inode, size, change and modification times (ns), as decimal strings. */
interface FileIdentity {
  dev: string;
  ino: string;
  bytes: string;
  ctimeNs: string;
  mtimeNs: string;
}

/** A file's identity, from stat; null when it is not a regular file. */
export async function fileIdentity(path: string): Promise<FileIdentity | null> {
  const st = await stat(path, { bigint: true });
  if (!st.isFile()) return null;
  return { dev: String(st.dev), ino: String(st.ino), bytes: String(st.size), ctimeNs: String(st.ctimeNs), mtimeNs: String(st.mtimeNs) };
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
 * The cache folder: `$PRNET_CACHE_DIR` when set (resolved; `off`, `0` or `false`: null), else
 * `node_modules/.cache/prnet-ts` of the outermost node_modules above this package (installed), or
 * of its own (a checkout); null when that node_modules does not exist.
 */
export function graphCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const set = env[GRAPH_CACHE_ENV]?.trim();
  if (set) return /^(off|0|false)$/i.test(set) ? null : resolve(set);
  const root = fileURLToPath(new URL('../../', import.meta.url)).replace(/[\\/]+$/, '');
  const parts = root.split(sep);
  const at = parts.indexOf('node_modules');
  const modules = at >= 0 ? parts.slice(0, at + 1).join(sep) : join(root, 'node_modules');
  try {
    if (!statSync(modules).isDirectory()) return null;
  } catch {
    return null;
  }
  return join(modules, '.cache', 'prnet-ts');
}

/** The entry's key for a model file's real path. */
function entryKey(real: string): string {
  return createHash('sha256').update(real).digest('hex').slice(0, 24);
}

/**
 * The model file's cached int8 graph when `dir` holds one that matches the file as it is and int8
 * is what is asked for (or, `precision` undefined, the model's default), else null. Never throws
 * for the cache's files (missing, unreadable, malformed, stale: null, and the caller builds); a
 * precision that is not one is checkPrecision's InputError.
 */
export async function readCachedGraph(modelPath: string, precision: unknown, dir: string): Promise<CachedGraph | null> {
  if (checkPrecision(precision) === 'fp32') return null;
  try {
    const real = await realpath(modelPath);
    const key = entryKey(real);
    const manifest = JSON.parse(await readFile(join(dir, `${key}.json`), 'utf8')) as unknown;
    if (!isManifest(manifest) || manifest.prnet !== packageVersion() || manifest.model.path !== real || manifest.graph.file !== `${key}.int8.onnx`) return null;
    const [model, graph] = await Promise.all([
      fileIdentity(real),
      readFile(join(dir, manifest.graph.file)).then((b) => (b.byteLength === manifest.graph.bytes && sha256(b) === manifest.graph.sha256 ? b : null)),
    ]);
    if (!model || !sameIdentity(model, manifest.model) || !graph) return null;
    const metadata = { ...manifest.metadata };
    const config = configFromMetadata(metadata, modelPath);
    // int8 asked for, or the model's default (the metadata is the file's: its hash matched).
    if (networkGraphOptions(metadata, precision, modelPath).precision !== 'int8') return null;
    // Used now: the last an eviction removes (a failure to touch it changes nothing else).
    const now = new Date();
    await utimes(join(dir, `${key}.json`), now, now).catch(() => undefined);
    return { graph: new Uint8Array(graph.buffer, graph.byteOffset, graph.byteLength), config, metadata, precision: 'int8' };
  } catch {
    return null;
  }
}

/**
 * Writes the entry for a model file and its int8 graph: the graph, then the manifest, each through
 * a temporary name (an earlier manifest is removed first, so that none names a graph it does not
 * match). `model` is the file's identity taken before it was read for the build (a write during or
 * after the read moves its change time: the entry is then not used). Rejects on a write failure;
 * the caller ignores it.
 */
export async function writeCachedGraph(dir: string, modelPath: string, model: FileIdentity, graph: Uint8Array, metadata: Record<string, string>): Promise<void> {
  const graphDigest = { bytes: graph.byteLength, sha256: sha256(graph) };
  const real = await realpath(modelPath);
  const key = entryKey(real);
  const manifest: GraphCacheManifest = {
    format: GRAPH_CACHE_FORMAT,
    version: GRAPH_CACHE_VERSION,
    prnet: packageVersion(),
    model: { path: real, ...model },
    precision: 'int8',
    graph: { file: `${key}.int8.onnx`, ...graphDigest },
    metadata: { ...metadata },
  };
  await mkdir(dir, { recursive: true });
  await sweep(dir, key);
  const manifestPath = join(dir, `${key}.json`);
  await rm(manifestPath, { force: true });
  await writeAtomic(join(dir, manifest.graph.file), graph);
  await writeAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Removes an entry (a graph onnxruntime would not open). */
export async function removeCachedGraph(dir: string, modelPath: string): Promise<void> {
  await removeEntry(dir, entryKey(await realpath(modelPath)));
}

function isManifest(m: unknown): m is GraphCacheManifest {
  const o = m as Partial<GraphCacheManifest> | null;
  const model = o?.model as Record<string, unknown> | undefined;
  const graph = o?.graph as Record<string, unknown> | undefined;
  return !!o && typeof o === 'object' && o.format === GRAPH_CACHE_FORMAT && o.version === GRAPH_CACHE_VERSION && typeof o.prnet === 'string'
    && o.precision === 'int8'
    && !!model && typeof model === 'object' && typeof model.path === 'string' && IDENTITY_KEYS.every((k) => typeof model[k] === 'string')
    && !!graph && typeof graph === 'object' && typeof graph.file === 'string' && Number.isSafeInteger(graph.bytes) && typeof graph.sha256 === 'string' && /^[0-9a-f]{64}$/.test(graph.sha256)
    && !!o.metadata && typeof o.metadata === 'object' && !Array.isArray(o.metadata) && Object.values(o.metadata).every((v) => typeof v === 'string');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    // exclusive: nothing already at that name (a planted link) is written through
    await writeFile(tmp, data, { flag: 'wx' });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Before a write: removes the entries that can no longer be used (their model file gone or changed,
 * another version's, a malformed manifest), temporary files and graphs without a manifest left by a
 * killed process (older than STALE_TEMP_MS), and then the least recently used entries beyond
 * GRAPH_CACHE_MAX_ENTRIES − 1 (the one being written is the last). `keep`: that entry's key. Another
 * process reading an entry removed here only misses it and builds.
 */
async function sweep(dir: string, keep: string): Promise<void> {
  const now = Date.now();
  const names = await readdir(dir);
  const manifests = new Set(names.filter((n) => /^[0-9a-f]{24}\.json$/.test(n)).map((n) => n.slice(0, 24)));
  const live: { key: string; used: number }[] = [];
  for (const key of manifests) {
    if (key === keep) continue;
    const path = join(dir, `${key}.json`);
    let usable = false;
    let used = 0;
    try {
      const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
      used = st.mtimeMs;
      const m = JSON.parse(text) as unknown;
      if (isManifest(m) && m.prnet === packageVersion()) {
        const model = await fileIdentity(m.model.path).catch(() => null);
        usable = !!model && sameIdentity(model, m.model);
      }
    } catch {
      // unreadable or malformed: removed
    }
    if (usable) live.push({ key, used });
    else await removeEntry(dir, key);
  }
  live.sort((a, b) => b.used - a.used);
  for (const { key } of live.slice(GRAPH_CACHE_MAX_ENTRIES - 1)) await removeEntry(dir, key);
  for (const name of names) {
    const temp = /\.tmp-\d+-[0-9a-f]+$/.test(name);
    const orphan = /^[0-9a-f]{24}\.int8\.onnx$/.test(name) && !manifests.has(name.slice(0, 24));
    if (!temp && !orphan) continue;
    const p = join(dir, name);
    const st = await stat(p).catch(() => null);
    if (st && now - st.mtimeMs > STALE_TEMP_MS) await rm(p, { force: true }).catch(() => undefined);
  }
}

async function removeEntry(dir: string, key: string): Promise<void> {
  // the manifest first: no moment leaves a manifest naming a removed graph
  await rm(join(dir, `${key}.json`), { force: true }).catch(() => undefined);
  await rm(join(dir, `${key}.int8.onnx`), { force: true }).catch(() => undefined);
}

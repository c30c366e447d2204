/**
 * The graph cache (src/runtime/graph-cache.ts; docs/model-format.md, "The graph cache"): a model
 * file's int8 graph is kept on disk at its first load and opened from there by the next ones
 * instead of being built again. These tests hold the cached graph to the one the builder makes
 * (byte for byte, and the same faces on a real photo), and check that an entry which no longer
 * matches its model file — the model written again (its modification time put back) or moved, the graph damaged, another
 * version's manifest, a graph onnxruntime will not open — is not used, and that a cache that cannot
 * be written is no error.
 */
import { createHash } from 'node:crypto';
import { copyFile, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { decodeImageFile } from '../src/io/image-node.js';
import { readModelFileLazy } from '../src/model/file-node.js';
import { buildResfcnOnnx } from '../src/model/resfcn.js';
import { BUNDLED_MODELS, createPrnet } from '../src/pipeline/node.js';
import { GRAPH_CACHE_ENV, GRAPH_CACHE_MAX_ENTRIES, graphCacheDir, type GraphCacheManifest } from '../src/runtime/graph-cache.js';
import { createSession } from '../src/runtime/node.js';
import { networkGraphOptions } from '../src/runtime/ort.js';
import type { Precision } from '../src/model/resfcn.js';
import { TempDirs, listFiles } from './helpers/tmp.js';

const dirs = new TempDirs('prnet-graph-cache-');
afterAll(() => dirs.cleanup());
const before = process.env[GRAPH_CACHE_ENV];
afterEach(() => {
  if (before === undefined) delete process.env[GRAPH_CACHE_ENV];
  else process.env[GRAPH_CACHE_ENV] = before;
});

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A new empty cache folder, set as the cache. */
async function freshCache(): Promise<string> {
  const dir = join(await dirs.make('cache'), 'cache'); // not there yet: made by the first write
  process.env[GRAPH_CACHE_ENV] = dir;
  return dir;
}

/** Where a session's graph came from, and its precision (the session released). */
async function opened(model: string, precision?: Precision): Promise<string> {
  const s = await createSession(model, { threads: 1, precision });
  const r = `${s.graph} ${s.precision}`;
  await s.release();
  return r;
}

const entries = async (dir: string) => (await listFiles(dir)).map((f) => f.replace(/^[0-9a-f]{24}\./, 'KEY.'));

describe('the graph cache', () => {
  it('the default model’s int8 graph is built and kept at the first load, then opened from the cache', async () => {
    const dir = await freshCache();
    expect(await opened(BUNDLED_MODELS.default)).toBe('built int8');
    expect(await entries(dir)).toEqual(['KEY.int8.onnx', 'KEY.json']);
    expect(await opened(BUNDLED_MODELS.default)).toBe('cached int8');
    expect(await opened(BUNDLED_MODELS.default, 'int8')).toBe('cached int8');
    // The entry's graph is the one the builder makes, and its manifest names the file it came from.
    const [graphFile, manifestFile] = await listFiles(dir);
    const weights = await readModelFileLazy(BUNDLED_MODELS.default);
    const built = buildResfcnOnnx(weights.tensors, weights.config, networkGraphOptions(weights.metadata, undefined, 'default'));
    expect(sha256(await readFile(join(dir, graphFile)))).toBe(sha256(built));
    const manifest = JSON.parse(await readFile(join(dir, manifestFile), 'utf8')) as GraphCacheManifest;
    const st = await stat(BUNDLED_MODELS.default, { bigint: true });
    expect(manifest.model).toEqual({ path: resolve(BUNDLED_MODELS.default), dev: String(st.dev), ino: String(st.ino), bytes: String(st.size), ctimeNs: String(st.ctimeNs), mtimeNs: String(st.mtimeNs) });
    expect(manifest.metadata).toEqual(weights.metadata);
    // fp32 is built every time and not kept.
    expect(await opened(BUNDLED_MODELS.default, 'fp32')).toBe('built fp32');
    expect(await entries(dir)).toEqual(['KEY.int8.onnx', 'KEY.json']);
  }, 60_000);

  it('the light model (fp32 by default) is not cached; asked for at int8, it is', async () => {
    const dir = await freshCache();
    expect(await opened(BUNDLED_MODELS.light)).toBe('built fp32');
    expect(await listFiles(dir)).toEqual([]);
    expect(await opened(BUNDLED_MODELS.light, 'int8')).toBe('built int8');
    expect(await opened(BUNDLED_MODELS.light, 'int8')).toBe('cached int8');
    expect(await opened(BUNDLED_MODELS.light)).toBe('built fp32');
  }, 60_000);

  it('createPrnet() from the cache finds the faces the built graph finds, bit for bit', async () => {
    await freshCache();
    const image = await decodeImageFile('examples/astronaut.jpg');
    (await createPrnet().then((p) => p.dispose())); // fills the cache
    const cached = await createPrnet();
    process.env[GRAPH_CACHE_ENV] = 'off';
    const built = await createPrnet();
    try {
      expect(cached.session.graph).toBe('cached');
      expect(built.session.graph).toBe('built');
      const a = await cached.reconstruct(image);
      const b = await built.reconstruct(image);
      expect(a.faces).toHaveLength(1);
      expect(b.faces).toHaveLength(1);
      expect(Array.from(a.faces[0].landmarks)).toEqual(Array.from(b.faces[0].landmarks));
      expect(Array.from(a.faces[0].vertices)).toEqual(Array.from(b.faces[0].vertices));
    } finally {
      await Promise.all([cached.dispose(), built.dispose()]);
    }
  }, 60_000);

  it('off, or a folder that cannot be written: the graph is built, no error', async () => {
    process.env[GRAPH_CACHE_ENV] = 'off';
    expect(graphCacheDir()).toBeNull();
    expect(await opened(BUNDLED_MODELS.light, 'int8')).toBe('built int8');
    const parent = await dirs.make('blocked');
    await writeFile(join(parent, 'file'), 'a file where the cache folder would be');
    process.env[GRAPH_CACHE_ENV] = join(parent, 'file', 'cache');
    expect(await opened(BUNDLED_MODELS.light, 'int8')).toBe('built int8');
    expect(await opened(BUNDLED_MODELS.light, 'int8')).toBe('built int8');
  }, 60_000);

  it('by default, node_modules/.cache/prnet-ts of this checkout', () => {
    delete process.env[GRAPH_CACHE_ENV];
    expect(graphCacheDir()).toBe(resolve('node_modules', '.cache', 'prnet-ts'));
    expect(graphCacheDir({ [GRAPH_CACHE_ENV]: 'rel/dir' })).toBe(resolve('rel/dir'));
    expect(graphCacheDir({ [GRAPH_CACHE_ENV]: 'FALSE' })).toBeNull();
  });
});

describe('what the cache keeps', () => {
  /** `n` copies of the light model, each in a folder of its own. */
  const copies = async (n: number) => Promise.all(Array.from({ length: n }, async () => {
    const model = join(await dirs.make('copy'), 'm.safetensors');
    await copyFile(BUNDLED_MODELS.light, model);
    return model;
  }));
  const keys = async (dir: string) => (await listFiles(dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, 24));
  const manifestOf = async (dir: string, key: string) => JSON.parse(await readFile(join(dir, `${key}.json`), 'utf8')) as GraphCacheManifest;

  it('a write removes the entries of model files gone or changed, and the least recently used beyond the limit', async () => {
    const dir = await freshCache();
    const models = await copies(GRAPH_CACHE_MAX_ENTRIES + 2);
    for (const m of models.slice(0, GRAPH_CACHE_MAX_ENTRIES)) expect(await opened(m, 'int8')).toBe('built int8');
    expect(await keys(dir)).toHaveLength(GRAPH_CACHE_MAX_ENTRIES);
    const pathOf = async () => new Map(await Promise.all((await keys(dir)).map(async (k) => [(await manifestOf(dir, k)).model.path, k] as const)));
    // The first model used again (cached): the second is now the least recently used.
    await new Promise((r) => setTimeout(r, 20));
    expect(await opened(models[0], 'int8')).toBe('cached int8');
    await new Promise((r) => setTimeout(r, 20));
    expect(await opened(models[GRAPH_CACHE_MAX_ENTRIES], 'int8')).toBe('built int8');
    let paths = await pathOf();
    expect(paths.size).toBe(GRAPH_CACHE_MAX_ENTRIES);
    expect(paths.has(resolve(models[0]))).toBe(true);
    expect(paths.has(resolve(models[1]))).toBe(false);
    // A model file removed and another changed: their entries go at the next write, none beyond them.
    await rm(models[2]);
    await writeFile(models[3], await readFile(BUNDLED_MODELS.default));
    expect(await opened(models[GRAPH_CACHE_MAX_ENTRIES + 1], 'int8')).toBe('built int8');
    paths = await pathOf();
    expect(paths.size).toBe(GRAPH_CACHE_MAX_ENTRIES - 1);
    expect(paths.has(resolve(models[2]))).toBe(false);
    expect(paths.has(resolve(models[3]))).toBe(false);
    expect(paths.has(resolve(models[4]))).toBe(true);
    expect((await listFiles(dir)).filter((f) => f.endsWith('.onnx'))).toHaveLength(GRAPH_CACHE_MAX_ENTRIES - 1);
  }, 120_000);

  it('temporary files and graphs without a manifest: removed at a write once an hour old', async () => {
    const dir = await freshCache();
    const [a, b] = await copies(2);
    expect(await opened(a, 'int8')).toBe('built int8');
    const old = new Date(Date.now() - 2 * 3_600_000);
    const junk = ['0123456789abcdef01234567.int8.onnx', '0123456789abcdef01234567.json.tmp-123-abcdef', 'x.int8.onnx.tmp-99-00ff'];
    const fresh = ['89abcdef0123456789abcdef.int8.onnx', 'y.int8.onnx.tmp-7-0a'];
    for (const f of [...junk, ...fresh]) await writeFile(join(dir, f), 'left by a killed process');
    for (const f of junk) await utimes(join(dir, f), old, old);
    expect(await opened(b, 'int8')).toBe('built int8');
    const left = await listFiles(dir);
    for (const f of junk) expect(left).not.toContain(f);
    for (const f of fresh) expect(left).toContain(f);
    expect(left.filter((f) => /^[0-9a-f]{24}\.json$/.test(f))).toHaveLength(2);
  }, 60_000);
});

describe('an entry that no longer matches is not used', () => {
  const WHOLE_SECOND = 1_700_000_000;
  /** A copy of the light model in a folder of its own, loaded once at int8 (cached). */
  async function cachedCopy(): Promise<{ model: string; cache: string; manifest: string; graph: string }> {
    const cache = await freshCache();
    const model = join(await dirs.make('model'), 'mine.safetensors');
    await copyFile(BUNDLED_MODELS.light, model);
    await utimes(model, WHOLE_SECOND, WHOLE_SECOND); // a modification time a test can put back exactly
    expect(await opened(model, 'int8')).toBe('built int8');
    expect(await opened(model, 'int8')).toBe('cached int8');
    const files = await listFiles(cache);
    expect(files).toHaveLength(2);
    return { model, cache, graph: join(cache, files[0]), manifest: join(cache, files[1]) };
  }
  const flipLowBit = async (file: string) => {
    const bytes = await readFile(file);
    bytes[bytes.length - 2] ^= 1; // the last value's lowest bit (a half: still finite)
    await writeFile(file, bytes);
  };

  it('a model changed in place is built again, and its new graph kept', async () => {
    const { model, graph } = await cachedCopy();
    const old = sha256(await readFile(graph));
    // Written again with its size and modification time as they were: the change time tells.
    await flipLowBit(model);
    await utimes(model, WHOLE_SECOND, WHOLE_SECOND);
    expect((await stat(model, { bigint: true })).mtimeNs).toBe(BigInt(WHOLE_SECOND) * 1_000_000_000n);
    expect(await opened(model, 'int8')).toBe('built int8');
    expect(sha256(await readFile(graph))).not.toBe(old);
    expect(await opened(model, 'int8')).toBe('cached int8');
  }, 60_000);

  it('a model moved is another entry (the old one, its file gone, removed by the write)', async () => {
    const { model, cache, manifest } = await cachedCopy();
    const moved = join(await dirs.make('moved'), 'mine.safetensors');
    await rename(model, moved);
    expect(await opened(moved, 'int8')).toBe('built int8');
    const files = await listFiles(cache);
    expect(files).toHaveLength(2);
    expect(files.map((f) => join(cache, f))).not.toContain(manifest);
    expect(await opened(moved, 'int8')).toBe('cached int8');
  }, 60_000);

  it('another version’s or a malformed manifest, a damaged graph, a graph onnxruntime will not open: built', async () => {
    const { model, manifest, graph } = await cachedCopy();
    const m = JSON.parse(await readFile(manifest, 'utf8')) as GraphCacheManifest;
    const spoil = async (how: () => Promise<void>) => {
      await how();
      expect(await opened(model, 'int8')).toBe('built int8');
      expect(await opened(model, 'int8')).toBe('cached int8'); // written again by the build
    };
    await spoil(() => writeFile(manifest, JSON.stringify({ ...m, prnet: '0.0.1' })));
    await spoil(() => writeFile(manifest, '{ not json'));
    await spoil(() => flipLowBit(graph));
    // A graph that matches its manifest but that onnxruntime will not open.
    await spoil(async () => {
      const garbage = new Uint8Array(4096).fill(7);
      await writeFile(graph, garbage);
      await writeFile(manifest, JSON.stringify({ ...m, graph: { ...m.graph, bytes: garbage.byteLength, sha256: sha256(garbage) } }));
    });
  }, 60_000);

  it('two loads at once into an empty cache: both build, one entry, nothing temporary left', async () => {
    const cache = await freshCache();
    const [a, b] = await Promise.all([opened(BUNDLED_MODELS.light, 'int8'), opened(BUNDLED_MODELS.light, 'int8')]);
    expect([a, b]).toEqual(['built int8', 'built int8']);
    expect(await entries(cache)).toEqual(['KEY.int8.onnx', 'KEY.json']);
    expect(await opened(BUNDLED_MODELS.light, 'int8')).toBe('cached int8');
  }, 60_000);
});

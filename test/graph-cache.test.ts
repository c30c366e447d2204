/**
 * The graph cache (src/runtime/graph-cache.ts; docs/model-format.md, "The graph cache"): a model
 * file's int8 graph is kept on disk at its first load and opened from there by the next ones
 * instead of being built again. These tests hold the cached graph to the one the builder makes
 * (byte for byte, and the same faces on a real photo), and check that an entry which no longer
 * matches — the model written again (its modification time put back) or moved, the graph damaged,
 * another version's or builder's manifest, a graph onnxruntime will not open — is not used; that
 * what the cache holds stays bounded and its folder holds nothing of anyone else's; and that a
 * cache that cannot be used (not writable, others may write it, a FIFO at an entry's name) is no
 * error and no hang.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, readFile, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ModelError } from '../src/errors.js';
import { decodeImageFile } from '../src/io/image-node.js';
import { readModelFileLazy } from '../src/model/file-node.js';
import { buildResfcnOnnx, type Precision } from '../src/model/resfcn.js';
import { BUNDLED_MODELS, createPrnet } from '../src/pipeline/node.js';
import { GRAPH_CACHE_ENTRIES, GRAPH_CACHE_ENV, GRAPH_CACHE_FORMAT, GRAPH_CACHE_MARKER, GRAPH_CACHE_MAX_ENTRIES, RACY_MS, builderFingerprint, graphCacheDir, type GraphCacheManifest } from '../src/runtime/graph-cache.js';
import { createSession } from '../src/runtime/node.js';
import { networkGraphOptions } from '../src/runtime/ort.js';
import { TempDirs, listFiles } from './helpers/tmp.js';

const dirs = new TempDirs('prnet-graph-cache-');
afterAll(() => dirs.cleanup());
const before = process.env[GRAPH_CACHE_ENV];
afterEach(() => {
  if (before === undefined) delete process.env[GRAPH_CACHE_ENV];
  else process.env[GRAPH_CACHE_ENV] = before;
});

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Past RACY_MS: a file changed before this is cached at its next load. */
const settle = () => sleep(RACY_MS + 50);

/** A new empty cache folder, set as the cache; returns it and its entries folder. */
async function freshCache(): Promise<{ root: string; dir: string }> {
  const root = join(await dirs.make('cache'), 'cache'); // not there yet: made by the first write
  process.env[GRAPH_CACHE_ENV] = root;
  return { root, dir: join(root, GRAPH_CACHE_ENTRIES) };
}

/** Where a session's graph came from, and its precision (the session released). */
async function opened(model: string, precision?: Precision): Promise<string> {
  const s = await createSession(model, { threads: 1, precision });
  const r = `${s.graph} ${s.precision}`;
  await s.release();
  return r;
}

/** The files of the entries folder, its marker left out. */
const entryFiles = async (dir: string) => (await listFiles(dir)).filter((f) => f !== GRAPH_CACHE_MARKER);
const entries = async (dir: string) => (await entryFiles(dir)).map((f) => f.replace(/^[0-9a-f]{24}\./, 'KEY.'));

/** `n` copies of the light model, each in a folder of its own, settled (cacheable). */
async function copies(n: number): Promise<string[]> {
  const models = await Promise.all(Array.from({ length: n }, async () => {
    const model = join(await dirs.make('model'), 'mine.safetensors');
    await copyFile(BUNDLED_MODELS.light, model);
    return model;
  }));
  await settle();
  return models;
}

/** Whether uid 65534 can read this checkout's source and tsx and reach the temporary folder. */
function otherUserCanRun(): boolean {
  const check = `const fs = require('fs'); for (const p of ${JSON.stringify([resolve('src/runtime/node.ts'), resolve('node_modules/tsx/package.json')])}) fs.accessSync(p, fs.constants.R_OK); fs.accessSync(${JSON.stringify(tmpdir())}, fs.constants.X_OK);`;
  try {
    execFileSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', check], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('the graph cache', () => {
  it('the default model’s int8 graph is built and kept at the first load, then opened from the cache', async () => {
    const { dir } = await freshCache();
    expect(await opened(BUNDLED_MODELS.default)).toBe('built int8');
    expect(await entries(dir)).toEqual(['KEY.int8.onnx', 'KEY.json']);
    expect(await opened(BUNDLED_MODELS.default)).toBe('cached int8');
    expect(await opened(BUNDLED_MODELS.default, 'int8')).toBe('cached int8');
    // The entry's graph is the one the builder makes, and its manifest names the file it came from.
    const [graphFile, manifestFile] = await entryFiles(dir);
    const weights = await readModelFileLazy(BUNDLED_MODELS.default);
    const built = buildResfcnOnnx(weights.tensors, weights.config, networkGraphOptions(weights.metadata, undefined, 'default'));
    expect(sha256(await readFile(join(dir, graphFile)))).toBe(sha256(built));
    const manifest = JSON.parse(await readFile(join(dir, manifestFile), 'utf8')) as GraphCacheManifest;
    const st = await stat(BUNDLED_MODELS.default, { bigint: true });
    expect(manifest.model).toEqual({ path: resolve(BUNDLED_MODELS.default), dev: String(st.dev), ino: String(st.ino), bytes: String(st.size), ctimeNs: String(st.ctimeNs), mtimeNs: String(st.mtimeNs) });
    expect(manifest.metadata).toEqual(weights.metadata);
    expect(manifest.builder).toBe(await builderFingerprint());
    // fp32 is built every time and not kept.
    expect(await opened(BUNDLED_MODELS.default, 'fp32')).toBe('built fp32');
    expect(await entries(dir)).toEqual(['KEY.int8.onnx', 'KEY.json']);
  }, 60_000);

  it('the light model (fp32 by default) is not cached; asked for at int8, it is', async () => {
    const { root, dir } = await freshCache();
    expect(await opened(BUNDLED_MODELS.light)).toBe('built fp32');
    expect(await listFiles(root)).toEqual([]);
    expect(await opened(BUNDLED_MODELS.light, 'int8')).toBe('built int8');
    expect(await opened(BUNDLED_MODELS.light, 'int8')).toBe('cached int8');
    expect(await opened(BUNDLED_MODELS.light)).toBe('built fp32');
    expect(await entries(dir)).toEqual(['KEY.int8.onnx', 'KEY.json']);
  }, 60_000);

  it('createPrnet() from the cache finds the faces the built graph finds, bit for bit', async () => {
    await freshCache();
    const image = await decodeImageFile('examples/astronaut.jpg');
    await (await createPrnet()).dispose(); // fills the cache
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

  it('errors as without the cache: a missing model before a bad precision', async () => {
    await freshCache();
    const err = await createSession('/nonexistent/model.safetensors', { precision: 'int16' as Precision }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as Error).message).toMatch(/model file not found/);
  });

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

  it.skipIf(process.platform === 'win32')('the entries folder is made private with its marker; one others may write is not used (nor written)', async () => {
    const { dir } = await freshCache();
    expect(await opened(BUNDLED_MODELS.light, 'int8')).toBe('built int8');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, GRAPH_CACHE_MARKER))).isFile()).toBe(true);
    const manifest = join(dir, (await entryFiles(dir)).find((f) => f.endsWith('.json'))!);
    await chmod(dir, 0o777);
    const before = await stat(manifest, { bigint: true });
    expect(await opened(BUNDLED_MODELS.light, 'int8')).toBe('built int8');
    const after = await stat(manifest, { bigint: true });
    expect([after.ino, after.mtimeNs]).toEqual([before.ino, before.mtimeNs]); // not written again
    await chmod(dir, 0o700);
    expect(await opened(BUNDLED_MODELS.light, 'int8')).toBe('cached int8');
  }, 60_000);

  it('a folder of that name without the marker (someone else’s) is neither used nor touched', async () => {
    const { dir } = await freshCache();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const theirs = ['507f1f77bcf86cd799439011.json', '0123456789abcdef01234567.int8.onnx', '0123456789abcdef01234567.json.tmp-1-abcdef012345'];
    const old = new Date(Date.now() - 2 * 3_600_000);
    for (const f of theirs) {
      await writeFile(join(dir, f), '{"an":"object id"}');
      await utimes(join(dir, f), old, old);
    }
    expect(await opened(BUNDLED_MODELS.light, 'int8')).toBe('built int8');
    expect(await opened(BUNDLED_MODELS.light, 'int8')).toBe('built int8');
    expect(await listFiles(dir)).toEqual([...theirs].sort());
  }, 60_000);

  it.skipIf(process.platform === 'win32')('a manifest that is a link is not followed: built', async () => {
    const { dir } = await freshCache();
    const [model] = await copies(1);
    expect(await opened(model, 'int8')).toBe('built int8');
    const manifest = join(dir, (await entryFiles(dir)).find((f) => f.endsWith('.json'))!);
    const elsewhere = join(await dirs.make('elsewhere'), 'm.json');
    await copyFile(manifest, elsewhere);
    await rm(manifest);
    await symlink(elsewhere, manifest);
    expect(await opened(model, 'int8')).toBe('built int8');
  }, 60_000);

  it.skipIf(process.platform === 'win32')('a FIFO at an entry’s name: no hang, built', async () => {
    const { dir } = await freshCache();
    const [model] = await copies(1);
    expect(await opened(model, 'int8')).toBe('built int8');
    const manifest = (await entryFiles(dir)).find((f) => f.endsWith('.json'))!;
    await rm(join(dir, manifest));
    execFileSync('mkfifo', [join(dir, manifest)]);
    expect(await opened(model, 'int8')).toBe('built int8');
  }, 30_000);

  // Another user: root makes the files, uid 65534 loads (setpriv), as a shared machine would.
  // (skipped unless the tests run as root with setpriv, and that user can read the checkout and
  // reach the temporary folder: a checkout under /root is not)
  const asOtherUser = process.platform !== 'win32' && process.getuid?.() === 0 && existsSync('/usr/bin/setpriv') && otherUserCanRun();
  // (The mode change moves the model's change time, so the entry no longer matches; a hit would
  // also open the file, and realpath needs its folders: each keeps the graph from such a user.)
  it.skipIf(!asOtherUser)('a model its user may no longer read gives the read error, not the cached graph', async () => {
    const dir = await dirs.make('perm');
    const model = join(dir, 'm.safetensors');
    await copyFile(BUNDLED_MODELS.light, model);
    const cache = join(dir, 'cache');
    const own = join(dir, 'tmp'); // the other user's temporary folder (tsx's cache)
    for (const d of [cache, own]) {
      await mkdir(d);
      await chown(d, 65534, 65534);
    }
    const script = join(dir, 'load.mjs');
    await writeFile(script, `const { createSession } = await import(${JSON.stringify(pathToFileURL(resolve('src/runtime/node.ts')).href)});
try { const s = await createSession(process.argv[2], { threads: 1, precision: 'int8' }); console.log('OK', s.graph); await s.release(); }
catch (e) { console.log('ERR', e.name, e.message); }\n`);
    for (const p of [dir, model, script]) await chmod(p, (await stat(p)).isDirectory() ? 0o755 : 0o644);
    await settle();
    const load = () => execFileSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', script, model],
      { cwd: resolve('.'), encoding: 'utf8', env: { ...process.env, [GRAPH_CACHE_ENV]: cache, TMPDIR: own }, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    expect(load()).toBe('OK built');
    expect(load()).toBe('OK cached');
    await chmod(model, 0o600); // root's alone now
    expect(load()).toMatch(/^ERR ModelError .*m\.safetensors: cannot read the model file \(EACCES\)$/);
  }, 120_000);

  it('by default, node_modules/.cache/prnet-ts of this checkout; ~ is the home folder', () => {
    delete process.env[GRAPH_CACHE_ENV];
    expect(graphCacheDir()).toBe(resolve('node_modules', '.cache', 'prnet-ts'));
    expect(graphCacheDir({ [GRAPH_CACHE_ENV]: '' })).toBe(resolve('node_modules', '.cache', 'prnet-ts'));
    expect(graphCacheDir({ [GRAPH_CACHE_ENV]: 'rel/dir' })).toBe(resolve('rel/dir'));
    expect(graphCacheDir({ [GRAPH_CACHE_ENV]: '~/.cache/prnet-ts' })).toBe(join(homedir(), '.cache', 'prnet-ts'));
    expect(graphCacheDir({ [GRAPH_CACHE_ENV]: 'FALSE' })).toBeNull();
    // Linux's kernel file systems: no cache (a load under /proc never returned: Node's recursive mkdir spun)
    expect(graphCacheDir({ [GRAPH_CACHE_ENV]: '/proc/prnet-cache' })).toBeNull();
    expect(graphCacheDir({ [GRAPH_CACHE_ENV]: '/sys' })).toBeNull();
    expect(graphCacheDir({ [GRAPH_CACHE_ENV]: '/process' })).toBe('/process');
  });
});

describe('what the cache keeps', () => {
  const keys = async (dir: string) => (await entryFiles(dir)).filter((f) => /^[0-9a-f]{24}\.json$/.test(f)).map((f) => f.slice(0, 24));
  const manifestOf = async (dir: string, key: string) => JSON.parse(await readFile(join(dir, `${key}.json`), 'utf8')) as GraphCacheManifest;
  const pathsIn = async (dir: string) => new Set((await Promise.all((await keys(dir)).map((k) => manifestOf(dir, k)))).filter((m) => m.format === GRAPH_CACHE_FORMAT).map((m) => m.model.path));

  it('at most GRAPH_CACHE_MAX_ENTRIES: a write removes the least recently used', async () => {
    const { dir } = await freshCache();
    const models = await copies(GRAPH_CACHE_MAX_ENTRIES + 1);
    for (const m of models.slice(0, GRAPH_CACHE_MAX_ENTRIES)) expect(await opened(m, 'int8')).toBe('built int8');
    expect(await keys(dir)).toHaveLength(GRAPH_CACHE_MAX_ENTRIES);
    // The first model used again (cached): the second is now the least recently used.
    await sleep(20);
    expect(await opened(models[0], 'int8')).toBe('cached int8');
    await sleep(20);
    expect(await opened(models[GRAPH_CACHE_MAX_ENTRIES], 'int8')).toBe('built int8');
    const paths = await pathsIn(dir);
    expect(paths.size).toBe(GRAPH_CACHE_MAX_ENTRIES);
    expect(paths.has(resolve(models[0]))).toBe(true);
    expect(paths.has(resolve(models[1]))).toBe(false);
    expect((await entryFiles(dir)).filter((f) => f.endsWith('.onnx'))).toHaveLength(GRAPH_CACHE_MAX_ENTRIES);
  }, 120_000);

  it('entries of model files gone or changed, temporary files, graphs without a manifest: removed by a write once an hour unused; nothing else', async () => {
    const { root, dir } = await freshCache();
    const [a, b, c, d] = await copies(4);
    for (const m of [a, b, c]) expect(await opened(m, 'int8')).toBe('built int8');
    const byPath = new Map(await Promise.all((await keys(dir)).map(async (k) => [(await manifestOf(dir, k)).model.path, k] as const)));
    await rm(a); // gone
    await writeFile(b, await readFile(BUNDLED_MODELS.default)); // changed
    const old = new Date(Date.now() - 2 * 3_600_000);
    const recent = new Date(Date.now() - 60_000);
    await utimes(join(dir, `${byPath.get(resolve(a))}.json`), old, old);
    await utimes(join(dir, `${byPath.get(resolve(b))}.json`), recent, recent); // changed, but used a minute ago: kept for now
    const junk = ['0123456789abcdef01234567.int8.onnx', '0123456789abcdef01234567.json.tmp-123-abcdef012345', '89abcdef0123456789abcdef.int8.onnx.tmp-9-00ff00ff00ff'];
    const kept = ['fedcba9876543210fedcba98.int8.onnx', 'notes.txt', 'report.csv.tmp-1-ab', '507f1f77bcf86cd799439011.json'];
    for (const f of [...junk, ...kept]) await writeFile(join(dir, f), f.endsWith('.json') ? '{"an":"object id"}' : 'not an entry');
    // Another version's entry whose model is not here: left to the count, even an hour unused.
    const other = { ...(await manifestOf(dir, byPath.get(resolve(c))!)), prnet: '0.0.1', model: { path: '/elsewhere/m.safetensors', dev: '1', ino: '1', bytes: '1', ctimeNs: '1', mtimeNs: '1' } };
    await writeFile(join(dir, 'aaaaaaaaaaaaaaaaaaaaaaaa.json'), JSON.stringify(other));
    kept.push('aaaaaaaaaaaaaaaaaaaaaaaa.json');
    for (const f of [...junk, 'report.csv.tmp-1-ab', 'notes.txt', '507f1f77bcf86cd799439011.json', 'aaaaaaaaaaaaaaaaaaaaaaaa.json']) await utimes(join(dir, f), old, old);
    await mkdir(join(root, 'other'));
    await writeFile(join(root, '507f1f77bcf86cd799439011.json'), '{"an":"object id"}');
    expect(await opened(d, 'int8')).toBe('built int8');
    const left = await entryFiles(dir);
    for (const f of junk) expect(left).not.toContain(f);
    for (const f of kept) expect(left).toContain(f);
    const paths = await pathsIn(dir);
    expect(paths.has(resolve(a))).toBe(false);
    expect(paths.has(resolve(b))).toBe(true);
    expect(paths.has(resolve(c))).toBe(true);
    expect(paths.has(resolve(d))).toBe(true);
    expect(await listFiles(root)).toContain('507f1f77bcf86cd799439011.json'); // outside the entries folder: never touched
    // The changed model's entry is not used: built again (and its entry written again).
    expect(await opened(b, 'int8')).toBe('built int8');
  }, 120_000);
});

describe('an entry that no longer matches is not used', () => {
  const WHOLE_SECOND = 1_700_000_000;
  /** A copy of the light model in a folder of its own, loaded once at int8 (cached). */
  async function cachedCopy(): Promise<{ model: string; dir: string; manifest: string; graph: string }> {
    const { dir } = await freshCache();
    const model = join(await dirs.make('model'), 'mine.safetensors');
    await copyFile(BUNDLED_MODELS.light, model);
    await utimes(model, WHOLE_SECOND, WHOLE_SECOND); // a modification time a test can put back exactly
    await settle();
    expect(await opened(model, 'int8')).toBe('built int8');
    expect(await opened(model, 'int8')).toBe('cached int8');
    const files = await entryFiles(dir);
    expect(files).toHaveLength(2);
    return { model, dir, graph: join(dir, files[0]), manifest: join(dir, files[1]) };
  }
  const flipLowBit = async (file: string) => {
    const bytes = await readFile(file);
    bytes[bytes.length - 2] ^= 1; // the last value's lowest bit (a half: still finite)
    await writeFile(file, bytes);
  };

  it('a model written again in place is built again; cached again once it has settled', async () => {
    const { model, graph } = await cachedCopy();
    const old = sha256(await readFile(graph));
    // Written again with its size and modification time as they were: the change time tells.
    await flipLowBit(model);
    await utimes(model, WHOLE_SECOND, WHOLE_SECOND);
    expect((await stat(model, { bigint: true })).mtimeNs).toBe(BigInt(WHOLE_SECOND) * 1_000_000_000n);
    // Just changed (within RACY_MS): built, and not cached at that load.
    expect(await opened(model, 'int8')).toBe('built int8');
    expect(sha256(await readFile(graph))).toBe(old);
    await settle();
    expect(await opened(model, 'int8')).toBe('built int8');
    expect(sha256(await readFile(graph))).not.toBe(old);
    expect(await opened(model, 'int8')).toBe('cached int8');
  }, 60_000);

  it('a model moved is another entry', async () => {
    const { model, dir } = await cachedCopy();
    const moved = join(await dirs.make('moved'), 'mine.safetensors');
    await rename(model, moved);
    await settle(); // (a rename moves the change time)
    expect(await opened(moved, 'int8')).toBe('built int8');
    expect(await entryFiles(dir)).toHaveLength(4); // the old one is removed once an hour unused
    expect(await opened(moved, 'int8')).toBe('cached int8');
  }, 60_000);

  it('another version’s or builder’s or a malformed manifest, a damaged graph, a graph onnxruntime will not open: built', async () => {
    const { model, manifest, graph } = await cachedCopy();
    const m = JSON.parse(await readFile(manifest, 'utf8')) as GraphCacheManifest;
    const spoil = async (how: () => Promise<void>) => {
      await how();
      expect(await opened(model, 'int8')).toBe('built int8');
      expect(await opened(model, 'int8')).toBe('cached int8'); // written again by the build
    };
    await spoil(() => writeFile(manifest, JSON.stringify({ ...m, prnet: '0.0.1' })));
    await spoil(() => writeFile(manifest, JSON.stringify({ ...m, builder: '0'.repeat(64) })));
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
    const { dir } = await freshCache();
    const [a, b] = await Promise.all([opened(BUNDLED_MODELS.light, 'int8'), opened(BUNDLED_MODELS.light, 'int8')]);
    expect([a, b]).toEqual(['built int8', 'built int8']);
    expect(await entries(dir)).toEqual(['KEY.int8.onnx', 'KEY.json']);
    expect(await opened(BUNDLED_MODELS.light, 'int8')).toBe('cached int8');
  }, 60_000);
});

/**
 * The package as a user gets it: `npm pack`, then the README's "Use it in your project" steps in an
 * empty project (install the tarball with only the npm registry, run the README's library example
 * and `npx prnet reconstruct`), with what the tarball holds, its size installed, `require()` and a
 * development command's message checked. Needs dist/ (built by `npm ci`'s prepare); the install
 * takes onnxruntime-node and sharp from npm's cache or the registry.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '..');
const README = readFileSync(join(REPO, 'README.md'), 'utf8');

/** The fenced code block of the README's "Use it in your project" section that starts with `first`. */
function readmeBlock(first: string): string {
  const section = README.slice(README.indexOf('## Use it in your project'));
  for (const m of section.matchAll(/```\w*\n([\s\S]*?)```/g)) if (m[1].startsWith(first)) return m[1];
  throw new Error(`README: no code block starting with ${first}`);
}

function duBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += duBytes(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

describe.skipIf(!existsSync(join(REPO, 'dist', 'index.js')))('consumer install of the packed tarball', () => {
  let dir: string;
  let files: string[];
  let installedMiB: number;
  const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_fund: 'false', npm_config_audit: 'false' };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'prnet-consumer-'));
    // --ignore-scripts: dist/ is already built (npm ci's prepare); rebuilding would pull it from
    // under the tests running beside this one.
    const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: REPO, encoding: 'utf8', env })) as { filename: string; files: { path: string }[] }[];
    files = packed[0].files.map((f) => f.path);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    // The README's steps: npm pack here, then its install line with this tarball's path.
    const [pack, install] = readmeBlock('npm pack').split('\n');
    expect(pack).toMatch(/^npm pack\b/);
    expect(install).toMatch(/^ONNXRUNTIME_NODE_INSTALL=skip npm install \/path\/to\/prnet-ts-<version>\.tgz\b/);
    expect(packed[0].filename).toMatch(/^prnet-ts-\d+\.\d+\.\d+.*\.tgz$/);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', join(dir, packed[0].filename)], { cwd: dir, env, stdio: 'pipe' });
    // Measured as installed, before any use writes the graph cache under node_modules/.cache.
    installedMiB = duBytes(join(dir, 'node_modules')) / 2 ** 20;
    copyFileSync(join(REPO, 'examples', 'astronaut.jpg'), join(dir, 'photo.jpg'));
  }, 600_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the tarball holds the library, CLI, assets and licences, and no development trees', () => {
    for (const f of ['dist/index.js', 'dist/browser.js', 'dist/require.cjs', 'bin/prnet.js', 'assets/layout.safetensors', 'assets/models/prnet-default.safetensors',
      'assets/models/prnet-light.safetensors', 'assets/detector/blazeface-back-256.onnx', 'assets/detector/LICENSE-blazeface', 'LICENSE', 'LICENSE-weights.md', 'README.md']) {
      expect(files, f).toContain(f);
    }
    for (const f of files) expect(f, f).not.toMatch(/^(test|tools|scripts|training|web|bench|docs|\.ci)\/|\.map$|\.ts$(?<!\.d\.ts$)/);
    // No file points at a source map the tarball does not hold (bundlers' source-map loaders warn).
    const installed = join(dir, 'node_modules', 'prnet-ts');
    const pointing = files.filter((f) => f.endsWith('.js') && readFileSync(join(installed, f), 'utf8').includes('//# sourceMappingURL='));
    expect(pointing).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { license: string; sideEffects: boolean; exports: Record<string, unknown> };
    expect(pkg.license).toBe('(MIT AND LicenseRef-prnet-ts-weights)');
    expect(pkg.sideEffects).toBe(false);
    expect(Object.keys(pkg.exports)).toEqual(['.', './browser', './assets/*', './package.json']);
  });

  it('runs the README library example', () => {
    writeFileSync(join(dir, 'example.mjs'), readmeBlock('// example.mjs'));
    const out = execFileSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8', env });
    expect(out).toMatch(/^face 0: yaw -?\d+\.\d°, 43867 vertices, landmark 0 at \d+,\d+$/m);
  }, 120_000);

  it('keeps the default model’s int8 graph in node_modules/.cache/prnet-ts and opens it from there', () => {
    // docs/model-format.md, "The graph cache": the first load builds the graph and keeps it.
    const code = "const { createPrnet } = await import('prnet-ts'); const p = await createPrnet(); console.log(p.session.graph, p.session.precision); await p.dispose();";
    const load = () => execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: dir, encoding: 'utf8', env: { ...env, PRNET_GRAPH_CACHE: '' } }).trim();
    expect(['built int8', 'cached int8']).toContain(load());
    expect(load()).toBe('cached int8');
    expect(readdirSync(join(dir, 'node_modules', '.cache', 'prnet-ts', 'prnet-graphs')).map((f) => f.replace(/^[0-9a-f]{24}\./, 'KEY.')).sort()).toEqual(['.prnet-graph-cache', 'KEY.int8.onnx', 'KEY.json']);
  }, 60_000);

  it('runs npx prnet reconstruct', () => {
    const r = spawnSync('npx', ['prnet', 'reconstruct', 'photo.jpg', '--out', 'out'], { cwd: dir, encoding: 'utf8', env });
    expect(r.status, r.stderr).toBe(0);
    const written = readdirSync(join(dir, 'out')).sort();
    expect(written).toContain('photo_face0.json');
    expect(written).toContain('photo_face0.glb');
    const face = JSON.parse(readFileSync(join(dir, 'out', 'photo_face0.json'), 'utf8')) as { landmarks: { '2d': number[][] }; vertexCount: number };
    expect(face.landmarks['2d']).toHaveLength(68);
    expect(face.vertexCount).toBe(43867);
  }, 120_000);

  it('require() works on this Node.js; development commands say where they run', () => {
    const out = execFileSync(process.execPath, ['-e', "console.log(typeof require('prnet-ts').createPrnet)"], { cwd: dir, encoding: 'utf8', env });
    expect(out.trim()).toBe('function');
    // Where Node.js cannot require() ES modules, the message's CommonJS way (as written) runs
    const off = spawnSync(process.execPath, ['--no-experimental-require-module', '-e', "require('prnet-ts')"], { cwd: dir, encoding: 'utf8', env });
    expect(off.status).not.toBe(0);
    const way = /`(\(async \(\) => \{ const \{ createPrnet \} = await import\('prnet-ts'\);) \/\* … \*\/ \}\)\(\)`/.exec(off.stderr);
    expect(way, off.stderr).not.toBeNull();
    writeFileSync(join(dir, 'way.cjs'), `${way![1]} console.log(typeof createPrnet); })();\n`);
    expect(execFileSync(process.execPath, ['--no-experimental-require-module', 'way.cjs'], { cwd: dir, encoding: 'utf8', env }).trim()).toBe('function');
    const r = spawnSync('npx', ['prnet', 'eval', 'aflw2000', '.'], { cwd: dir, encoding: 'utf8', env });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/development command: run it in a checkout/);
    // A comparison detector names every package it needs (with human alone installed, tfjs's
    // backend was missing next and the same "install human" line came back).
    const d = spawnSync('npx', ['prnet', 'reconstruct', 'photo.jpg', '--out', join(dir, 'mesh-out'), '--detector', 'blazeface-mesh'], { cwd: dir, encoding: 'utf8', env });
    expect(d.status, d.stderr).toBe(3);
    expect(d.stderr).toMatch(/^prnet: the blazeface-mesh detector needs packages that are not installed \([Cc]annot find (?:package ')?@vladmandic\/human[^)]*\): npm install @vladmandic\/human@\S+ @tensorflow\/tfjs-core@\S+ @tensorflow\/tfjs-converter@\S+ @tensorflow\/tfjs-backend-wasm@\S+; the default detector 'blazeface' needs nothing more$/m);
  }, 60_000);

  it('installs in at most 350 MB', () => {
    const mb = installedMiB;
    console.log(`consumer install: node_modules ${mb.toFixed(0)} MB`);
    expect(mb).toBeLessThanOrEqual(350);
  });
});

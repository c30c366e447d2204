/**
 * What the shipped entry points load: their static import graphs (the modules loaded when the entry
 * is imported, before any lazy `import()`), read from the sources. The product's runtime needs
 * onnxruntime and sharp only; the tfjs stack (human, face-api) is for labelling and peer comparison
 * and is loaded lazily by the commands that use it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '..');

/** Static imports of a module: `import … from 'x'`, `export … from 'x'`, `import 'x'` (not `import('x')`). */
function staticImports(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/^\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) {
    if (/^\s*(?:import|export)\s+type\s/.test(m[0])) continue; // types are erased
    out.push(m[1]);
  }
  return out;
}

/** Every module file and bare package reached statically from an entry. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of staticImports(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (!spec.startsWith('node:')) packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
    }
  };
  visit(join(repo, entry));
  return { files, packages };
}

describe('dependencies of what ships', () => {
  it('package.json: onnxruntime-node and sharp are the only runtime dependencies; onnxruntime-web is an optional peer', () => {
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['onnxruntime-node', 'sharp']);
    // onnxruntime-node is held to the minor version the tests run on (the lockfile's): a consumer
    // resolving ^ got a newer runtime than any test had seen.
    const ort = (JSON.parse(readFileSync(join(repo, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string }).version;
    expect(pkg.dependencies['onnxruntime-node']).toBe(`~${ort.split('.').slice(0, 2).join('.')}.0`);
    // Optional peers: onnxruntime-web for the browser entry; the service's and the batch's
    // packages for `prnet serve`, `prnet batch` and `prnet worker` (loaded by those commands only).
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(['@fastify/multipart', 'bullmq', 'fastify', 'ioredis', 'onnxruntime-web', 'piscina', 'prom-client']);
    for (const peer of Object.keys(pkg.peerDependencies)) {
      expect(pkg.peerDependenciesMeta[peer], peer).toEqual({ optional: true });
      expect(pkg.devDependencies[peer], peer).toBeDefined();
    }
    for (const dev of ['@vladmandic/human', '@vladmandic/face-api', '@tensorflow/tfjs-core', 'tsx']) expect(pkg.devDependencies[dev], dev).toBeDefined();
  });

  it('a comparison detector\'s missing-package message asks for every package it needs, at the ranges the project develops with', async () => {
    const { OPTIONAL_PACKAGES } = await import('../src/detect/create-node.js');
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const tfjs = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-converter', '@tensorflow/tfjs-backend-wasm'];
    const want = { 'blazeface-mesh': ['@vladmandic/human', ...tfjs], 'ssd-mobilenet': ['@vladmandic/face-api', ...tfjs], 'tiny-face': ['@vladmandic/face-api', ...tfjs] };
    for (const [kind, names] of Object.entries(want)) {
      expect(OPTIONAL_PACKAGES[kind as keyof typeof want], kind).toEqual(names.map((n) => `${n}@${pkg.devDependencies[n]}`));
    }
    // What the loaders name and what the packages' Node bundles require is in the list (face-api's
    // `@tensorflow/tfjs` is answered with tfjs-core and -converter: faceapi-node.ts).
    const cases = [
      ['blazeface-mesh', 'src/detect/human-node.ts', 'node_modules/@vladmandic/human/dist/human.node-wasm.js'],
      ['ssd-mobilenet', 'src/detect/faceapi-node.ts', 'node_modules/@vladmandic/face-api/dist/face-api.node-wasm.js'],
    ] as const;
    for (const [kind, loader, bundle] of cases) {
      const named = [...readFileSync(join(repo, loader), 'utf8').matchAll(/['"](@(?:vladmandic|tensorflow)\/[\w-]+)/g)].map((m) => m[1]);
      const required = [...readFileSync(join(repo, bundle), 'utf8').matchAll(/require\("(@[\w-]+\/[\w-]+)"\)/g)].map((m) => m[1]);
      const needed = new Set([...named, ...required].flatMap((n) => (n === '@tensorflow/tfjs' ? ['@tensorflow/tfjs-core', '@tensorflow/tfjs-converter'] : [n])));
      expect(needed.size, kind).toBeGreaterThanOrEqual(3);
      expect([...needed].filter((n) => !want[kind].includes(n)), kind).toEqual([]);
    }
  });

  it('the Node entry and the CLI load onnxruntime-node and sharp only', () => {
    for (const entry of ['src/index.ts', 'src/cli/main.ts', 'src/cli/reconstruct.ts']) {
      const { packages, files } = importGraph(entry);
      expect([...packages].sort(), entry).toEqual(entry === 'src/cli/main.ts' ? [] : ['onnxruntime-node', 'sharp']);
      expect([...files].filter((f) => /human|faceapi|\/data\//.test(f)), entry).toEqual([]);
    }
  });

  it('the service and the batch commands load their optional packages only when run', () => {
    for (const entry of ['src/cli/serve.ts', 'src/cli/batch.ts', 'src/cli/worker.ts']) {
      const { packages } = importGraph(entry);
      expect([...packages].sort(), entry).toEqual(entry === 'src/cli/serve.ts' ? [] : ['onnxruntime-node', 'sharp']);
    }
    expect([...importGraph('src/serve/worker.ts').packages].sort()).toEqual(['onnxruntime-node', 'sharp']);
  });

  it('the browser entry loads onnxruntime-web only (the human detector is an option the caller brings)', () => {
    const { packages } = importGraph('src/browser.ts');
    expect([...packages]).toEqual(['onnxruntime-web']);
  });
});

describe('tree-shaking of the browser entry', () => {
  it('a bundle that imports only writeGlb from prnet-ts/browser holds no onnxruntime-web (sideEffects: false)', async () => {
    const { build } = await import('vite');
    const { mkdtempSync, rmSync, writeFileSync, readdirSync, readFileSync: read } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'prnet-shake-'));
    try {
      const entry = join(dir, 'entry.js');
      writeFileSync(entry, `import { writeGlb } from ${JSON.stringify(join(repo, 'src', 'browser.ts'))};\nconsole.log(typeof writeGlb);\n`);
      await build({
        configFile: false, logLevel: 'silent', root: dir,
        build: { lib: { entry, formats: ['es'], fileName: 'out' }, outDir: join(dir, 'dist'), minify: true, write: true },
      });
      const out = read(join(dir, 'dist', readdirSync(join(dir, 'dist'))[0]), 'utf8');
      expect(out).not.toMatch(/InferenceSession|onnxruntime/);
      expect(out.length).toBeLessThan(50_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('error names in a minified bundle', () => {
  it('each error class keeps its name (err.name, String(err)) when a bundler renames the classes', async () => {
    const { build } = await import('vite');
    const { mkdtempSync, rmSync, writeFileSync, readdirSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { pathToFileURL } = await import('node:url');
    const dir = mkdtempSync(join(tmpdir(), 'prnet-names-'));
    const classes = ['PrnetError', 'InputError', 'ModelError', 'NoFaceError', 'OutputError', 'AbortedError', 'UnsupportedImageError'];
    try {
      const entry = join(dir, 'entry.js');
      writeFileSync(entry, `import { ${classes.join(', ')} } from ${JSON.stringify(join(repo, 'src', 'browser.ts'))};\nexport const names = [${classes.map((c) => `new ${c}('m').name`).join(', ')}];\nexport const shown = String(new ModelError('no such model', 'm.safetensors'));\n`);
      await build({
        configFile: false, logLevel: 'silent', root: dir,
        build: { lib: { entry, formats: ['es'], fileName: 'out' }, outDir: join(dir, 'dist'), minify: true, write: true },
      });
      const file = join(dir, 'dist', readdirSync(join(dir, 'dist'))[0]);
      const mod = (await import(pathToFileURL(file).href)) as { names: string[]; shown: string };
      expect(mod.names).toEqual(classes);
      expect(mod.shown).toBe('ModelError: m.safetensors: no such model');
      // A subclass of the user's own, without a name of its own, is named by its constructor.
      const { InputError } = await import('../src/errors.js');
      class CameraError extends InputError {}
      expect(new CameraError('m').name).toBe('CameraError');
      expect(new CameraError('m')).toBeInstanceOf(InputError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

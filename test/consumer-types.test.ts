/**
 * A TypeScript project that uses prnet-ts as the README says (strict; module and moduleResolution
 * nodenext or bundler; @types/node with "types": ["node"]) type-checks the README's Library
 * snippet against the built declarations (dist/*.d.ts, made by `npm run build`, which `npm ci`
 * runs). Library checking on (no skipLibCheck), so the declarations themselves are checked too.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'prnet-consumer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The README's Library snippet, as it stands. */
function librarySnippet(): string {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const m = /^## Library\n+```ts\n([\s\S]*?)\n```/m.exec(readme);
  if (!m) throw new Error('README.md has no Library section with a ```ts block');
  return m[1]!;
}

function project(name: string, compilerOptions: Record<string, unknown>): string {
  const root = join(dir, name);
  mkdirSync(join(root, 'node_modules', '@types'), { recursive: true });
  symlinkSync(repo, join(root, 'node_modules', 'prnet-ts'));
  symlinkSync(join(repo, 'node_modules', '@types', 'node'), join(root, 'node_modules', '@types', 'node'));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name, type: 'module', private: true }));
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, target: 'es2022', noEmit: true, types: ['node'], ...compilerOptions }, files: ['main.ts', 'types.ts'] }));
  writeFileSync(join(root, 'main.ts'), `${librarySnippet()}\nexport {};\n`);
  // The types that public signatures use can be named by a consumer (they were not all exported).
  writeFileSync(join(root, 'types.ts'), [
    "import type { TrackPlan, StabilizedFace, Jitter, Orientation, ProducerJson, FramePipeline, FaceJson, VideoFrameResult, MeshFrame } from 'prnet-ts';",
    "import { MIN_SCORE_FLOOR, producerJson, type Prnet } from 'prnet-ts';",
    'export type Used = [TrackPlan, StabilizedFace, Jitter, Orientation, ProducerJson, FramePipeline, FaceJson, VideoFrameResult, MeshFrame];',
    'export const floor: number = MIN_SCORE_FLOOR;',
    'export const describe = (p: Prnet): ProducerJson => producerJson(p, \'light\');',
    '',
  ].join('\n'));
  return root;
}

describe('a TypeScript consumer of the package, set up as the README says', () => {
  it.each([
    ['nodenext', { module: 'nodenext', moduleResolution: 'nodenext' }],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
  ])('type-checks the README\'s Library snippet (%s)', (name, options) => {
    expect(existsSync(join(repo, 'dist', 'index.d.ts')), 'dist/ is built by npm ci (npm run build)').toBe(true);
    const root = project(name, options);
    let out = '';
    try {
      execFileSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      out = `${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`;
    }
    expect(out).toBe('');
  }, 120_000);
});

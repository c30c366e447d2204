/**
 * Start-up in fresh processes (needs `npm run build`): `createPrnet()` (bundled default model and
 * detector) timed inside a new `node` that imports dist/, and the CLI's first result (`prnet
 * reconstruct examples/astronaut.jpg --formats json`, from start to exit), with the graph cache
 * (its entry there), with it off (`PRNET_GRAPH_CACHE=off`: the int8 graph built) and, for
 * `createPrnet()`, empty (the first load: built, and the entry written). The cases alternate
 * round by round, so a busy machine slows them alike; medians and ranges.
 *
 *   npx tsx bench/startup-fresh.ts [--rounds 8]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '8' } } });
const rounds = Number(values.rounds);
const repo = resolve(import.meta.dirname, '..');
if (!existsSync(join(repo, 'dist', 'index.js'))) throw new Error('dist/ is not built: npm run build');
const tmp = await mkdtemp(join(tmpdir(), 'prnet-startup-'));
const index = pathToFileURL(join(repo, 'dist', 'index.js')).href;
const create = `const { createPrnet } = await import(${JSON.stringify(index)}); const t = performance.now(); const p = await createPrnet(); const ms = performance.now() - t; console.log(JSON.stringify({ ms, graph: p.session.graph })); await p.dispose();`;

function createMs(cache: string | undefined): { ms: number; graph: string } {
  const env = { ...process.env, PRNET_GRAPH_CACHE: cache ?? '' };
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', create], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim()) as { ms: number; graph: string };
}
function cliMs(cache: string | undefined): number {
  const env = { ...process.env, PRNET_GRAPH_CACHE: cache ?? '' };
  const t = performance.now();
  const r = spawnSync(process.execPath, [join(repo, 'bin', 'prnet.js'), 'reconstruct', join(repo, 'examples', 'astronaut.jpg'), '--out', join(tmp, 'out'), '--formats', 'json', '--quiet'], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return performance.now() - t;
}

const cases = { 'createPrnet(), graph cache': [] as number[], 'createPrnet(), cache off (built)': [] as number[], 'createPrnet(), cache empty (built, written)': [] as number[], 'CLI first result, graph cache': [] as number[], 'CLI first result, cache off (built)': [] as number[] };
try {
  const cache = join(tmp, 'cache');
  createMs(cache); // fills it
  for (let r = 0; r < rounds; r++) {
    const hit = createMs(cache);
    if (hit.graph !== 'cached') throw new Error(`expected the cached graph, got ${hit.graph}`);
    cases['createPrnet(), graph cache'].push(hit.ms);
    cases['createPrnet(), cache off (built)'].push(createMs('off').ms);
    const empty = join(tmp, `empty${r}`);
    cases['createPrnet(), cache empty (built, written)'].push(createMs(empty).ms);
    cases['CLI first result, graph cache'].push(cliMs(cache));
    cases['CLI first result, cache off (built)'].push(cliMs('off'));
  }
} finally {
  await rm(tmp, { recursive: true, force: true });
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const w = Math.max(...Object.keys(cases).map((k) => k.length));
console.log(`fresh processes, ${rounds} alternating rounds: median (min–max) ms`);
for (const [k, v] of Object.entries(cases)) console.log(`${k.padEnd(w)}  ${median(v).toFixed(0).padStart(5)}  (${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)})`);

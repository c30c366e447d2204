import { writeTable } from './helpers/checkpoint.js';
import { copyFile, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../src/errors.js';
import {
  buildResfcnOnnx, checkpointNameMap, crc32c, importCheckpoint, isOptimizerVariable, maskCrc, parseBundleIndex,
  readTable, resfcnTensorSpecs, TF_DTYPES, unmaskCrc, type BundleEntry, type ModelWeights,
} from '../src/model/index.js';

const NET_DATA = resolve(import.meta.dirname, '../../shared/reference/prnet/net-data');
const INDEX = join(NET_DATA, '256_256_resfcn256_weight.index');
const index = parseBundleIndex(readFileSync(INDEX), INDEX);
const names = checkpointNameMap(16); // ours → TF
const modelEntries: BundleEntry[] = [...names.values()].map((tf) => index.entries.get(tf) as BundleEntry);

async function expectModelError(p: Promise<unknown>, ...parts: string[]): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ModelError);
  for (const part of parts) expect((err as Error).message).toContain(part);
}


/** The known synthetic value of element j of a TF variable (float32-representable by construction). */
function known(entry: BundleEntry, j: number): number {
  const u = ((entry.offset % 9973) * 7919 + j * 104729) % 10007 / 10007; // [0, 1)
  const leaf = entry.name.slice(entry.name.lastIndexOf('/') + 1);
  if (leaf === 'weights') {
    const fanIn = entry.shape[0] * entry.shape[1] * entry.shape[2];
    return (u - 0.5) * 2 * Math.sqrt(3 / fanIn);
  }
  if (leaf === 'moving_variance' || leaf === 'gamma') return 0.5 + u;
  if (leaf === 'moving_mean') return (u - 0.5) * 0.2;
  return u - 0.5; // beta
}

describe('the official checkpoint index (256_256_resfcn256_weight.index)', () => {
  it('parses to the same 545 entries as the decoded listing variables.txt', () => {
    expect(index.header).toEqual({ numShards: 1, endianness: 0, producer: 1 });
    const lines = [...index.entries.values()].map((e) => `${e.name} ${TF_DTYPES[e.dtype].name} [${e.shape.join(', ')}] off=${e.offset} bytes=${e.size}`);
    const listing = readFileSync(join(NET_DATA, 'variables.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual(listing.map((l) => l.replace(/\s+/g, ' ').trim()));
    for (const e of index.entries.values()) expect(e.maskedCrc32c).toBeTypeOf('number');
  });

  it('maps all 245 model variables onto our tensors with matching shapes, and everything else is optimizer state', () => {
    const specs = resfcnTensorSpecs({ width: 16 });
    expect(names.size).toBe(245);
    const mapped = new Set(names.values());
    for (const s of specs) {
      const e = index.entries.get(names.get(s.name) as string);
      expect(e, s.name).toBeDefined();
      const [a, b, kh, kw] = s.shape;
      expect(e!.shape).toEqual(s.role === 'bn' ? s.shape : [kh, kw, b, a]);
      expect(e!.size).toBe(s.shape.reduce((x, y) => x * y, 1) * 4);
    }
    const rest = [...index.entries.keys()].filter((n) => !mapped.has(n));
    expect(rest).toHaveLength(300);
    expect(rest.every(isOptimizerVariable)).toBe(true);
  });

  it('uses CRC32C (Castagnoli) and LevelDB masking', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(unmaskCrc(maskCrc(0x12345678))).toBe(0x12345678);
  });
});

describe('importCheckpoint on a synthetic data file', () => {
  let dir: string;
  let prefix: string;
  let imported: ModelWeights;
  const end = Math.max(...modelEntries.map((e) => e.offset + e.size));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prnet-ckpt-'));
    prefix = join(dir, 'ckpt');
    await copyFile(INDEX, `${prefix}.index`);
    // Sparse: only the model tensors' byte ranges are written; the Adam slots stay holes.
    const fh = await open(`${prefix}.data-00000-of-00001`, 'w');
    await fh.truncate(end);
    for (const e of modelEntries) {
      const v = new Float32Array(e.size / 4);
      for (let j = 0; j < v.length; j++) v[j] = known(e, j);
      await fh.write(new Uint8Array(v.buffer), 0, e.size, e.offset);
    }
    await fh.close();
    imported = await importCheckpoint(prefix, { verifyChecksums: false });
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('imports every tensor with its known values, kernels transposed (3, 2, 0, 1)', () => {
    expect(imported.config).toEqual({ width: 16, inputSize: 256, outputScale: 281.6 });
    expect(imported.metadata.format).toBe('prnet-ts/resfcn');
    expect(imported.tensors.size).toBe(245);
    for (const s of resfcnTensorSpecs({ width: 16 })) {
      const e = index.entries.get(names.get(s.name) as string) as BundleEntry;
      const got = imported.tensors.get(s.name) as Float32Array;
      let mismatches = 0;
      if (s.role === 'bn') {
        for (let j = 0; j < got.length; j++) if (got[j] !== Math.fround(known(e, j))) mismatches++;
      } else {
        // ours [A, B, kh, kw] (A = out for conv, in for transposed conv) = TF [kh, kw, B, A]
        const [A, B, KH, KW] = s.shape;
        for (let a = 0; a < A; a++)
          for (let b = 0; b < B; b++)
            for (let y = 0; y < KH; y++)
              for (let x = 0; x < KW; x++) {
                const ours = ((a * B + b) * KH + y) * KW + x;
                const tf = ((y * KW + x) * B + b) * A + a;
                if (got[ours] !== Math.fround(known(e, tf))) mismatches++;
              }
      }
      expect(mismatches, s.name).toBe(0);
    }
  });

  it('the imported model builds an ONNX graph that runs: 1×3×256×256, finite', async () => {
    const session = await ort.InferenceSession.create(buildResfcnOnnx(imported.tensors, imported.config), { intraOpNumThreads: 2 });
    const x = new Float32Array(3 * 256 * 256).map((_, i) => (i % 251) / 251);
    const out = await session.run({ input: new ort.Tensor('float32', x, [1, 3, 256, 256]) });
    await session.release();
    expect(out.output.dims).toEqual([1, 3, 256, 256]);
    expect((out.output.data as Float32Array).every(Number.isFinite)).toBe(true);
  });

  it('checks CRC32C by default: the synthetic bytes fail, naming the first tensor read', async () => {
    const first = [...modelEntries].sort((a, b) => a.offset - b.offset)[0];
    await expectModelError(importCheckpoint(prefix), 'ckpt.data-00000-of-00001', first.name, 'CRC32C');
  });

  it('a truncated data file names the first tensor that does not fit', async () => {
    const p = join(dir, 'cut');
    await copyFile(INDEX, `${p}.index`);
    const sorted = [...modelEntries].sort((a, b) => a.offset - b.offset);
    const victim = sorted[Math.floor(sorted.length / 2)];
    const fh = await open(`${p}.data-00000-of-00001`, 'w');
    await fh.truncate(victim.offset + victim.size - 1);
    await fh.close();
    await expectModelError(importCheckpoint(p, { verifyChecksums: false }), 'cut.data-00000-of-00001', `variable ${victim.name} `, 'truncated');
  });

  it('a missing .index or .data file is a ModelError naming the file', async () => {
    await expectModelError(importCheckpoint(join(dir, 'nothing')), 'nothing.index', 'not found');
    const p = join(dir, 'nodata');
    await copyFile(INDEX, `${p}.index`);
    await expectModelError(importCheckpoint(p), 'nodata.data-00000-of-00001', 'not found');
  });

  it('an unmapped or a missing model variable is a ModelError naming it', async () => {
    const table = readTable(readFileSync(INDEX));
    const extra = join(dir, 'extra');
    const withExtra: [string, Uint8Array][] = [...table, ['resfcn256/extra_layer/weights', table[1][1]]];
    withExtra.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    await writeFile(`${extra}.index`, writeTable(withExtra));
    await expectModelError(importCheckpoint(extra), 'extra.index', 'unmapped model variable resfcn256/extra_layer/weights');

    const missing = join(dir, 'missing');
    const gone = 'resfcn256/resBlock_4/Conv_1/BatchNorm/gamma';
    await writeFile(`${missing}.index`, writeTable(table.filter(([k]) => k !== gone)));
    await expectModelError(importCheckpoint(missing), 'missing.index', `lacks variable ${gone}`, 'enc.5.bn2.weight');
  });
});

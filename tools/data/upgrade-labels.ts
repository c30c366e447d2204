/**
 * Re-runs only the 3DDFA_V2 teacher, with test-time augmentation, over an existing labels folder
 * (version 1 or 2) and writes a new version-2 folder: FaceMesh's points and every other field are
 * kept, so a folder labelled before TTA need not run FaceMesh again. Per kept photo: decode, TTA
 * from the record's own first crop (`crop`: the crop the labeller derived from FaceMesh's 68
 * points), the teachers' disagreement recomputed (a photo can now be dropped as
 * `teachers-disagree`); dropped photos are copied as they are. Part k is written to part k;
 * resumable (photos already in the output folder are skipped).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodeImageFile } from '../../src/io/image-node.js';
import { facemesh68 } from './facemesh.js';
import { innerDisagreement } from './label.js';
import { doneFiles, LabelsWriter, listParts, readLabels, type LabelEntry } from './labels-file.js';
import { sharedDir } from './tddfa.js';
import { DEFAULT_TDDFA_TTA, runTddfaTta, type TddfaTtaPreset } from './tddfa-tta.js';

export interface UpgradeOptions {
  /** Input labels folder (read only). */
  input: string;
  /** Output labels folder (version 2). */
  out: string;
  /** Folder the entries' file names are relative to (default: the shared folder). */
  root?: string;
  tta?: TddfaTtaPreset;
  /** As the labeller's (default 0.15). */
  maxDisagreement?: number;
  /** Stop after this many photos of this run (default: all). */
  limit?: number;
  onPhoto?: (entry: LabelEntry) => void;
}

export interface UpgradeSummary {
  done: number;
  kept: number;
  /** Kept before, dropped now because the teachers disagree. */
  newlyDropped: number;
  copiedDrops: number;
  skipped: number;
}

export async function upgradeLabels(o: UpgradeOptions): Promise<UpgradeSummary> {
  const root = resolve(o.root ?? sharedDir());
  const tta = o.tta ?? DEFAULT_TDDFA_TTA;
  // Version-2 labels already hold the TTA's re-crop as their crop: a second upgrade would re-crop
  // twice and differ from the labeller's result.
  for (const part of listParts(o.input)) {
    const bin = join(o.input, `part-${part}.bin`);
    if (existsSync(bin) && statSync(bin).size >= 12 && readFileSync(bin).readUInt32LE(8) !== 1) {
      throw new Error(`${bin}: labels version ${readFileSync(bin).readUInt32LE(8)}, not 1: already labelled with 3DDFA_V2's test-time augmentation`);
    }
  }
  const set = readLabels(o.input);
  // Open (and so repair) every output part first: a photo whose face lines a kill tore off is cut
  // there, and must not count as done.
  for (const part of listParts(o.input)) new LabelsWriter(o.out, part).close();
  const done = doneFiles(o.out);
  const recs = new Map(set.records.map((r) => [`${r.part}:${r.line}`, r]));
  const s: UpgradeSummary = { done: 0, kept: 0, newlyDropped: 0, copiedDrops: 0, skipped: 0 };
  const limit = o.limit ?? Infinity;
  for (const part of listParts(o.input)) {
    const writer = new LabelsWriter(o.out, part);
    try {
      const entries = set.entries.filter((e) => e.part === part);
      // The limit falls between photos, never between the faces of one.
      for (let line = 0; line < entries.length && (s.done < limit || (line > 0 && entries[line]!.file === entries[line - 1]!.file)); line++) {
        const { part: _p, rec: _r, ...entry } = entries[line]!;
        if (done.has(entry.file)) { s.skipped++; continue; }
        let written: LabelEntry;
        const rec = entry.ok ? recs.get(`${part}:${line}`) : undefined;
        if (!entry.ok || !rec) {
          written = writer.append({ ...entry, ok: false, reason: entry.reason ?? 'missing-record' });
          s.copiedDrops++;
        } else {
          const t0 = performance.now();
          const image = await decodeImageFile(resolve(root, entry.file));
          const t1 = performance.now();
          const r = await runTddfaTta(image, rec.crop, tta);
          const ms: [number, number, number] = [entry.ms?.[0] ?? 0, performance.now() - t1, (entry.ms?.[2] ?? 0) - (entry.ms?.[1] ?? 0) + performance.now() - t0]
            .map((v) => Math.round(v * 10) / 10) as [number, number, number];
          const disagreement = innerDisagreement(r.points, facemesh68(rec.facemesh));
          if (!r.points.every(Number.isFinite)) {
            written = writer.append({ ...entry, ok: false, reason: 'bad-points', detail: 'non-finite coordinates', ms, tddfaTta: tta } as LabelEntry);
            s.newlyDropped++;
          } else if (disagreement > (o.maxDisagreement ?? 0.15)) {
            written = writer.append({ ...entry, ok: false, reason: 'teachers-disagree', detail: `inner-point distance ${(100 * disagreement).toFixed(1)} % of face size`, ms, tddfaTta: tta } as LabelEntry);
            s.newlyDropped++;
          } else {
            const { file: _f, part: _q, line: _l, ...record } = rec;
            written = writer.append({ ...entry, ms, tddfaTta: tta } as LabelEntry, { ...record, tddfa: r.points, params: r.params, crop: r.crop, disagreement });
            s.kept++;
          }
        }
        s.done++;
        o.onPhoto?.(written);
      }
    } finally {
      writer.close();
    }
  }
  return s;
}

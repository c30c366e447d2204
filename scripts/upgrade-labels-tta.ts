/**
 * Re-runs 3DDFA_V2 with test-time augmentation over an existing labels folder, keeping FaceMesh's
 * points (tools/data/upgrade-labels.ts; docs/labels-format.md):
 *
 *   npx tsx scripts/upgrade-labels-tta.ts --in <labels dir> --out <new labels dir>
 *        [--tta recrop-flip-rot] [--root <folder the file names are relative to>] [--limit N]
 *
 * Progress on stderr; a summary line at the end. Resumable (photos in --out are skipped).
 */
import { resolve } from 'node:path';
import { Progress } from '../src/cli/progress.js';
import { readLabels } from '../tools/data/labels-file.js';
import { DEFAULT_TDDFA_TTA, TDDFA_TTA_PRESETS, type TddfaTtaPreset } from '../tools/data/tddfa-tta.js';
import { upgradeLabels } from '../tools/data/upgrade-labels.js';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const input = opt('in');
const out = opt('out');
const tta = (opt('tta') ?? DEFAULT_TDDFA_TTA) as TddfaTtaPreset;
if (!input || !out || !(tta in TDDFA_TTA_PRESETS)) {
  process.stderr.write(`usage: npx tsx scripts/upgrade-labels-tta.ts --in DIR --out DIR [--tta ${Object.keys(TDDFA_TTA_PRESETS).join('|')}] [--root DIR] [--limit N]\n`);
  process.exit(2);
}
if (resolve(input) === resolve(out)) {
  process.stderr.write('upgrade-labels-tta: --out must be another folder than --in\n');
  process.exit(2);
}
const limit = opt('limit') ? Number(opt('limit')) : undefined;
const total = Math.min(readLabels(input).entries.length, limit ?? Infinity);
const progress = new Progress(total, { label: 'upgrade', unit: 'photos' });
const s = await upgradeLabels({
  input, out, tta, root: opt('root'), limit,
  onPhoto: (e) => progress.tick(e.ok),
});
process.stderr.write(`${out}: ${s.done} photos (${s.kept} kept, ${s.newlyDropped} newly dropped, ${s.copiedDrops} drops copied), ${s.skipped} already there; 3DDFA_V2 TTA ${tta}\n`);

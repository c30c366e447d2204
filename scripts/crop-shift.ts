/**
 * How the 68 landmarks move when the crop moves by a tiny amount: the network's sensitivity to its
 * input, fp32 against int8 (whose 8-bit rounding of activations makes the output a step function
 * of the input). The detector's crop of one photo, then the same crop shifted right by each step,
 * through `reconstruct(image, { crops })`; prints the mean absolute landmark change (pixels).
 *
 *   npx tsx scripts/crop-shift.ts [photo] [--model default|light]
 */
import { parseArgs } from 'node:util';
import { cropTransform, createPrnet, decodeImageFile } from '../src/index.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { model: { type: 'string', default: 'default' } } });
const photo = positionals[0] ?? 'examples/astronaut.jpg';
const image = await decodeImageFile(photo);
const steps = [1e-9, 1e-6, 1e-4, 5e-4, 1e-3, 1e-2, 0.1, 0.5];
console.log(`${photo}, ${values.model} model: mean |Δ| of the 68 landmarks (x, y, z; px) for a crop shifted by …`);
console.log(['precision', ...steps.map(String)].join('\t'));
for (const precision of ['fp32', 'int8'] as const) {
  const prnet = await createPrnet({ model: values.model, precision });
  const [face] = (await prnet.reconstruct(image)).faces;
  if (!face) throw new Error(`no face found in ${photo}`);
  const { cx, cy, side, angle } = face.crop.square;
  const row: string[] = [precision];
  for (const step of steps) {
    const [moved] = (await prnet.reconstruct(image, { crops: [cropTransform({ cx: cx + step, cy, side, angle })] })).faces;
    let sum = 0;
    for (let i = 0; i < face.landmarks.length; i++) sum += Math.abs(moved.landmarks[i] - face.landmarks[i]);
    row.push((sum / face.landmarks.length).toFixed(4));
  }
  console.log(row.join('\t'));
  await prnet.dispose();
}

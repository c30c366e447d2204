/** `prnet import-checkpoint`: the official TensorFlow checkpoint → our model file. */
import { importCheckpoint, serializeModel } from '../model/index.js';
import { writeFileAtomic } from './atomic.js';
import { EXIT, UsageError, parseOptions } from './options.js';

export async function runImportCheckpoint(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    out: { type: 'string', short: 'o' },
    f32: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError('import-checkpoint needs one checkpoint prefix (the path without .index)');
  if (!values.out) throw new UsageError('import-checkpoint needs --out <model.safetensors>');
  const prefix = positionals[0].replace(/\.index$/, '');
  const weights = await importCheckpoint(prefix);
  const bytes = serializeModel(weights, { dtype: values.f32 ? 'F32' : 'F16' });
  await writeFileAtomic(values.out, bytes);
  process.stderr.write(`${prefix}: ${weights.tensors.size} tensors imported → ${values.out} (${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB, ${values.f32 ? 'float32' : 'float16'})\n`);
  return EXIT.ok;
}

/** `prnet import-checkpoint`: the official TensorFlow checkpoint → our model file. */
import { importCheckpoint, serializeModel } from '../model/index.js';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { makeOutputFolder, onInterruptNotWritten, refuseOverwritingInputs, writeFileAtomic } from './atomic.js';
import { escapeControl } from '../errors.js';
import { EXIT, UsageError, parseOptions } from './options.js';

export async function runImportCheckpoint(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    out: { type: 'string', short: 'o' },
    f32: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError('import-checkpoint needs one checkpoint prefix (the path without .index)');
  if (!values.out) throw new UsageError('import-checkpoint needs --out <model.safetensors>');
  const prefix = await checkpointPrefix(positionals[0]);
  // The checkpoint's index and data shards (prefix.data-00000-of-00001, …) are irreplaceable.
  const shards = (await readdir(dirname(prefix)).catch(() => [] as string[])).filter((n) => n.startsWith(`${basename(prefix)}.data-`));
  const out = values.out;
  await refuseOverwritingInputs(out, [`${prefix}.index`, ...shards.map((n) => join(dirname(prefix), n))]);
  // The folder it goes in, before the import (a path through a file is exit 2 at once, not after it).
  await makeOutputFolder(dirname(out));
  // An interrupt removes the temporary file and a folder made for the output, and says so.
  const stopHandling = onInterruptNotWritten(out);
  try {
    const weights = await importCheckpoint(prefix);
    const bytes = serializeModel(weights, { dtype: values.f32 ? 'F32' : 'F16' });
    await writeFileAtomic(out, bytes);
    process.stderr.write(`${escapeControl(prefix)}: ${weights.tensors.size} tensors imported → ${escapeControl(out)} (${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB, ${values.f32 ? 'float32' : 'float16'})\n`);
  } finally {
    stopHandling();
  }
  return EXIT.ok;
}

/**
 * The checkpoint's prefix from what was given: the prefix itself, its .index or a .data-… shard, or
 * the folder that holds one checkpoint (its one .index). A folder with none or several is a usage
 * error naming them (it was "<folder>/.index: checkpoint index not found").
 */
async function checkpointPrefix(given: string): Promise<string> {
  const stripped = given.replace(/\.index$/, '').replace(/\.data-\d+-of-\d+$/, '');
  if (stripped !== given) return stripped;
  if (!(await stat(given).catch(() => null))?.isDirectory()) return given;
  const indexes = (await readdir(given)).filter((n) => n.endsWith('.index')).sort();
  if (indexes.length === 1) return join(given, indexes[0].slice(0, -'.index'.length));
  throw new UsageError(indexes.length
    ? `${given} holds ${indexes.length} checkpoints (${indexes.join(', ')}): give one's prefix, e.g. ${join(given, indexes[0].slice(0, -'.index'.length))}`
    : `${given} is a folder with no checkpoint (.index) in it: give the checkpoint's prefix, e.g. ${join(given, '256_256_resfcn256_weight')}`);
}

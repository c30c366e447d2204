/**
 * The package supports Node ≥ 20.9, whose parseArgs has no `allowNegative` (Node 20.16 added it;
 * an older parseArgs ignores the key): here parseArgs runs as Node 20.9's does, and every `--no-`
 * switch must still parse.
 */
import { describe, expect, it, vi } from 'vitest';

vi.mock('node:util', async (importOriginal) => {
  const util = await importOriginal<typeof import('node:util')>();
  const parseArgs = ((config: Parameters<typeof util.parseArgs>[0]) => {
    const { allowNegative: _ignored, ...rest } = (config ?? {}) as Record<string, unknown>;
    return util.parseArgs(rest);
  }) as typeof util.parseArgs;
  return { ...util, default: { ...util, parseArgs }, parseArgs };
});

const { parseOptions, UsageError } = await import('../src/cli/options.js');

describe('switches on a parseArgs without allowNegative (Node 20.9–20.15)', () => {
  const options = { center: { type: 'boolean' }, tiles: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, out: { type: 'string' } } as const;

  it('--no-x turns x off, --x on, in values and tokens alike', () => {
    const { values, positionals, tokens } = parseOptions(['a.jpg', '--no-tiles', '--center', '-q', '--out', 'o'], options);
    expect({ ...values }).toEqual({ tiles: false, center: true, quiet: true, out: 'o' });
    expect(positionals).toEqual(['a.jpg']);
    expect(tokens.filter((t) => t.kind === 'option').map((t) => [t.name, t.rawName])).toEqual([['tiles', '--no-tiles'], ['center', '--center'], ['quiet', '-q'], ['out', '--out']]);
  });

  it('a switch with its negation is refused, a repeated one taken; an unknown --no- option is still unknown', () => {
    expect(() => parseOptions(['--center', '--no-center'], options)).toThrow(new UsageError('--center and --no-center are both given: give one'));
    expect({ ...parseOptions(['--no-tiles', '--no-tiles'], options).values }).toEqual({ tiles: false });
    expect(() => parseOptions(['--no-out'], options)).toThrow(/Unknown option '--no-out'/);
    expect(() => parseOptions(['--no-centre'], options)).toThrow(/did you mean '--no-center'/);
  });

  it('the CLI takes its --no- switches: a reconstruct with them reaches its input', async () => {
    const { runMain } = await import('./helpers/main-inprocess.js');
    const r = await runMain(['reconstruct', '/nonexistent/x.jpg', '--out', '/nonexistent/out', '--no-flip', '--no-center', '--no-tiles', '--quiet']);
    expect(r.errLines.join('\n')).not.toMatch(/Unknown option/);
    expect(r.errLines.join('\n')).toMatch(/\/nonexistent\/x\.jpg/);
  });
});

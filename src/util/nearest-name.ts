/** The known name a mistyped one most likely meant (CLI options and commands, library option keys). Pure. */

/**
 * The name of `names` closest to a mistyped `given`, compared without case and leading dashes: at
 * most 2 edits and fewer than a third of its letters; else the one name that `given` begins (4
 * letters or more), or the one name that begins `given` (`--output` → `--out`); else undefined.
 */
export function nearestName(given: string, names: readonly string[]): string | undefined {
  const bare = (s: string): string => s.replace(/^-+/, '').toLowerCase();
  const g = bare(given);
  if (!g) return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const d = editDistance(g, bare(name));
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  if (best !== undefined && bestDistance <= Math.min(2, Math.floor((g.length - 1) / 3))) return best;
  const begun = names.filter((n) => g.length >= 4 && bare(n).startsWith(g));
  if (begun.length === 1) return begun[0];
  const beginning = names.filter((n) => bare(n).length >= 3 && g.startsWith(bare(n)));
  return beginning.length === 1 ? beginning[0] : undefined;
}

/**
 * nearestName for a short list of words (commands, bundled models), else the one of them that
 * starts with the same two letters: 'swp' → 'swap', 'lite' → 'light' are beyond nearestName's edits.
 */
export function nearestWord(given: string, names: readonly string[]): string | undefined {
  const near = nearestName(given, names);
  if (near !== undefined) return near;
  const start = given.replace(/^-+/, '').slice(0, 2).toLowerCase();
  const same = start.length === 2 ? names.filter((n) => n.toLowerCase().startsWith(start)) : [];
  return same.length === 1 ? same[0] : undefined;
}

/** " (did you mean 'x'?)" for nearestWord's match of `given` among `names`, else ''. */
export function didYouMean(given: string, names: readonly string[]): string {
  const near = nearestWord(given, names);
  return near ? ` (did you mean '${near}'?)` : '';
}

/** Edit distance: insertions, deletions, substitutions and swaps of two neighbouring letters ('modle'), one each. */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) next[j] = Math.min(next[j], before[j - 2] + 1);
    }
    before = row;
    row = next;
  }
  return row[b.length];
}

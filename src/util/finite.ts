/** The index of the first value that is not finite, or -1: x · 0 is NaN exactly when x is not finite (one sum first, no branch per value). */
export function firstNotFinite(values: ArrayLike<number>): number {
  let z = 0;
  for (let i = 0; i < values.length; i++) z += values[i] * 0;
  if (z === 0) return -1;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

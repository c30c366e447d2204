/**
 * A model file's tensors as a Map of float32 arrays whose half-precision (F16) tensors are decoded
 * only when read. The int8 graph quantizes its kernels straight from the halves (`halves`), so
 * loading the shipped models does not write a float32 copy of every weight: 54 MB of new memory
 * for the default model, whose first touch costs more than the decoding itself (docs/model-format.md,
 * "Loading"). Everything else sees an ordinary Map: `get` and every iteration decode what they
 * return, bit for bit as an eager decode would.
 */
import { f16AllFinite, f16ToF32 } from '../util/safetensors.js';

/** The value a not-yet-decoded tensor holds in the underlying Map (never handed out). */
const PENDING = new Float32Array(0);

export class HalfTensorMap extends Map<string, Float32Array> {
  readonly #halves = new Map<string, Uint16Array>();

  /** Float32 entries, as a Map's (the halves come by setHalves). */
  constructor(entries?: Iterable<readonly [string, Float32Array]> | null) {
    super(); // Map's own constructor would call the overridden set before #halves exists
    for (const [name, value] of entries ?? []) this.set(name, value);
  }

  /**
   * Adds a tensor stored as half-precision bit patterns: finite values only (the int8 graph finds
   * a channel's largest magnitude on the bits), RangeError for an infinity or NaN.
   */
  setHalves(name: string, halves: Uint16Array): this {
    if (!f16AllFinite(halves)) throw new RangeError(`tensor ${name} holds a non-finite value`);
    this.#halves.set(name, halves);
    super.set(name, PENDING);
    return this;
  }

  /** The half-precision bits of a tensor not yet decoded, else undefined (then use `get`). */
  halves(name: string): Uint16Array | undefined {
    return this.#halves.get(name);
  }

  /** Each tensor's value count, without decoding any (for validation). */
  lengths(): Map<string, { length: number }> {
    const r = new Map<string, { length: number }>();
    for (const [name, value] of super.entries()) r.set(name, { length: this.#halves.get(name)?.length ?? value.length });
    return r;
  }

  /** The tensors decoded so far or set as float32 (for checks that need no undecoded one). */
  decodedEntries(): [string, Float32Array][] {
    return [...super.entries()].filter(([name]) => !this.#halves.has(name));
  }

  override get(name: string): Float32Array | undefined {
    const halves = this.#halves.get(name);
    if (!halves) return super.get(name);
    const data = f16ToF32(halves);
    this.#halves.delete(name);
    super.set(name, data);
    return data;
  }

  override set(name: string, value: Float32Array): this {
    this.#halves.delete(name);
    return super.set(name, value);
  }

  override delete(name: string): boolean {
    this.#halves.delete(name);
    return super.delete(name);
  }

  override clear(): void {
    this.#halves.clear();
    super.clear();
  }

  override forEach(callback: (value: Float32Array, key: string, map: Map<string, Float32Array>) => void, thisArg?: unknown): void {
    this.#decodeAll();
    super.forEach(callback, thisArg);
  }

  override entries(): ReturnType<Map<string, Float32Array>['entries']> {
    this.#decodeAll();
    return super.entries();
  }

  override values(): ReturnType<Map<string, Float32Array>['values']> {
    this.#decodeAll();
    return super.values();
  }

  override [Symbol.iterator](): ReturnType<Map<string, Float32Array>['entries']> {
    this.#decodeAll();
    return super[Symbol.iterator]();
  }

  #decodeAll(): void {
    for (const name of [...this.#halves.keys()]) this.get(name);
  }
}

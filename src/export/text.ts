/**
 * Text output for the ASCII mesh formats (OBJ, ASCII PLY): numbers formatted straight into a
 * growing byte buffer, without a string per number. `fmt` is the formatting rule (and the
 * reference the fast path is tested against); `TextWriter.fixed` writes the same characters.
 */

const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000];

/** x rounded to `decimals` decimals, written without trailing zeros or "-0" (NaN → "0"). */
export function fmt(x: number, decimals: number): string {
  const f = POW10[decimals] ?? 10 ** decimals;
  const r = Math.round(x * f) / f;
  if (r === 0 || r !== r) return '0';
  if (Math.abs(r) >= 1e21) return x.toFixed(0);
  return String(r);
}

/** The decimals of the ASCII formats, checked: a whole number from 0 to 10 (RangeError; NaN wrote every number as 0). */
export function checkDecimals(decimals: number): number {
  if (!(Number.isInteger(decimals) && decimals >= 0 && decimals <= 10)) throw new RangeError(`decimals must be a whole number from 0 to 10, got ${String(decimals)}`);
  return decimals;
}

/** Decimal digits of a non-negative int32. */
function countDigits(n: number): number {
  if (n < 100000) return n < 100 ? (n < 10 ? 1 : 2) : n < 1000 ? 3 : n < 10000 ? 4 : 5;
  return n < 10000000 ? (n < 1000000 ? 6 : 7) : n < 100000000 ? 8 : n < 1000000000 ? 9 : 10;
}

const encoder = new TextEncoder();

/** Decimal digits of 0..count−1, back to back, with each number's start (grown on demand; face lines copy from it). */
let numberTable = { count: 0, bytes: new Uint8Array(0), starts: new Uint32Array(1) };

function numbersUpTo(count: number): typeof numberTable {
  if (count <= numberTable.count) return numberTable;
  const n = Math.max(count, 2 * numberTable.count, 1024);
  const starts = new Uint32Array(n + 1);
  let size = 0;
  for (let i = 0; i < n; i++) {
    starts[i] = size;
    size += countDigits(i);
  }
  starts[n] = size;
  const bytes = new Uint8Array(size);
  for (let i = 0; i < n; i++) {
    let v = i;
    for (let o = starts[i + 1] - 1; o >= starts[i]; o--) {
      const q = (v / 10) | 0;
      bytes[o] = 48 + (v - 10 * q);
      v = q;
    }
  }
  numberTable = { count: n, bytes, starts };
  return numberTable;
}
const decoder = new TextDecoder();

/** The digits of 0..9999, 4 bytes each (zero-padded; written as one 32-bit word), and their counts. */
const INT_CHARS = new Uint8Array(4 * 10000);
const INT_LENGTHS = new Uint8Array(10000);
for (let i = 0; i < 10000; i++) {
  const s = String(i);
  INT_LENGTHS[i] = s.length;
  for (let j = 0; j < s.length; j++) INT_CHARS[4 * i + j] = s.charCodeAt(j);
}
const INT_WORDS = new DataView(INT_CHARS.buffer);

/** Counts of decimals up to which the decimals are copied from a table (10^d entries, 90 KB at 4). */
const FRACTION_TABLE_DECIMALS = 4;

interface FractionTable {
  /** 8 bytes per entry (zero-padded; written as two 32-bit words). */
  words: DataView;
  lengths: Uint8Array;
}
const fractionTables: FractionTable[] = [];

/**
 * For d decimals, per value r of 1..10^d − 1, the text of r / 10^d without the leading "0" and
 * without trailing zeros (".5" for 5000 at 4 decimals). Built on first use.
 */
function fractionTable(d: number): FractionTable {
  let t = fractionTables[d];
  if (t) return t;
  const f = POW10[d];
  const chars = new Uint8Array(8 * f);
  const lengths = new Uint8Array(f);
  for (let r = 1; r < f; r++) {
    let n = r;
    let nd = d;
    while (n % 10 === 0) {
      n /= 10;
      nd--;
    }
    lengths[r] = nd + 1;
    chars[8 * r] = 46; // "."
    for (let j = nd; j >= 1; j--) {
      chars[8 * r + j] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
  }
  t = { words: new DataView(chars.buffer), lengths };
  fractionTables[d] = t;
  return t;
}

/** Room every number or integer write makes sure of before writing unchecked (sign, 16 digits, ".", 7 decimals). */
const NUMBER_ROOM = 32;

/**
 * An append-only byte buffer for ASCII text (strings with other characters are written as UTF-8).
 * Read the result with `bytes()` (a view, no copy) or `toString()`.
 */
export class TextWriter {
  private buf: Uint8Array;
  /** The buffer as a DataView (word writes). */
  private view: DataView;
  private len = 0;

  /**
   * capacity: the expected size in bytes (the buffer grows as needed). `reuse`: a buffer to write
   * into from its start instead of a new one, when it holds at least the capacity (its contents are
   * overwritten; the writer owns it from then on).
   */
  constructor(capacity = 1 << 16, reuse?: Uint8Array) {
    const size = Math.max(64, Math.ceil(capacity));
    this.buf = reuse && reuse.length >= size ? reuse : new Uint8Array(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  get length(): number {
    return this.len;
  }

  /** Bytes the buffer holds before it must grow. */
  get capacity(): number {
    return this.buf.length;
  }

  /** Appends a string: character codes directly when ASCII, else its UTF-8 bytes. */
  text(s: string): this {
    const n = s.length;
    this.ensure(n);
    const buf = this.buf;
    let o = this.len;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        const bytes = encoder.encode(s.slice(i));
        this.len = o;
        this.ensure(bytes.length);
        this.buf.set(bytes, this.len);
        this.len += bytes.length;
        return this;
      }
      buf[o++] = c;
    }
    this.len = o;
    return this;
  }

  /**
   * Appends OBJ face corners for the 0-based vertex indices of each triangle (T×3): per triangle
   * `f a b c` with `repeat` copies of each 1-based index joined by `sep` (e.g. "1//1": repeat 2,
   * sep "//"; "1/1/1": repeat 3, sep "/"). Digits are copied from a table, not formatted per number.
   */
  faces(triangles: ArrayLike<number>, repeat: number, sep: string): this {
    let max = 0;
    for (let i = 0; i < triangles.length; i++) if (triangles[i] > max) max = triangles[i];
    const { bytes, starts } = numbersUpTo(max + 2);
    const sepBytes = encoder.encode(sep);
    const perCorner = (countDigits(max + 1) + sepBytes.length) * repeat + 1;
    this.ensure(triangles.length * perCorner + 4 * (triangles.length / 3) + 8);
    const buf = this.buf;
    let o = this.len;
    for (let t = 0; t < triangles.length; t += 3) {
      buf[o++] = 102; // "f"
      for (let k = 0; k < 3; k++) {
        buf[o++] = 32;
        const v = triangles[t + k] + 1;
        const a = starts[v], b = starts[v + 1];
        for (let r = 0; r < repeat; r++) {
          if (r) for (let j = 0; j < sepBytes.length; j++) buf[o++] = sepBytes[j];
          for (let j = a; j < b; j++) buf[o++] = bytes[j];
        }
      }
      buf[o++] = 10;
    }
    this.len = o;
    return this;
  }

  /**
   * Appends a line per triple of values (x, y, z): `prefix`, then the three as fixed(v, decimals)
   * joined by spaces, then a newline — the characters of text(prefix).fixed(x, decimals).byte(32)…
   * .byte(10), in one loop (the OBJ's `v` and `vn` lines). `ends[i]`, when given, receives the
   * offset of line i's newline.
   */
  triples(prefix: string, values: ArrayLike<number>, decimals: number, ends?: Uint32Array): this {
    const n = Math.floor(values.length / 3);
    if (!(decimals >= 1 && decimals <= FRACTION_TABLE_DECIMALS && decimals === (decimals | 0))) {
      for (let i = 0; i < n; i++) {
        this.text(prefix).fixed(values[3 * i], decimals).byte(32).fixed(values[3 * i + 1], decimals).byte(32).fixed(values[3 * i + 2], decimals);
        if (ends) ends[i] = this.len;
        this.byte(10);
      }
      return this;
    }
    const pre = encoder.encode(prefix);
    const f = POW10[decimals];
    const { words, lengths } = fractionTable(decimals);
    // a number's pieces are written as whole words, up to 7 bytes past their end (overwritten next)
    const lineRoom = pre.length + 3 * NUMBER_ROOM + 8;
    for (let i = 0; i < n; i++) {
      this.ensure(lineRoom);
      let buf = this.buf;
      let view = this.view;
      let o = this.len;
      for (let j = 0; j < pre.length; j++) buf[o++] = pre[j];
      for (let c = 0; c < 3; c++) {
        if (c) buf[o++] = 32;
        // fixed(x, decimals), its common case inline (see there)
        const x = values[3 * i + c];
        const k = Math.round(x * f);
        const a = k < 0 ? -k : k;
        if (!(a < 2147483648)) {
          this.len = o;
          this.fixed(x, decimals);
          buf = this.buf;
          view = this.view;
          o = this.len;
          continue;
        }
        if (a === 0) {
          buf[o++] = 48;
          continue;
        }
        const ip = (a / f) | 0;
        const fr = a - ip * f;
        if (k < 0) buf[o++] = 45;
        if (ip < 10000) {
          view.setUint32(o, INT_WORDS.getUint32(4 * ip, true), true);
          o += INT_LENGTHS[ip];
        } else {
          this.len = o;
          this.digits(ip);
          o = this.len;
        }
        if (fr !== 0) {
          view.setUint32(o, words.getUint32(8 * fr, true), true);
          view.setUint32(o + 4, words.getUint32(8 * fr + 4, true), true);
          o += lengths[fr];
        }
      }
      if (ends) ends[i] = o;
      buf[o++] = 10;
      this.len = o;
    }
    return this;
  }

  /** Appends bytes (ASCII or UTF-8 text written before, e.g. by `memoText`). */
  append(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }

  /**
   * Room for `extra` more bytes: the buffer to write them into from offset `length`; then `advance`
   * to the new end. For loops that write many small pieces without a call per piece.
   */
  reserve(extra: number): Uint8Array {
    this.ensure(extra);
    return this.buf;
  }

  /** Sets the end after writing into the buffer `reserve` returned (at most the bytes reserved). */
  advance(end: number): this {
    if (!(end >= this.len && end <= this.buf.length)) throw new RangeError(`advance to ${end}: outside ${this.len}..${this.buf.length}`);
    this.len = end;
    return this;
  }

  /** Appends one byte (a character code below 128). */
  byte(c: number): this {
    if (this.len === this.buf.length) this.ensure(1);
    this.buf[this.len++] = c;
    return this;
  }

  /** Appends an integer in decimal (as String(n) writes it for safe integers). */
  int(n: number): this {
    if (!Number.isSafeInteger(n)) return this.text(String(n));
    this.ensure(NUMBER_ROOM);
    if (n < 0) {
      this.buf[this.len++] = 45; // "-"
      n = -n;
    }
    this.digits(n);
    return this;
  }

  /**
   * Appends x rounded to `decimals` decimals without trailing zeros or "-0" (NaN → "0"): exactly
   * the characters of fmt(x, decimals).
   */
  fixed(x: number, decimals: number): this {
    // Outside the fast paths (a count of decimals that is not 0..7, or a rounded value that
    // String() writes with an exponent or with more digits than a double keeps), fmt's string.
    if (!(decimals >= 0 && decimals <= 7) || decimals !== (decimals | 0)) return this.text(fmt(x, decimals));
    const f = POW10[decimals];
    const k = Math.round(x * f);
    const a = k < 0 ? -k : k;
    if (a < 2147483648 && (a >= 10 || decimals < 7)) {
      // The common case: |k| an int32 (|x| < 214748 at 4 decimals; String(k / f) is then k's
      // digits, see below): the integer part a / f, then the decimals a mod f without their
      // trailing zeros (none, and no ".", when they are all zero). "0" also for −0.
      if (a === 0) return this.byte(48);
      // a / f is at least 1 / f away from the next integer and its rounding error far smaller: the truncation is exact.
      const ip = (a / f) | 0;
      const fr = a - ip * f;
      this.ensure(NUMBER_ROOM);
      const buf = this.buf;
      let o = this.len;
      if (k < 0) buf[o++] = 45; // "-"
      if (ip < 10000) {
        // digits from the table: 4 bytes per number
        const e = 4 * ip;
        const nd = INT_LENGTHS[ip];
        for (let j = 0; j < nd; j++) buf[o++] = INT_CHARS[e + j];
      } else {
        this.len = o;
        this.digits(ip);
        o = this.len;
      }
      if (fr !== 0) {
        if (decimals <= FRACTION_TABLE_DECIMALS) {
          // ".ddd" without trailing zeros, from the table of this count of decimals
          const { words, lengths } = fractionTable(decimals);
          const nd = lengths[fr];
          for (let j = 0; j < nd; j++) buf[o++] = words.getUint8(8 * fr + j);
        } else {
          let n = fr;
          let d = decimals;
          while (n % 10 === 0) {
            n /= 10;
            d--;
          }
          buf[o] = 46; // "."
          for (let j = o + d; j > o; j--) {
            const q = (n / 10) | 0;
            buf[j] = 48 + (n - 10 * q);
            n = q;
          }
          o += d + 1;
        }
      }
      this.len = o;
      return this;
    }
    if (k === 0 || k !== k) return this.byte(48); // NaN, or 0 at 7 decimals
    // a < 1e15: k / f has at most 15 significant digits, so String(k / f) is those digits
    // (the shortest decimal that reads back as k / f). a ≥ 10 at 7 decimals: k / f ≥ 1e-6, which
    // String() writes without an exponent.
    if (!(a < 1e15) || (decimals === 7 && a < 10)) return this.text(fmt(x, decimals));
    this.ensure(NUMBER_ROOM);
    if (k < 0) this.buf[this.len++] = 45; // "-"
    // a / f is at least 1 / f away from the next integer and its rounding error is far smaller, so the floor is exact.
    const ip = Math.floor(a / f);
    let fr = a - ip * f;
    this.digits(ip);
    if (fr !== 0) {
      let nd = decimals;
      while (fr % 10 === 0) {
        fr /= 10;
        nd--;
      }
      const buf = this.buf;
      const start = this.len;
      buf[start] = 46; // "."
      for (let o = start + nd; o > start; o--) {
        const q = (fr / 10) | 0;
        buf[o] = 48 + (fr - 10 * q);
        fr = q;
      }
      this.len = start + nd + 1;
    }
    return this;
  }

  /** The bytes written so far (a view of the buffer, valid until the next write). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** A copy of the bytes written so far, in a buffer of their exact size. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  /** The text written so far (decoded as UTF-8). */
  toString(): string {
    return decoder.decode(this.bytes());
  }

  /** A non-negative safe integer's digits; room already ensured. */
  private digits(v: number): void {
    const buf = this.buf;
    let nd = 1;
    if (v < 2147483648) {
      for (let t = v; t >= 10; t = (t / 10) | 0) nd++;
      let o = this.len + nd - 1;
      for (; v >= 10; o--) {
        const q = (v / 10) | 0;
        buf[o] = 48 + (v - 10 * q);
        v = q;
      }
      buf[o] = 48 + v;
    } else {
      for (let t = v; t >= 10; t = Math.floor(t / 10)) nd++;
      let o = this.len + nd - 1;
      for (; v >= 10; o--) {
        const q = Math.floor(v / 10);
        buf[o] = 48 + (v - 10 * q);
        v = q;
      }
      buf[o] = 48 + v;
    }
    this.len += nd;
  }

  private ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(need, this.buf.length * 2));
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }
}

/**
 * The last text written per key, with a copy of the values it was written from, and the writer's
 * buffer the text is a view of (reused for the key's next text; null when the text is a copy).
 */
const memo = new Map<string, { values: ArrayLike<number>; bytes: Uint8Array; buffer: Uint8Array | null }>();

/**
 * Text that depends only on the values of one array, written by `write` — or the same bytes
 * again when the last call with this key saw the same values (compared value by value, a small
 * fraction of formatting them). The layout's triangles and UVs are the same for every face and
 * every photo, and one face's normals go into two OBJ files. One entry per key (a few MB in all).
 *
 * The bytes are valid until the next call with the same key: a key's new text is written over
 * its last one (its buffer and its copy of the values are reused), so callers copy the bytes
 * (into a file's buffer) before that, and never return them.
 */
export function memoText(key: string, values: ArrayLike<number>, write: (w: TextWriter) => void, capacity?: number): Uint8Array {
  const hit = memo.get(key);
  if (hit && sameValues(hit.values, values)) return hit.bytes;
  // Forget the entry before its buffer is written over: a writer that threw halfway must not
  // leave the old values pointing at half-new text.
  memo.delete(key);
  const w = new TextWriter(capacity, hit?.buffer ?? undefined);
  write(w);
  // The writer's own buffer when the text fills most of it (no copy: a face's v and vn lines are
  // written anew for every face, into the same buffer); else a copy of its exact size (kept: little
  // memory held unused).
  const view = w.length >= 0.75 * w.capacity;
  const bytes = view ? w.bytes() : w.toBytes();
  memo.set(key, { values: copyValues(values, hit?.values), bytes, buffer: view ? w.reserve(0) : null });
  return bytes;
}

/** A copy of the values of a typed array (as its own type) or other array (as doubles): into `into` when that has the same type and length. */
function copyValues(values: ArrayLike<number>, into: ArrayLike<number> | undefined): ArrayLike<number> {
  if (values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint32Array) {
    if (into && into.constructor === values.constructor && into.length === values.length) {
      (into as Float32Array | Int32Array | Uint32Array).set(values);
      return into;
    }
    return values.slice();
  }
  if (into instanceof Float64Array && into.length === values.length) {
    for (let i = 0; i < values.length; i++) into[i] = values[i];
    return into;
  }
  return Float64Array.from(values);
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  // Typed arrays of one kind: their bytes, compared by memcmp (the same bits write the same text).
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b) && a.constructor === b.constructor) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return bytesEqual(x, y);
  }
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Byte equality: Buffer's memcmp in Node, a loop elsewhere (the browser). */
const bytesEqual: (x: Uint8Array, y: Uint8Array) => boolean =
  typeof Buffer === 'function'
    ? (x, y) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength))
    : (x, y) => {
        if (x.length !== y.length) return false;
        for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
        return true;
      };

/**
 * The labels file: per photo, the teachers' points (FaceMesh 468 × 3, 3DDFA_V2 68 × 3 and its 62
 * parameters) as fixed-size float32 records, plus a JSON-lines index of every photo processed,
 * kept or dropped. Format: docs/labels-format.md.
 *
 * A labels folder holds one or more parts, `part-<k>.bin` + `part-<k>.jsonl` (one per worker).
 * Writing is append-only and resumable: opening a part repairs a torn tail (a half-written line or
 * record from a killed run) and reports which photos every part of the folder already holds.
 */
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Box } from './facemesh.js';
import type { CropBox } from './tddfa.js';

/** File magic, 8 ASCII bytes at offset 0 of every part's .bin. */
export const LABELS_MAGIC = 'PRNLABEL';
/** 2: 3DDFA_V2's points are its test-time-augmented mean (tddfa-tta.ts); 1: one pass (same record layout, still read). */
export const LABELS_VERSION = 2;
/** Versions readLabels accepts; a writer appends only to parts of LABELS_VERSION (no mixed parts). */
export const LABELS_READABLE_VERSIONS: readonly number[] = [1, 2];
/** Bytes before the first record. */
export const LABELS_HEADER_BYTES = 64;

/** Offsets (in float32 units) of the fields of one record. */
export const REC = {
  width: 0,
  height: 1,
  boxX: 2,
  boxY: 3,
  boxW: 4,
  boxH: 5,
  cropSide: 6,
  score: 7,
  boxScore: 8,
  faceScore: 9,
  cropCx: 10,
  cropCy: 11,
  cropSide3ddfa: 12,
  faceCount: 13,
  line: 14,
  disagreement: 15,
  facemesh: 16,
  tddfa: 16 + 468 * 3,
  params: 16 + 468 * 3 + 68 * 3,
  /** Floats per record. */
  size: 16 + 468 * 3 + 68 * 3 + 62,
} as const;
/** Bytes per record (6,744). */
export const RECORD_BYTES = REC.size * 4;

/**
 * Sets labelled face by face (every face with eyes ≥ the minimum distance apart, one line each)
 * rather than by their largest face; the pack stores each of their faces as a region of its photo.
 */
export const FACE_BY_FACE_SETS: readonly string[] = ['webfaces'];

/** A training sample's name (the pack's names.txt): the photo, and `#k` for face k of a face-by-face set. */
export function sampleName(file: string, set: string, face: number): string {
  return FACE_BY_FACE_SETS.includes(set) ? `${file}#${face}` : file;
}

/** The photo of a sample's name (the name without its `#k`). */
export function photoOfSample(name: string): string {
  return name.replace(/#\d+$/, '');
}

/** One labelled face, in the photo's pixel frame (x right, y down, z towards the camera, pixels). */
export interface LabelRecord {
  width: number;
  height: number;
  /** The square box human cropped for FaceMesh (not clamped to the photo). */
  box: Box;
  /** Side S of FaceMesh's crop, pixels (its z unit is S/192 px). */
  cropSide: number;
  score: number;
  boxScore: number;
  faceScore: number;
  /** The crop 3DDFA_V2 ran on. */
  crop: CropBox;
  /** Faces with score ≥ the threshold in the photo (the largest one is labelled). */
  faceCount: number;
  /** Line number of this photo in its part's .jsonl (0-based). */
  line: number;
  /** Mean 2D distance of the 51 inner landmarks, FaceMesh vs 3DDFA_V2, / sqrt(w·h) of FaceMesh's 68-point box. */
  disagreement: number;
  /** FaceMesh 468 × 3 (z = raw·(−S/192), FaceMesh's own offset). */
  facemesh: Float32Array;
  /** 3DDFA_V2 68 × 3 (z scaled like x and y, min z = 0). */
  tddfa: Float32Array;
  /** 3DDFA_V2's 62 de-normalised parameters. */
  params: Float32Array;
}

/** One line of the index: a processed photo. */
export interface LabelEntry {
  /** Photo path relative to the labels' root (the shared folder for the project's sets). */
  file: string;
  ok: boolean;
  /** Record number in the part's .bin when ok. */
  rec?: number;
  /** Why it was dropped: decode-error, no-face, low-score, tddfa-error, bad-points, teachers-disagree. */
  reason?: string;
  detail?: string;
  w?: number;
  h?: number;
  /** Milliseconds: FaceMesh (incl. detection), 3DDFA_V2, whole photo (incl. decoding). */
  ms?: [number, number, number];
  /** Photos labelled face by face (`allFaces`): this line's face (0-based, largest first) and the photo's number of lines. */
  face?: number;
  faces?: number;
  /** The FaceMesh teacher: 'onnx' or 'human' (absent in labels written before the ONNX teacher: human). */
  fm?: string;
}

/** ~/.cache/prnet-ts, or $PRNET_CACHE. */
export function cacheDir(): string {
  return process.env.PRNET_CACHE ? resolve(process.env.PRNET_CACHE) : join(homedir(), '.cache', 'prnet-ts');
}

/** The default labels folder for a named set: <cache>/labels/<set>. */
export function labelsDir(set: string): string {
  return join(cacheDir(), 'labels', set);
}

export function encodeRecord(r: LabelRecord, out = new Float32Array(REC.size)): Float32Array {
  out[REC.width] = r.width;
  out[REC.height] = r.height;
  out[REC.boxX] = r.box.x;
  out[REC.boxY] = r.box.y;
  out[REC.boxW] = r.box.width;
  out[REC.boxH] = r.box.height;
  out[REC.cropSide] = r.cropSide;
  out[REC.score] = r.score;
  out[REC.boxScore] = r.boxScore;
  out[REC.faceScore] = r.faceScore;
  out[REC.cropCx] = r.crop.cx;
  out[REC.cropCy] = r.crop.cy;
  out[REC.cropSide3ddfa] = r.crop.side;
  out[REC.faceCount] = r.faceCount;
  out[REC.line] = r.line;
  out[REC.disagreement] = r.disagreement;
  out.set(r.facemesh.subarray(0, 468 * 3), REC.facemesh);
  out.set(r.tddfa.subarray(0, 68 * 3), REC.tddfa);
  out.set(r.params.subarray(0, 62), REC.params);
  return out;
}

/** Decodes one record; the arrays are copies. */
export function decodeRecord(f: Float32Array): LabelRecord {
  return {
    width: f[REC.width],
    height: f[REC.height],
    box: { x: f[REC.boxX], y: f[REC.boxY], width: f[REC.boxW], height: f[REC.boxH] },
    cropSide: f[REC.cropSide],
    score: f[REC.score],
    boxScore: f[REC.boxScore],
    faceScore: f[REC.faceScore],
    crop: { cx: f[REC.cropCx], cy: f[REC.cropCy], side: f[REC.cropSide3ddfa] },
    faceCount: f[REC.faceCount],
    line: f[REC.line],
    disagreement: f[REC.disagreement],
    facemesh: f.slice(REC.facemesh, REC.facemesh + 468 * 3),
    tddfa: f.slice(REC.tddfa, REC.tddfa + 68 * 3),
    params: f.slice(REC.params, REC.params + 62),
  };
}

function header(): Buffer {
  const b = Buffer.alloc(LABELS_HEADER_BYTES);
  b.write(LABELS_MAGIC, 0, 'ascii');
  b.writeUInt32LE(LABELS_VERSION, 8);
  b.writeUInt32LE(REC.size, 12);
  b.writeUInt32LE(LABELS_HEADER_BYTES, 16);
  return b;
}

function checkHeader(buf: Buffer, path: string, versions: readonly number[] = [LABELS_VERSION]): void {
  if (buf.length < LABELS_HEADER_BYTES || buf.toString('ascii', 0, 8) !== LABELS_MAGIC) throw new Error(`${path}: not a labels file`);
  const v = buf.readUInt32LE(8);
  const n = buf.readUInt32LE(12);
  if (!versions.includes(v) || n !== REC.size) throw new Error(`${path}: labels version ${v} with ${n} floats per record, expected ${LABELS_VERSION} / ${REC.size}`);
}

/** The part numbers present in a labels folder. */
export function listParts(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((n) => /^part-(\d+)\.jsonl$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

function parseLines(text: string): LabelEntry[] {
  const out: LabelEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as LabelEntry);
    } catch {
      break; // a torn line ends the valid part
    }
  }
  return out;
}

/** Files already processed (kept or dropped) in any part of a labels folder. */
export function doneFiles(dir: string): Set<string> {
  const done = new Set<string>();
  for (const k of listParts(dir)) {
    for (const e of parseLines(readFileSync(join(dir, `part-${k}.jsonl`), 'utf8'))) done.add(e.file);
  }
  return done;
}

/** Appends entries and records to one part of a labels folder. */
export class LabelsWriter {
  readonly binPath: string;
  readonly jsonPath: string;
  /** Records in the .bin, lines in the .jsonl. */
  records = 0;
  lines = 0;
  private fdBin: number;
  private fdJson: number;
  private buf = new Float32Array(REC.size);
  private posJson = 0;

  /** Opens (creating or repairing) part `part` of the folder `dir`. */
  constructor(readonly dir: string, readonly part = 0) {
    mkdirSync(dir, { recursive: true });
    this.binPath = join(dir, `part-${part}.bin`);
    this.jsonPath = join(dir, `part-${part}.jsonl`);
    if (!existsSync(this.binPath) || statSync(this.binPath).size < LABELS_HEADER_BYTES) {
      this.fdBin = openSync(this.binPath, 'w+');
      writeSync(this.fdBin, header(), 0, LABELS_HEADER_BYTES, 0);
    } else {
      this.fdBin = openSync(this.binPath, 'r+');
      const h = Buffer.alloc(LABELS_HEADER_BYTES);
      readSync(this.fdBin, h, 0, LABELS_HEADER_BYTES, 0);
      checkHeader(h, this.binPath);
    }
    this.fdJson = openSync(this.jsonPath, existsSync(this.jsonPath) ? 'r+' : 'w+');
    this.repair();
  }

  /** Cuts a torn tail: keeps the index lines whose records are complete, and only those records. */
  private repair(): void {
    const text = readFileSync(this.jsonPath, 'utf8');
    let entries = parseLines(text);
    const binRecords = Math.floor((statSync(this.binPath).size - LABELS_HEADER_BYTES) / RECORD_BYTES);
    // An ok line whose record is missing ends the valid part.
    let okSeen = 0;
    let keep = entries.length;
    for (let i = 0; i < entries.length; i++) {
      if (entries[i].ok) {
        if (entries[i].rec !== okSeen || okSeen >= binRecords) { keep = i; break; }
        okSeen++;
      }
    }
    entries = entries.slice(0, keep);
    // A photo labelled face by face whose lines are not all there is cut whole (and its records).
    const last = entries[entries.length - 1];
    if (last?.faces !== undefined) {
      let first = entries.length;
      while (first > 0 && entries[first - 1]!.file === last.file) first--;
      if (entries.length - first < last.faces) {
        okSeen -= entries.slice(first).filter((e) => e.ok).length;
        entries = entries.slice(0, first);
      }
    }
    const jsonText = entries.map((e) => JSON.stringify(e) + '\n').join('');
    if (Buffer.byteLength(jsonText) !== Buffer.byteLength(text)) {
      ftruncateSync(this.fdJson, 0);
      writeSync(this.fdJson, jsonText, 0, 'utf8');
    }
    ftruncateSync(this.fdBin, LABELS_HEADER_BYTES + okSeen * RECORD_BYTES);
    this.records = okSeen;
    this.lines = entries.length;
    this.posJson = Buffer.byteLength(jsonText);
  }

  /** Appends one photo: its record first (when kept), then its index line. */
  append(entry: Omit<LabelEntry, 'rec'>, record?: Omit<LabelRecord, 'line'>): LabelEntry {
    const e: LabelEntry = { ...entry };
    if (entry.ok) {
      if (!record) throw new Error('a kept photo needs a record');
      encodeRecord({ ...record, line: this.lines }, this.buf);
      const bytes = new Uint8Array(this.buf.buffer, this.buf.byteOffset, RECORD_BYTES);
      writeSync(this.fdBin, bytes, 0, RECORD_BYTES, LABELS_HEADER_BYTES + this.records * RECORD_BYTES);
      e.rec = this.records++;
    }
    const line = Buffer.from(JSON.stringify(e) + '\n', 'utf8');
    writeSync(this.fdJson, line, 0, line.length, this.posJson);
    this.posJson += line.length;
    this.lines++;
    return e;
  }

  /**
   * Appends all faces of one photo: their records in one write, then their lines in one write (a
   * photo cut short by a kill is removed whole on the next open, see repair).
   */
  appendPhoto(items: { entry: Omit<LabelEntry, 'rec'>; record?: Omit<LabelRecord, 'line'> }[]): LabelEntry[] {
    const kept = items.filter((it) => it.entry.ok);
    const bin = new Float32Array(kept.length * REC.size);
    const out: LabelEntry[] = [];
    let k = 0;
    items.forEach((it, i) => {
      const e: LabelEntry = { ...it.entry };
      if (it.entry.ok) {
        if (!it.record) throw new Error('a kept face needs a record');
        encodeRecord({ ...it.record, line: this.lines + i }, bin.subarray(k * REC.size, (k + 1) * REC.size));
        e.rec = this.records + k++;
      }
      out.push(e);
    });
    if (kept.length) {
      writeSync(this.fdBin, new Uint8Array(bin.buffer), 0, bin.byteLength, LABELS_HEADER_BYTES + this.records * RECORD_BYTES);
      this.records += kept.length;
    }
    const text = Buffer.from(out.map((e) => JSON.stringify(e) + '\n').join(''), 'utf8');
    writeSync(this.fdJson, text, 0, text.length, this.posJson);
    this.posJson += text.length;
    this.lines += out.length;
    return out;
  }

  close(): void {
    closeSync(this.fdBin);
    closeSync(this.fdJson);
  }
}

/** Everything in a labels folder: every processed photo, and the records of the kept ones. */
export interface LabelSet {
  entries: (LabelEntry & { part: number })[];
  /** Kept faces, in part order then line order; `file` names the photo, `face` the face in it (0 when labelled by the largest face). */
  records: (LabelRecord & { file: string; part: number; face: number })[];
}

/** Reads all parts of a labels folder (a torn tail is ignored, not repaired). */
export function readLabels(dir: string): LabelSet {
  const set: LabelSet = { entries: [], records: [] };
  for (const k of listParts(dir)) {
    const entries = parseLines(readFileSync(join(dir, `part-${k}.jsonl`), 'utf8'));
    const binPath = join(dir, `part-${k}.bin`);
    const bin = existsSync(binPath) ? readFileSync(binPath) : Buffer.alloc(0);
    if (bin.length) checkHeader(bin, binPath, LABELS_READABLE_VERSIONS);
    const n = Math.max(0, Math.floor((bin.length - LABELS_HEADER_BYTES) / RECORD_BYTES));
    const floats = new Float32Array(REC.size);
    const bytes = new Uint8Array(floats.buffer);
    for (const e of entries) {
      if (e.ok && (e.rec === undefined || e.rec >= n)) break;
      set.entries.push({ ...e, part: k });
      if (e.ok && e.rec !== undefined) {
        const off = LABELS_HEADER_BYTES + e.rec * RECORD_BYTES;
        bytes.set(bin.subarray(off, off + RECORD_BYTES));
        set.records.push({ ...decodeRecord(floats), file: e.file, part: k, face: e.face ?? 0 });
      }
    }
  }
  return set;
}

/** Counts over a labels folder's index: photos, faces per photo, drops by reason, lines per teacher. */
export interface LabelCounts {
  photos: number;
  /** Photos with at least one labelled face. */
  withFaces: number;
  /** Photos by their number of labelled faces ("0", "1", …). */
  facesPerPhoto: Record<string, number>;
  /** Dropped lines by reason. */
  drops: Record<string, number>;
  /** Lines by FaceMesh teacher ('onnx', 'human'; lines before the field count as 'human'). */
  teachers: Record<string, number>;
}

export function labelCounts(entries: readonly LabelEntry[]): LabelCounts {
  const perPhoto = new Map<string, number>();
  const drops: Record<string, number> = {};
  const teachers: Record<string, number> = {};
  for (const e of entries) {
    perPhoto.set(e.file, (perPhoto.get(e.file) ?? 0) + (e.ok ? 1 : 0));
    if (!e.ok) drops[e.reason ?? '?'] = (drops[e.reason ?? '?'] ?? 0) + 1;
    teachers[e.fm ?? 'human'] = (teachers[e.fm ?? 'human'] ?? 0) + 1;
  }
  const facesPerPhoto: Record<string, number> = {};
  for (const n of perPhoto.values()) facesPerPhoto[String(n)] = (facesPerPhoto[String(n)] ?? 0) + 1;
  return { photos: perPhoto.size, withFaces: [...perPhoto.values()].filter((n) => n > 0).length, facesPerPhoto, drops, teachers };
}

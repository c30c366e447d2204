/**
 * GLBs an earlier run of the same video left in the output folder (`NAME_track<ID>.glb` of a
 * track this run did not write, and `NAME.glb` when this run wrote none: no face in the video):
 * found by name, and told from another video's files of the same
 * name by their content — a track GLB of NAME holds the node `NAME_track<ID>_0` (its first
 * segment), while `NAME_track<ID>.mp4`'s own GLB is named after that video's tracks
 * (`NAME_track<ID>_track<k>_0`).
 */
import { open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_JSON, GLB_MAGIC } from '../export/gltf.js';
import { escapeRegExp } from '../pipeline/output-names.js';

/** The largest JSON chunk read to tell a file (a track GLB's is a few kB). */
const MAX_JSON_BYTES = 1 << 20;

/** The node names of a GLB file, or null when it is not one (or its JSON is larger than MAX_JSON_BYTES). */
async function glbNodeNames(path: string): Promise<string[] | null> {
  const file = await open(path, 'r').catch(() => null);
  if (!file) return null;
  try {
    const head = Buffer.alloc(20);
    const { bytesRead } = await file.read(head, 0, 20, 0);
    if (bytesRead < 20 || head.readUInt32LE(0) !== GLB_MAGIC || head.readUInt32LE(16) !== CHUNK_JSON) return null;
    const length = head.readUInt32LE(12);
    if (length > MAX_JSON_BYTES) return null;
    const json = Buffer.alloc(length);
    await file.read(json, 0, length, 20);
    const doc = JSON.parse(json.toString('utf8')) as { nodes?: { name?: unknown }[] };
    return (doc.nodes ?? []).map((n) => (typeof n.name === 'string' ? n.name : ''));
  } catch {
    return null;
  } finally {
    await file.close();
  }
}

/**
 * Removes from `dir` the GLBs of video `name` that an earlier run wrote and this run did not
 * (`written`: the paths this run wrote; NAME.glb is among them unless no face was found). Returns the names removed; a file it cannot read as such
 * a GLB, or cannot remove, is left.
 */
export async function removeStaleTrackGlbs(dir: string, name: string, written: ReadonlySet<string>): Promise<string[]> {
  const trackFile = new RegExp(`^${escapeRegExp(name)}_track(\\d+)\\.glb$`);
  const anyTrack = new RegExp(`^${escapeRegExp(name)}_track\\d+_0$`);
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const file of names) {
    const path = join(dir, file);
    if (written.has(path)) continue;
    // NAME.glb animates one of NAME's tracks (its first segment is the node NAME_track<ID>_0);
    // NAME_track<ID>.glb animates track ID.
    const m = trackFile.exec(file);
    const ours = file === `${name}.glb` ? (n: string) => anyTrack.test(n) : m ? (n: string) => n === `${name}_track${m[1]}_0` : null;
    if (!ours || !(await glbNodeNames(path))?.some(ours)) continue;
    if (await rm(path).then(() => true, () => false)) removed.push(file);
  }
  return removed;
}

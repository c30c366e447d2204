/** Saving output files: one file as itself, several as one ZIP. */
import { zip } from './zip.js';

const TYPES: Record<string, string> = {
  obj: 'text/plain',
  mtl: 'text/plain',
  json: 'application/json',
  png: 'image/png',
  glb: 'model/gltf-binary',
  zip: 'application/zip',
};

export async function saveFiles(files: readonly { name: string; data: Uint8Array | string }[], zipName: string): Promise<void> {
  if (!files.length) return;
  if (files.length === 1) save(files[0].name, files[0].data);
  else save(zipName, await zip(files));
}

function save(name: string, data: Uint8Array | string): void {
  const ext = name.slice(name.lastIndexOf('.') + 1);
  const blob = new Blob([typeof data === 'string' ? data : (data as Uint8Array<ArrayBuffer>)], { type: TYPES[ext] ?? 'application/octet-stream' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

"""Reads and writes safetensors files with json + struct + numpy only (no `safetensors` package).

Format: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
optional "__metadata__" of string values, then the raw little-endian tensor bytes. Supported
dtypes: F32, F16, I32, U8, I8 (and I64, F64 for reading). Also: exporting a ResFCN as our model
file (docs/model-format.md), splitting a file into parts for the GPU machine's 16 MiB return limit,
joining them back with a sha256 check, and an 8-bit copy of a model to start training from
(`--quantize-init`: half the F16 file, so it fits the GPU call beside the training pack).
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

DTYPES: Dict[str, np.dtype] = {
    'F32': np.dtype('<f4'),
    'F16': np.dtype('<f2'),
    'I32': np.dtype('<i4'),
    'U8': np.dtype('u1'),
    'I8': np.dtype('i1'),
    'I64': np.dtype('<i8'),
    'F64': np.dtype('<f8'),
}
_NP_TO_ST = {np.dtype(v).newbyteorder('<') if v.itemsize > 1 else v: k for k, v in DTYPES.items()}

FORMAT = 'prnet-ts/resfcn'
FORMAT_VERSION = '1'
PART_BYTES = 15 * 1024 * 1024


class SafetensorsError(ValueError):
    pass


def encode(tensors: Mapping[str, np.ndarray] | Iterable[Tuple[str, np.ndarray]],
           metadata: Optional[Mapping[str, str]] = None) -> bytes:
    """Serialises arrays (in order) and string metadata to safetensors bytes."""
    items = list(tensors.items()) if isinstance(tensors, Mapping) else list(tensors)
    header: Dict[str, object] = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(v, str):
                raise SafetensorsError(f'metadata {k}: values must be strings, got {type(v).__name__}')
        header['__metadata__'] = dict(metadata)
    blobs: List[bytes] = []
    offset = 0
    for name, arr in items:
        a = np.asarray(arr)
        dt = a.dtype.newbyteorder('<') if a.dtype.itemsize > 1 else a.dtype
        if dt not in _NP_TO_ST:
            raise SafetensorsError(f'tensor {name}: unsupported dtype {a.dtype}')
        b = np.ascontiguousarray(a, dtype=dt).tobytes()
        header[name] = {'dtype': _NP_TO_ST[dt], 'shape': list(a.shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    hjson = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hjson += b' ' * ((8 - len(hjson) % 8) % 8)  # data starts 8-byte aligned
    return struct.pack('<Q', len(hjson)) + hjson + b''.join(blobs)


def decode(buf: bytes) -> Tuple['Dict[str, np.ndarray]', Dict[str, str]]:
    """Parses safetensors bytes into ({name: array}, metadata). Raises SafetensorsError on any
    inconsistency (truncation, bad JSON, size mismatch)."""
    if len(buf) < 8:
        raise SafetensorsError(f'not a safetensors file (only {len(buf)} bytes)')
    (hlen,) = struct.unpack('<Q', buf[:8])
    if hlen <= 0 or 8 + hlen > len(buf):
        raise SafetensorsError(f'not a safetensors file (header length {hlen} does not fit {len(buf)} bytes)')
    try:
        header = json.loads(buf[8:8 + hlen].decode('utf-8'))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f'not a safetensors file (header is not JSON: {e})') from e
    start = 8 + hlen
    metadata = {str(k): str(v) for k, v in (header.pop('__metadata__', None) or {}).items()}
    out: Dict[str, np.ndarray] = {}
    for name, info in header.items():
        dt = DTYPES.get(info.get('dtype'))
        if dt is None:
            raise SafetensorsError(f'tensor {name}: unsupported dtype {info.get("dtype")}')
        shape = [int(s) for s in info['shape']]
        b0, b1 = (int(x) for x in info['data_offsets'])
        count = int(np.prod(shape)) if shape else 1
        if b1 - b0 != count * dt.itemsize:
            raise SafetensorsError(f'tensor {name}: {b1 - b0} bytes for shape {shape} {info["dtype"]}')
        if start + b1 > len(buf):
            raise SafetensorsError(f'tensor {name}: data ends at byte {start + b1} but the file has {len(buf)} (truncated?)')
        out[name] = np.frombuffer(buf, dtype=dt, count=count, offset=start + b0).reshape(shape)
    return out, metadata


def read(path: str) -> Tuple['Dict[str, np.ndarray]', Dict[str, str]]:
    with open(path, 'rb') as f:
        buf = f.read()
    try:
        return decode(buf)
    except SafetensorsError as e:
        raise SafetensorsError(f'{path}: {e}') from e


def write(path: str, tensors, metadata: Optional[Mapping[str, str]] = None) -> bytes:
    """Writes atomically (temporary name, then rename); returns the bytes written."""
    data = encode(tensors, metadata)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)
    return data


# ---------------------------------------------------------------------------------------------
# Model files

ARCHITECTURES = ('resfcn', 'mobile')


def model_metadata(width: int, input_size: int, output_scale: float, name: str, description: str,
                   source: str, license: str, architecture: str = 'resfcn') -> Dict[str, str]:
    meta = {
        'format': FORMAT,
        'version': FORMAT_VERSION,
        'width': str(int(width)),
        'input_size': str(int(input_size)),
        'output_scale': f'{float(output_scale):g}',
        'name': name,
        'description': description,
        'source': source,
        'license': license,
    }
    if architecture != 'resfcn':  # absent = resfcn (the files of resfcn models do not name it)
        meta['architecture'] = architecture
    return meta


def model_bytes(model, name: str = 'prnet-ts', description: str = '', source: str = '',
                license: str = 'MIT', dtype: str = 'F16', extra: Optional[Mapping[str, str]] = None) -> bytes:
    """A ResFCN (training/resfcn.py) or MobileNet (training/mobile.py) as our weight file
    (docs/model-format.md), F16 or F32."""
    from resfcn import export_state  # local import: keeps this module importable without torch

    if dtype not in ('F16', 'F32'):
        raise ValueError(f'model dtype must be F16 or F32, got {dtype}')
    np_dt = np.float16 if dtype == 'F16' else np.float32
    tensors = []
    for k, v in export_state(model).items():
        a = v.numpy()
        if dtype == 'F16':
            big = np.abs(a).max() if a.size else 0.0
            if big > 65504:
                raise ValueError(f'tensor {k} has values up to {big:g}, beyond float16: export as F32')
        tensors.append((k, a.astype(np_dt)))
    meta = model_metadata(model.width, model.input_size, model.output_scale, name, description, source, license,
                          getattr(model, 'architecture', 'resfcn'))
    meta.update(extra or {})  # further card keys (train.py's `init`)
    return encode(tensors, meta)


def check_model_metadata(meta: Mapping[str, str]) -> None:
    """Raises SafetensorsError unless the metadata is our model format's (format tag, sizes)."""
    if meta.get('format') != FORMAT:
        raise SafetensorsError(f'metadata format is {meta.get("format")!r}, expected {FORMAT!r}')
    for key in ('width', 'input_size', 'output_scale'):
        if key not in meta:
            raise SafetensorsError(f'metadata has no {key!r}')
    if meta.get('architecture', 'resfcn') not in ARCHITECTURES:
        raise SafetensorsError(f'unknown architecture {meta["architecture"]!r} (known: {", ".join(ARCHITECTURES)})')


def read_model(path: str) -> Tuple['Dict[str, np.ndarray]', Dict[str, str]]:
    """Reads a model file's arrays and metadata, checking the metadata (errors name the file)."""
    arrays, meta = read(path)
    try:
        check_model_metadata(meta)
    except SafetensorsError as e:
        raise SafetensorsError(f'{path}: {e}') from e
    return arrays, meta


def load_model_tensors(path: str):
    """Reads a model file: (float32 torch tensors by name, metadata). Checks the format tag."""
    import torch

    arrays, meta = read_model(path)
    return {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in arrays.items()}, meta


def load_model_tensors_from_bytes(data: bytes):
    import torch

    arrays, meta = decode(data)
    check_model_metadata(meta)
    return {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in arrays.items()}, meta


# Tensors smaller than this stay in the source file's float type in quantize_init's copy: the
# first encoder and the last decoder layers (dec.12-16, enc.0 ...), where one 8-bit step moves the
# output map most. On the shipped default model, quantizing every tensor moved its eval-mode maps
# by 1.17 px on average (p99 3.8 px, on 8 real photos); keeping these 136k weights (0.14 MB in F16)
# moves them by 0.18 px (p99 1.1 px). The same layers stay float in the int8 runtime graph.
INIT_FLOAT_BELOW = 20000


def quantize_init(model_path: str, out_path: str, keep_below: int = INIT_FLOAT_BELOW) -> Tuple[int, float]:
    """Writes an 8-bit copy of a model file to start training from: every tensor of 2+ dimensions
    and at least `keep_below` values as I8 with a float32 scale per output channel (`NAME.qscale`,
    symmetric, max |w| -> 127), the rest (small kernels, batch norm, biases) in the source file's
    float type, unchanged; the model's metadata plus init_dtype = I8. Returns the bytes written and
    the largest relative error of a quantised tensor (max |w - w'| / max |w|)."""
    arrays, meta = read_model(model_path)
    out, worst = [], 0.0
    for k, v in arrays.items():
        a = np.asarray(v)
        if a.ndim < 2 or a.size < keep_below:
            out.append((k, a))
            continue
        flat = a.astype(np.float32).reshape(a.shape[0], -1)
        scale = np.abs(flat).max(1) / 127.0
        scale[scale == 0] = 1.0
        q = np.clip(np.rint(flat / scale[:, None]), -127, 127).astype(np.int8)
        worst = max(worst, float(np.abs(q * scale[:, None] - flat).max() / max(np.abs(flat).max(), 1e-12)))
        out.append((k, q.reshape(a.shape)))
        out.append((k + '.qscale', scale.astype(np.float32)))
    data = write(out_path, out, {**meta, 'init_dtype': 'I8'})
    return len(data), worst


def load_init(path: str):
    """Weights to start training from: a model file (any float dtype) or quantize_init's I8 copy.
    Returns (float32 torch tensors by name, metadata; init_dtype set)."""
    import torch

    arrays, meta = read_model(path)
    out = {}
    for k, v in arrays.items():
        if k.endswith('.qscale'):
            continue
        a = np.asarray(v)
        if a.dtype == np.int8:
            scale = arrays.get(k + '.qscale')
            if scale is None:
                raise SafetensorsError(f'{path}: I8 tensor {k} has no {k}.qscale')
            a = (a.reshape(a.shape[0], -1).astype(np.float32) * np.asarray(scale, np.float32)[:, None]).reshape(a.shape)
        out[k] = torch.from_numpy(np.array(a, dtype=np.float32))
    meta = dict(meta)
    meta.setdefault('init_dtype', str(next(iter(arrays.values())).dtype) if arrays else '?')
    return out, meta


def write_parts(data: bytes, out_dir: str, name: str = 'model.safetensors', part_bytes: int = PART_BYTES) -> List[str]:
    """Writes `data` as name.part0, name.part1, ... (each <= part_bytes) and name.sha256 (the
    sha256 of the whole file, `sha256sum` format). Returns the written paths. Stale parts of an
    earlier export with more parts are removed."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    n = max(1, -(-len(data) // part_bytes))
    for i in range(n):
        p = os.path.join(out_dir, f'{name}.part{i}')
        tmp = p + '.tmp'
        with open(tmp, 'wb') as f:
            f.write(data[i * part_bytes:(i + 1) * part_bytes])
        os.replace(tmp, p)
        paths.append(p)
    i = n
    while os.path.exists(os.path.join(out_dir, f'{name}.part{i}')):
        os.remove(os.path.join(out_dir, f'{name}.part{i}'))
        i += 1
    sha = os.path.join(out_dir, f'{name}.sha256')
    with open(sha + '.tmp', 'w') as f:
        f.write(f'{hashlib.sha256(data).hexdigest()}  {name}\n')
    os.replace(sha + '.tmp', sha)
    paths.append(sha)
    return paths


def join_parts(in_dir: str, out_path: str, name: str = 'model.safetensors') -> str:
    """Joins name.part0.. from in_dir into out_path, checks name.sha256; returns the hex digest."""
    chunks = []
    i = 0
    while os.path.exists(os.path.join(in_dir, f'{name}.part{i}')):
        with open(os.path.join(in_dir, f'{name}.part{i}'), 'rb') as f:
            chunks.append(f.read())
        i += 1
    if not chunks:
        raise SafetensorsError(f'no {name}.part0 in {in_dir}')
    data = b''.join(chunks)
    digest = hashlib.sha256(data).hexdigest()
    sha_path = os.path.join(in_dir, f'{name}.sha256')
    if os.path.exists(sha_path):
        want = open(sha_path).read().split()[0]
        if want != digest:
            raise SafetensorsError(f'{name}: sha256 {digest} of {i} joined parts != {want} (a part is missing or damaged)')
    decode(data)  # must parse
    write_bytes(out_path, data)
    return digest


CARD_KEYS = ('name', 'description', 'source', 'license')


def set_card(path: str, out_path: str, fields: Mapping[str, str]) -> Dict[str, str]:
    """Rewrites a model file's card (name, description, source, license: the fields train.py
    takes as arguments) into out_path; tensors and every other key stay as they are."""
    bad = [k for k in fields if k not in CARD_KEYS]
    if bad:
        raise ValueError(f'--set: {", ".join(bad)} is not a card field ({", ".join(CARD_KEYS)})')
    tensors, meta = read_model(path)
    meta = {**meta, **fields}
    write(out_path, tensors, meta)
    return meta


def write_bytes(path: str, data: bytes) -> None:
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


if __name__ == '__main__':
    import argparse
    import sys

    ap = argparse.ArgumentParser(description='Join model.safetensors.part* (checking the sha256), or list a safetensors file.')
    ap.add_argument('--join', metavar='DIR', help='folder with model.safetensors.part0.. and model.safetensors.sha256')
    ap.add_argument('--out', help='joined file to write')
    ap.add_argument('--list', metavar='FILE')
    ap.add_argument('--quantize-init', metavar='MODEL', help='write an 8-bit copy of MODEL to --out (a start for train.py --init)')
    ap.add_argument('--card', metavar='MODEL', help='rewrite the card fields given with --set into --out (tensors unchanged)')
    ap.add_argument('--set', action='append', default=[], metavar='KEY=VALUE', help=f'with --card: one of {", ".join(CARD_KEYS)}')
    ap.add_argument('--keep-below', type=int, default=INIT_FLOAT_BELOW, help=f'with --quantize-init: tensors with fewer values stay float (default {INIT_FLOAT_BELOW})')
    a = ap.parse_args()
    if a.join:
        if not a.out:
            sys.exit('--join needs --out')
        try:
            print(join_parts(a.join, a.out), a.out)
        except (SafetensorsError, OSError) as e:
            sys.exit(f'safetensors_io: {e}')
    elif a.quantize_init:
        if not a.out:
            sys.exit('--quantize-init needs --out')
        n, err = quantize_init(a.quantize_init, a.out, a.keep_below)
        print(f'{a.out}: {n / 2**20:.1f} MiB, largest relative error of a quantised tensor {err:.4f}')
    elif a.card:
        if not a.out or not a.set or any('=' not in kv for kv in a.set):
            sys.exit('--card needs --out and one or more --set KEY=VALUE')
        try:
            meta = set_card(a.card, a.out, dict(kv.split('=', 1) for kv in a.set))
        except ValueError as e:
            sys.exit(str(e))
        print(a.out, json.dumps({k: meta[k] for k in CARD_KEYS if k in meta}))
    elif a.list:
        t, m = read(a.list)
        print(json.dumps(m, indent=1))
        for k, v in t.items():
            print(k, v.dtype, list(v.shape))
    else:
        ap.print_help()

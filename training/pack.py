"""The training pack (docs/training-data.md): reading and checking it, decoding its photos, and
putting everything on the device; plus a small synthetic pack generator for tests.

Pack folder:
| file | content |
|---|---|
| meta.json | {"version": 1, "count": N, "controls": [[x, y, z] x P], "coverage": ..., "source": ...} |
| images.bin, images.idx | JPEG bytes back to back; .idx = (N + 1) little-endian uint32 offsets |
| coeffs.f16 | N x (P + 4) x 3 little-endian float16 |
| crops.f32 | N x 3 float32: PRNet crop (centre x, centre y, side) in photo pixels |
| flags.u8 | N bytes: bit 0 synthetic pose, bit 1 held out |
| weights.u8 | 256 x 256 loss weights (16/4/3 covered, 1 extrapolated, 0 outside) |
| sample-weights.f32 | optional: N float32, how often the trainer draws each sample (default all 1) |

A target map is M = K . W with K[i, j] = -|v_i - c_j| (j < P), K[i, P..P+3] = [v_i, 1] for the
layout's canonical face pixels v_i and the pack's control points c_j: photo pixels (centre of
pixel (i, j) at x = i, y = j), z towards the camera.

Several packs train as one (`read_packs`): the shards of `scripts/pack-training.ts --shards N`,
which travel to the GPU machine in separate calls (training/README.md §5). They must share the
control points and the loss weights; their samples are concatenated in the order given.

Command line: `/usr/bin/python3 training/pack.py --check PACK [PACK ...]` (reads and checks a pack,
or several as one, decodes its photos, prints statistics) or `--synthetic OUT --count N` (writes a
synthetic pack).
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

FLAG_SYNTHETIC = 1
FLAG_HELDOUT = 2


class PackError(RuntimeError):
    pass


@dataclass
class Pack:
    """A pack read into host memory (photos still encoded)."""
    path: str
    meta: dict
    controls: np.ndarray   # float32 [P, 3]
    blobs: List[bytes]     # N encoded photos
    coeffs: np.ndarray     # float32 [N, P + 4, 3]
    crops: np.ndarray      # float32 [N, 3]
    flags: np.ndarray      # uint8 [N]
    weights: np.ndarray    # uint8 [256, 256]
    sample_weights: Optional[np.ndarray] = None  # float32 [N] (sample-weights.f32), None: uniform
    names: Optional[List[str]] = None  # N photo names (names.txt, relative to the shared folder), None: none given

    @property
    def count(self) -> int:
        return len(self.blobs)

    def describe(self, i: int) -> str:
        """Sample i as a message names it: its index, and its photo where names.txt gives one."""
        return f'photo {i} ({self.names[i]})' if self.names is not None and i < len(self.names) else f'photo {i}'


def _read(path: str, name: str) -> bytes:
    p = os.path.join(path, name)
    if not os.path.isfile(p):
        raise PackError(f'pack {path}: missing {name} (build the pack first: see training/README.md)')
    with open(p, 'rb') as f:
        return f.read()


def read_pack(path: str) -> Pack:
    """Reads and checks a pack; raises PackError with the file and the problem."""
    if not os.path.isdir(path):
        raise PackError(f'pack folder not found: {path} (build it first, or pass --pack; see training/README.md)')
    try:
        meta = json.loads(_read(path, 'meta.json').decode('utf-8'))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PackError(f'pack {path}: meta.json is not JSON: {e}') from e
    if meta.get('version') != 1:
        raise PackError(f'pack {path}: meta.json version {meta.get("version")!r}, this trainer reads version 1')
    n = meta.get('count')
    if not isinstance(n, int) or n <= 0:
        raise PackError(f'pack {path}: meta.json count must be a positive integer, got {n!r}')
    controls = np.asarray(meta.get('controls', []), dtype=np.float32)
    if controls.ndim != 2 or controls.shape[1] != 3 or controls.shape[0] < 1:
        raise PackError(f'pack {path}: meta.json controls must be [[x, y, z] x P], got shape {controls.shape}')
    p = controls.shape[0]
    idx_b = _read(path, 'images.idx')
    if len(idx_b) != 4 * (n + 1):
        raise PackError(f'pack {path}: images.idx has {len(idx_b)} bytes, expected 4 x (count + 1) = {4 * (n + 1)}')
    idx = np.frombuffer(idx_b, '<u4').astype(np.int64)
    data = _read(path, 'images.bin')
    if idx[0] != 0 or (np.diff(idx) <= 0).any() or idx[-1] != len(data):
        raise PackError(f'pack {path}: images.idx offsets are not increasing from 0 to the size of images.bin '
                        f'({len(data)} bytes; last offset {int(idx[-1])})')
    blobs = [data[idx[i]:idx[i + 1]] for i in range(n)]
    co = _read(path, 'coeffs.f16')
    if len(co) != n * (p + 4) * 3 * 2:
        raise PackError(f'pack {path}: coeffs.f16 has {len(co)} bytes, expected N x (P + 4) x 3 x 2 = '
                        f'{n * (p + 4) * 3 * 2} (N = {n}, P = {p})')
    coeffs = np.frombuffer(co, '<f2').astype(np.float32).reshape(n, p + 4, 3)
    cr = _read(path, 'crops.f32')
    if len(cr) != n * 12:
        raise PackError(f'pack {path}: crops.f32 has {len(cr)} bytes, expected {n * 12}')
    crops = np.frombuffer(cr, '<f4').reshape(n, 3).copy()
    fl = _read(path, 'flags.u8')
    if len(fl) != n:
        raise PackError(f'pack {path}: flags.u8 has {len(fl)} bytes, expected {n}')
    flags = np.frombuffer(fl, np.uint8).copy()
    wb = _read(path, 'weights.u8')
    if len(wb) != 256 * 256:
        raise PackError(f'pack {path}: weights.u8 has {len(wb)} bytes, expected 65536')
    weights = np.frombuffer(wb, np.uint8).reshape(256, 256).copy()
    bad = ~np.isfinite(coeffs).all(axis=(1, 2))
    if bad.any():
        raise PackError(f'pack {path}: {int(bad.sum())} photos have non-finite coefficients (first: {int(np.nonzero(bad)[0][0])})')
    if not np.isfinite(crops).all() or (crops[:, 2] <= 1).any():
        raise PackError(f'pack {path}: crops.f32 has non-finite values or sides <= 1 px')
    if weights.max() == 0:
        raise PackError(f'pack {path}: weights.u8 is all zero')
    sample_weights = None
    if os.path.isfile(os.path.join(path, 'sample-weights.f32')):
        sw = _read(path, 'sample-weights.f32')
        if len(sw) != n * 4:
            raise PackError(f'pack {path}: sample-weights.f32 has {len(sw)} bytes, expected {n * 4}')
        sample_weights = np.frombuffer(sw, '<f4').copy()
        if not np.isfinite(sample_weights).all() or (sample_weights < 0).any() or sample_weights.sum() <= 0:
            raise PackError(f'pack {path}: sample-weights.f32 must be finite, non-negative and not all zero')
    # The photo sets the pack holds (scripts/pack-training.ts writes counts.bySet), for the model card.
    meta['sets'] = sorted((meta.get('counts') or {}).get('bySet') or {})
    pack = Pack(path, meta, controls, blobs, coeffs, crops, flags, weights, sample_weights)
    pack.names = _names(pack)
    return pack


def read_packs(paths: Sequence[str], log=print, disjoint: bool = False) -> Pack:
    """Reads and checks one pack or several, returned as one: the samples concatenated in the order
    given. The packs must have the same control points and loss weights (the shards of one
    `pack-training.ts --shards` run have); a pack named twice is refused, and samples that appear in
    more than one pack (names.txt) are reported, since they are then drawn more often (and a
    held-out one evaluated twice) — or refused with `disjoint`, as the shards of one run never share
    a sample."""
    paths = [p for p in paths if p]
    if not paths:
        raise PackError('no pack given')
    seen = {}
    for p in paths:
        key = os.path.realpath(p)
        if key in seen:
            raise PackError(f'pack {p} is named twice (also as {seen[key]})')
        seen[key] = p
    packs = [read_pack(p) for p in paths]
    if len(packs) == 1:
        return packs[0]
    first = packs[0]
    for pk in packs[1:]:
        if not np.array_equal(pk.controls, first.controls):
            raise PackError(f'packs {first.path} and {pk.path} have different control points (meta.json controls): '
                            f'only shards of one pack-training run train together')
        if not np.array_equal(pk.weights, first.weights):
            raise PackError(f'packs {first.path} and {pk.path} have different loss weights (weights.u8)')
    names = [pk.names for pk in packs]
    joined_names = [x for n in names for x in n] if all(n is not None for n in names) else None
    if all(n is not None for n in names):
        counts: dict = {}
        for n in names:
            for x in set(n):
                counts[x] = counts.get(x, 0) + 1
        dup = sorted(x for x, c in counts.items() if c > 1)
        if dup and disjoint:
            raise PackError(f'{len(dup)} samples are in more than one of the packs (first: {dup[0]}): '
                            f'not shards of one packing run')
        if dup:
            log(f'warning: {len(dup)} samples are in more than one of the packs (first: {dup[0]}); '
                f'they will be drawn more often')
    if any(pk.sample_weights is not None for pk in packs):
        sw = np.concatenate([pk.sample_weights if pk.sample_weights is not None else np.ones(pk.count, np.float32)
                             for pk in packs])
    else:
        sw = None
    meta = dict(first.meta)
    meta['count'] = sum(pk.count for pk in packs)
    meta['sets'] = sorted({s for pk in packs for s in pk.meta['sets']})
    meta['packs'] = [{'path': pk.path, 'count': pk.count} for pk in packs]
    return Pack(' + '.join(pk.path for pk in packs), meta, first.controls,
                [b for pk in packs for b in pk.blobs],
                np.concatenate([pk.coeffs for pk in packs]), np.concatenate([pk.crops for pk in packs]),
                np.concatenate([pk.flags for pk in packs]), first.weights, sw, joined_names)


def _names(pk: Pack) -> Optional[List[str]]:
    p = os.path.join(pk.path, 'names.txt')
    if not os.path.isfile(p):
        return None
    with open(p, encoding='utf-8') as f:
        n = f.read().split('\n')
    n = [x for x in n if x]
    return n if len(n) == pk.count else None


# ---------------------------------------------------------------------------------------------
# JPEG decoding (cv2 when present: the GPU machine; else Pillow)

def _decoder():
    try:
        import cv2  # noqa: F401

        cv2.setNumThreads(1)

        def dec(b: bytes) -> np.ndarray:
            img = cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError('cv2.imdecode failed')
            return img[:, :, ::-1]  # BGR -> RGB
        return dec, 'opencv'
    except ImportError:
        import io

        from PIL import Image

        def dec(b: bytes) -> np.ndarray:
            with Image.open(io.BytesIO(b)) as im:
                return np.asarray(im.convert('RGB'))
        return dec, 'pillow'


def _resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    try:
        import cv2

        return cv2.resize(np.ascontiguousarray(img), (w, h), interpolation=cv2.INTER_AREA)
    except ImportError:
        from PIL import Image

        return np.asarray(Image.fromarray(img).resize((w, h), Image.BOX))


def decode_photos(pack: Pack, max_side: int = 256, threads: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray, str]:
    """Decodes every photo into one uint8 array [N, 3, H, W] (H, W = the largest photo's, at most
    max_side; smaller photos are edge-padded so bilinear sampling at their border never sees
    black) and their sizes [N, 2] (w, h). A photo larger than max_side is downscaled (area), and
    its crop and coefficients are rescaled in place (pixel centres: p' = (p + 0.5) f - 0.5)."""
    dec, lib = _decoder()
    threads = threads or min(16, os.cpu_count() or 1)

    def one(i: int) -> np.ndarray:
        try:
            img = dec(pack.blobs[i])
        except Exception as e:  # noqa: BLE001 - report which photo
            raise PackError(f'pack {pack.path}: {pack.describe(i)} does not decode ({lib}): {e}') from e
        if img.ndim != 3 or img.shape[2] != 3 or min(img.shape[:2]) < 2:
            raise PackError(f'pack {pack.path}: {pack.describe(i)} has shape {img.shape}')
        return img

    with ThreadPoolExecutor(threads) as ex:
        imgs = list(ex.map(one, range(pack.count)))
    p = pack.controls.shape[0]
    for i, img in enumerate(imgs):
        h, w = img.shape[:2]
        if max(w, h) > max_side:
            f = max_side / max(w, h)
            nw, nh = max(2, round(w * f)), max(2, round(h * f))
            fx, fy = nw / w, nh / h
            fz = (fx + fy) / 2
            imgs[i] = _resize(img, nw, nh)
            c = pack.coeffs[i]
            c[:, 0] *= fx
            c[:, 1] *= fy
            c[:, 2] *= fz
            c[p + 3, 0] += 0.5 * fx - 0.5
            c[p + 3, 1] += 0.5 * fy - 0.5
            cx, cy, s = pack.crops[i]
            pack.crops[i] = ((cx + 0.5) * fx - 0.5, (cy + 0.5) * fy - 0.5, s * fz)
    H = max(im.shape[0] for im in imgs)
    W = max(im.shape[1] for im in imgs)
    out = np.empty((pack.count, 3, H, W), np.uint8)
    sizes = np.empty((pack.count, 2), np.int64)

    def place(i: int) -> None:
        im = imgs[i]
        h, w = im.shape[:2]
        sizes[i] = (w, h)
        if h != H or w != W:
            im = np.pad(im, ((0, H - h), (0, W - w), (0, 0)), mode='edge')
        out[i] = im.transpose(2, 0, 1)

    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(place, range(pack.count)))
    return out, sizes, lib


# ---------------------------------------------------------------------------------------------
# On the device

def build_k(canonical, controls):
    """K (N x (P + 4)), float32, on the device of `canonical` (torch tensors)."""
    import torch

    v = canonical.to(torch.float32)
    c = controls.to(torch.float32)
    d = torch.cdist(v.double(), c.double()).float()  # exact enough; ~0.1 s on a GPU
    return torch.cat([-d, v, torch.ones(v.shape[0], 1, device=v.device)], dim=1).contiguous()


class DevicePack:
    """Everything the augmenter needs, on one device."""

    def __init__(self, pack: Pack, layout, device, max_side: int = 256, threads: Optional[int] = None, log=print):
        import torch

        t0 = time.time()
        photos, sizes, lib = decode_photos(pack, max_side, threads)
        t1 = time.time()
        self.device = torch.device(device)
        self.count = pack.count
        self.photos = torch.from_numpy(photos).to(self.device)            # uint8 [N, 3, H, W]
        self.sizes = torch.from_numpy(sizes).to(self.device).float()       # [N, 2] (w, h)
        self.coeffs = torch.from_numpy(pack.coeffs).to(self.device)        # [N, P + 4, 3]
        self.crops = torch.from_numpy(pack.crops).to(self.device)          # [N, 3]
        self.flags = torch.from_numpy(pack.flags.astype(np.int64)).to(self.device)
        sw = pack.sample_weights if pack.sample_weights is not None else np.ones(pack.count, np.float32)
        self.sample_weights = torch.from_numpy(sw.astype(np.float32)).to(self.device)  # [N]
        self.weighted = pack.sample_weights is not None and bool((sw != sw[0]).any())
        self.face_index = torch.from_numpy(layout.face_index).to(self.device)
        self.flip = torch.from_numpy(layout.flip).to(self.device)
        self.kpt_vertex = torch.from_numpy(layout.kpt_vertex).to(self.device)
        fm = torch.zeros(256 * 256, device=self.device)
        fm[self.face_index] = 1
        self.face_mask = fm.view(1, 1, 256, 256)
        w = torch.from_numpy(pack.weights.astype(np.float32)).to(self.device).view(-1) * fm
        self.weight_flat = w                                                # [65536]
        self.K = build_k(torch.from_numpy(layout.canonical).to(self.device),
                         torch.from_numpy(pack.controls).to(self.device))   # [Nv, P + 4]
        if self.K.shape[1] != pack.coeffs.shape[1]:
            raise PackError(f'K has {self.K.shape[1]} columns, coefficients {pack.coeffs.shape[1]} rows')
        if self.device.type == 'cuda':
            torch.cuda.synchronize()
        held = int(((pack.flags & FLAG_HELDOUT) != 0).sum())
        syn = int(((pack.flags & FLAG_SYNTHETIC) != 0).sum())
        log(f'pack {pack.path}: {pack.count} photos ({held} held out, {syn} synthetic pose), '
            f'P = {pack.controls.shape[0]} control points; decoded with {lib} in {t1 - t0:.1f} s into '
            f'{tuple(photos.shape)} uint8 ({photos.nbytes / 2**20:.0f} MiB); on {self.device} in {time.time() - t1:.1f} s')

    def train_indices(self):
        import torch

        return torch.nonzero((self.flags & FLAG_HELDOUT) == 0).view(-1)

    def heldout_indices(self):
        import torch

        return torch.nonzero((self.flags & FLAG_HELDOUT) != 0).view(-1)

    def vertices(self, idx):
        """Target vertices in the photo frame, float32 [B, Nv, 3] (= K . W), never under autocast.
        (K . W sums ~170 products of magnitude ~100: TF32 would cost ~0.1 px; PyTorch's default
        is no TF32 for matmuls, and train.py keeps it so.)"""
        import torch

        with torch.autocast(device_type=self.device.type, enabled=False):
            W = self.coeffs[idx]                                            # [B, P + 4, 3]
            B, P4, _ = W.shape
            # One [Nv, P + 4] x [P + 4, 3B] product: a batched matmul against K broadcast over the
            # batch ran at ~1 GFLOP/s on the CPU (0.38 s for 16 photos, most of a training step).
            V = torch.matmul(self.K, W.permute(1, 0, 2).reshape(P4, B * 3))
            return V.view(-1, B, 3).permute(1, 0, 2).contiguous()


# ---------------------------------------------------------------------------------------------
# Synthetic pack (tests and CPU trials)

def write_pack(path: str, controls: np.ndarray, jpegs: List[bytes], coeffs: np.ndarray, crops: np.ndarray,
               flags: np.ndarray, weights: np.ndarray, source: str = 'synthetic',
               sample_weights: Optional[np.ndarray] = None) -> None:
    os.makedirs(path, exist_ok=True)
    n = len(jpegs)
    offs = np.zeros(n + 1, '<u4')
    offs[1:] = np.cumsum([len(b) for b in jpegs])
    files = {
        'images.bin': b''.join(jpegs),
        'images.idx': offs.tobytes(),
        'coeffs.f16': np.asarray(coeffs, '<f2').tobytes(),
        'crops.f32': np.asarray(crops, '<f4').tobytes(),
        'flags.u8': np.asarray(flags, np.uint8).tobytes(),
        'weights.u8': np.asarray(weights, np.uint8).tobytes(),
        'meta.json': json.dumps({'version': 1, 'count': n, 'controls': np.asarray(controls).tolist(),
                                 'coverage': 'synthetic', 'source': source}).encode(),
    }
    if sample_weights is not None:
        files['sample-weights.f32'] = np.asarray(sample_weights, '<f4').tobytes()
    for name, b in files.items():
        with open(os.path.join(path, name), 'wb') as f:
            f.write(b)


def synthetic_pack(path: str, layout, count: int = 24, controls: int = 40, seed: int = 0, heldout: int = 4) -> None:
    """Random photos (noise, blobs and an ellipse where the face is) with coefficients that put the
    canonical face into the photo under a random similarity plus a small random thin-plate warp,
    and crops around the landmarks (side = 1.6 x the landmark box, like the real pack)."""
    import io

    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    canon = layout.canonical.astype(np.float64)
    ctrl = canon[rng.choice(layout.n, controls, replace=False)]
    K = np.concatenate([-np.linalg.norm(canon[:, None] - ctrl[None], axis=2), canon, np.ones((layout.n, 1))], 1)
    kv = layout.kpt_vertex
    jpegs, coeffs, crops, draw = [], [], [], []
    for i in range(count):
        w, h = int(rng.integers(120, 300)), int(rng.integers(120, 300))  # some > 256: tests the downscale
        a, b, g = rng.uniform(-0.3, 0.3), rng.uniform(-0.5, 0.5), rng.uniform(-0.2, 0.2)
        Rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
        Ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
        Rz = np.array([[np.cos(g), -np.sin(g), 0], [np.sin(g), np.cos(g), 0], [0, 0, 1]])
        R = Rz @ Ry @ Rx
        draw.append(1 + 3 * abs(b))                 # turned faces drawn more often, as in the real pack
        s = rng.uniform(0.35, 0.6) * min(w, h) / 169.0
        A = s * R                                   # v_photo = A v + t
        centred = canon - canon.mean(0)
        t = np.array([w / 2, h / 2, 0.0]) + rng.uniform(-0.1, 0.1, 3) * min(w, h) - A @ canon.mean(0)
        Wc = np.zeros((controls + 4, 3))
        Wc[:controls] = rng.normal(0, 2e-3, (controls, 3))
        Wc[controls:controls + 3] = A.T
        Wc[controls + 3] = t
        M = K @ Wc
        Wc[controls + 3, 2] -= M[:, 2].min()        # min z = 0
        M = K @ Wc
        kp = M[kv, :2]
        lo, hi = kp.min(0), kp.max(0)
        c = (lo + hi) / 2
        side = 1.6 * float(np.mean(hi - lo))
        crops.append((c[0], c[1], side))
        coeffs.append(Wc)
        img = Image.fromarray(rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)).resize((w, h), Image.BILINEAR)
        d = ImageDraw.Draw(img)
        fl, fh = M[:, :2].min(0), M[:, :2].max(0)
        d.ellipse([fl[0], fl[1], fh[0], fh[1]], fill=tuple(int(x) for x in rng.integers(120, 230, 3)))
        for k in range(68):
            d.point((float(kp[k, 0]), float(kp[k, 1])), fill=(20, 20, 20))
        buf = io.BytesIO()
        img.save(buf, format='JPEG', quality=85)
        jpegs.append(buf.getvalue())
    flags = np.zeros(count, np.uint8)
    flags[count - heldout:] |= FLAG_HELDOUT
    flags[::5] |= FLAG_SYNTHETIC
    wm = layout.weight_mask.astype(np.int64)
    if wm.max() > 16:  # grey levels of the original PNG (255 / 64 / 48) -> classes 16 / 4 / 3
        wm = np.where(wm >= 160, 16, np.where(wm >= 56, 4, np.where(wm >= 24, 3, 0)))
    weights = wm.astype(np.uint8)
    face = layout.face_mask().astype(bool)
    weights[face & (weights == 0)] = 1
    weights[~face] = 0
    write_pack(path, ctrl.astype(np.float32), jpegs, np.array(coeffs, np.float32), np.array(crops, np.float32),
               flags, weights, sample_weights=np.array(draw, np.float32))


def pack_from_vertices(src: str, path: str, layout, controls: int = 160, seed: int = 0, heldout: int = 0) -> float:
    """A pack from photos with known vertices (scripts/preview-pack.ts: files.txt, the JPEGs and
    vertices.f32, count x N x 3 photo pixels): controls drawn from the canonical face, coefficients
    fitted by least squares, crops by the PRNet rule on the fitted landmarks. For previews of the
    augmentation on real faces. Returns the fit's mean residual in photo pixels."""
    rng = np.random.default_rng(seed)
    names = [ln.strip() for ln in open(os.path.join(src, 'files.txt')) if ln.strip()]
    V = np.fromfile(os.path.join(src, 'vertices.f32'), '<f4').reshape(len(names), layout.n, 3).astype(np.float64)
    canon = layout.canonical.astype(np.float64)
    ctrl = canon[rng.choice(layout.n, controls, replace=False)]
    K = np.concatenate([-np.linalg.norm(canon[:, None] - ctrl[None], axis=2), canon, np.ones((layout.n, 1))], 1)
    W = np.linalg.lstsq(K, V.transpose(1, 0, 2).reshape(layout.n, -1), rcond=None)[0]
    W = W.reshape(K.shape[1], len(names), 3).transpose(1, 0, 2)
    M = np.einsum('nk,bkc->bnc', K, W)
    resid = float(np.linalg.norm(M - V, axis=2).mean())
    kp = M[:, layout.kpt_vertex, :2]
    lo, hi = kp.min(1), kp.max(1)
    crops = np.concatenate([(lo + hi) / 2, 1.6 * (hi - lo).mean(1, keepdims=True)], 1)
    jpegs = [open(os.path.join(src, nm), 'rb').read() for nm in names]
    wm = layout.weight_mask.astype(np.int64)
    if wm.max() > 16:
        wm = np.where(wm >= 160, 16, np.where(wm >= 56, 4, np.where(wm >= 24, 3, 0)))
    weights = wm.astype(np.uint8)
    face = layout.face_mask().astype(bool)
    weights[face & (weights == 0)] = 1
    weights[~face] = 0
    flags = np.zeros(len(names), np.uint8)
    if heldout:
        flags[-heldout:] |= FLAG_HELDOUT
    write_pack(path, ctrl.astype(np.float32), jpegs, W.astype(np.float32), crops.astype(np.float32),
               flags, weights, source=f'preview: {src}')
    return resid


if __name__ == '__main__':
    import argparse
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from layout import load_layout

    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--check', metavar='PACK', nargs='+', help='one pack, or several read as one (shards)')
    ap.add_argument('--read', metavar='PACK', nargs='+',
                    help='only read and check the files of these packs as one, without decoding photos (exit 1 with the problem)')
    ap.add_argument('--disjoint', action='store_true', help='--read: packs that share a sample (names.txt) are an error')
    ap.add_argument('--synthetic', metavar='OUT')
    ap.add_argument('--from-vertices', nargs=2, metavar=('SRC', 'OUT'),
                    help='a preview pack from scripts/preview-pack.ts output (real photos, approximate targets)')
    ap.add_argument('--count', type=int, default=24)
    ap.add_argument('--heldout', type=int, default=0, help='--from-vertices: mark the last N photos held out')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--layout', help='layout .safetensors (default: assets/layout.safetensors)')
    ap.add_argument('--layout-reference', action='store_true', help='without the asset, use ../shared uv-data (development)')
    a = ap.parse_args()
    if a.read:
        try:
            pk = read_packs(a.read, disjoint=a.disjoint)
        except PackError as e:
            sys.exit(f'error: {e}')
        print(f'{pk.path}: {pk.count} photos, {int(((pk.flags & FLAG_HELDOUT) != 0).sum())} held out: readable as one pack')
        sys.exit(0)
    lay = load_layout(a.layout, allow_reference=a.layout_reference)
    if a.synthetic:
        synthetic_pack(a.synthetic, lay, a.count, seed=a.seed)
        print(f'wrote a synthetic pack of {a.count} photos to {a.synthetic}')
    if a.from_vertices:
        r = pack_from_vertices(a.from_vertices[0], a.from_vertices[1], lay, heldout=a.heldout)
        print(f'wrote a preview pack to {a.from_vertices[1]} (fit residual {r:.2f} px)')
    if a.check:
        try:
            pk = read_packs(a.check)
            t0 = time.time()
            ph, sz, lib = decode_photos(pk)
        except PackError as e:
            sys.exit(f'error: {e}')
        print(f'{pk.path}: {pk.count} photos, P = {pk.controls.shape[0]}, {int(((pk.flags & 2) != 0).sum())} held out; '
              f'decoded ({lib}) in {time.time() - t0:.2f} s to {ph.shape}; sizes {sz.min(0).tolist()}..{sz.max(0).tolist()}; '
              f'crop sides {pk.crops[:, 2].min():.0f}..{pk.crops[:, 2].max():.0f}; weights {np.unique(pk.weights).tolist()}')

"""The UV layout the trainer needs, read from the project's asset `assets/layout.safetensors`:

| tensor | dtype, shape | meaning |
|---|---|---|
| face_index | I32 [N] | face pixels: indices into the row-major 256x256 map (N = 43,867) |
| kpt | I32 [68, 2] | the 68 landmark pixels as (x = column, y = row), iBUG order |
| canonical | F32 [N, 3] | PRNet's canonical (frontal mean) face at the face pixels |
| weight_mask | U8 [256, 256] | the original loss weights (255 landmarks, 64 eyes/nose/mouth, 48 face) |
| flip | I32 [N] | left-right map: face vertex i mirrors to face vertex flip[i] |
| kpt_flip | I32 [68] | the same for the 68 landmarks |

`load_layout(path=None)` reads the asset; with `allow_reference=True` and no asset, it falls back
to the original PRNet files in ../shared/reference/prnet/uv-data (development only: the flip
tables are then derived from the UV grid's mirror symmetry about column 127.5 and the iBUG
mirror order).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

import safetensors_io as st

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSET = os.path.join(REPO, 'assets', 'layout.safetensors')
REFERENCE = os.path.join(os.path.dirname(REPO), 'shared', 'reference', 'prnet', 'uv-data')
MAP = 256

# iBUG 68-point left-right mirror order (0-based).
IBUG_FLIP = np.array(
    list(range(16, -1, -1))                  # jaw 0..16
    + list(range(26, 16, -1))                # brows 17..26
    + [27, 28, 29, 30]                       # nose bridge
    + [35, 34, 33, 32, 31]                   # nose bottom
    + [45, 44, 43, 42, 47, 46]               # right eye <- left eye
    + [39, 38, 37, 36, 41, 40]               # left eye <- right eye
    + [54, 53, 52, 51, 50, 49, 48]           # outer lip top
    + [59, 58, 57, 56, 55]                   # outer lip bottom
    + [64, 63, 62, 61, 60]                   # inner lip top
    + [67, 66, 65],                          # inner lip bottom
    dtype=np.int64)


@dataclass
class Layout:
    face_index: np.ndarray   # int64 [N]
    kpt: np.ndarray          # int64 [68, 2] (x, y)
    canonical: np.ndarray    # float32 [N, 3]
    weight_mask: np.ndarray  # uint8 [256, 256]
    flip: np.ndarray         # int64 [N]
    kpt_flip: np.ndarray     # int64 [68]
    source: str

    @property
    def n(self) -> int:
        return int(self.face_index.shape[0])

    @property
    def kpt_flat(self) -> np.ndarray:
        """The 68 landmark pixels as indices into the flattened 256x256 map."""
        return self.kpt[:, 1] * MAP + self.kpt[:, 0]

    @property
    def kpt_vertex(self) -> np.ndarray:
        """The 68 landmarks as indices into the face vertices (0..N-1)."""
        pos = np.full(MAP * MAP, -1, np.int64)
        pos[self.face_index] = np.arange(self.n)
        v = pos[self.kpt_flat]
        if (v < 0).any():
            raise ValueError(f'{self.source}: landmarks {np.nonzero(v < 0)[0].tolist()} are not face pixels')
        return v

    def face_mask(self) -> np.ndarray:
        m = np.zeros(MAP * MAP, np.uint8)
        m[self.face_index] = 1
        return m.reshape(MAP, MAP)


def _check(lay: Layout) -> Layout:
    n = lay.n
    if lay.face_index.ndim != 1 or lay.face_index.min() < 0 or lay.face_index.max() >= MAP * MAP:
        raise ValueError(f'{lay.source}: face_index must be indices into the 256x256 map')
    if len(np.unique(lay.face_index)) != n:
        raise ValueError(f'{lay.source}: face_index has repeated pixels')
    if lay.kpt.shape != (68, 2) or lay.canonical.shape != (n, 3) or lay.flip.shape != (n,) \
            or lay.kpt_flip.shape != (68,) or lay.weight_mask.shape != (MAP, MAP):
        raise ValueError(f'{lay.source}: unexpected shapes kpt {lay.kpt.shape}, canonical {lay.canonical.shape}, '
                         f'flip {lay.flip.shape}, kpt_flip {lay.kpt_flip.shape}, weight_mask {lay.weight_mask.shape}')
    if lay.flip.min() < 0 or lay.flip.max() >= n or lay.kpt_flip.min() < 0 or lay.kpt_flip.max() >= 68:
        raise ValueError(f'{lay.source}: flip tables out of range')
    lay.kpt_vertex  # landmarks must be face pixels
    return lay


def load_layout(path: Optional[str] = None, allow_reference: bool = False) -> Layout:
    path = path or ASSET
    if os.path.exists(path):
        t, _meta = st.read(path)
        need = ['face_index', 'kpt', 'canonical', 'weight_mask', 'flip', 'kpt_flip']
        missing = [k for k in need if k not in t]
        if missing:
            raise ValueError(f'{path}: missing tensors {missing}')
        return _check(Layout(
            face_index=t['face_index'].astype(np.int64),
            kpt=t['kpt'].astype(np.int64).reshape(68, 2),
            canonical=t['canonical'].astype(np.float32),
            weight_mask=t['weight_mask'].astype(np.uint8),
            flip=t['flip'].astype(np.int64),
            kpt_flip=t['kpt_flip'].astype(np.int64),
            source=path))
    if not allow_reference:
        raise FileNotFoundError(f'UV layout asset not found: {path} (the project commits assets/layout.safetensors)')
    return load_reference()


def load_reference(folder: str = REFERENCE) -> Layout:
    """Development fallback: the original PRNet uv-data files."""
    from PIL import Image

    fi = np.loadtxt(os.path.join(folder, 'face_ind.txt')).astype(np.int64)
    k = np.loadtxt(os.path.join(folder, 'uv_kpt_ind.txt')).astype(np.int64)  # 2 x 68: x row, y row
    canon = np.load(os.path.join(folder, 'canonical_vertices.npy')).astype(np.float32)
    wm = np.array(Image.open(os.path.join(folder, 'uv_weight_mask.png')).convert('L'), dtype=np.uint8)
    # flip: the UV grid is mirror-symmetric about column 127.5: pixel (x, y) <-> (255 - x, y);
    # where the mirror pixel is not a face pixel, take the nearest face pixel in that row.
    pos = np.full(MAP * MAP, -1, np.int64)
    pos[fi] = np.arange(len(fi))
    ys, xs = fi // MAP, fi % MAP
    mirror = pos[ys * MAP + (MAP - 1 - xs)]
    for i in np.nonzero(mirror < 0)[0]:
        row = fi[ys == ys[i]] % MAP
        j = row[np.argmin(np.abs(row - (MAP - 1 - xs[i])))]
        mirror[i] = pos[ys[i] * MAP + j]
    return _check(Layout(face_index=fi, kpt=k.T.copy(), canonical=canon, weight_mask=wm, flip=mirror,
                         kpt_flip=IBUG_FLIP.copy(), source=folder))


if __name__ == '__main__':
    lay = load_layout(allow_reference=True)
    kv = lay.kpt_vertex
    # a flipped landmark should land (nearly) on its mirror landmark's pixel
    d = np.abs(lay.face_index[lay.flip[kv]] - lay.face_index[kv[lay.kpt_flip]])
    print(f'{lay.source}: {lay.n} face pixels; flip is an involution on '
          f'{(lay.flip[lay.flip] == np.arange(lay.n)).mean() * 100:.2f}% of them; '
          f'landmark flip consistent on {(d == 0).sum()}/68')

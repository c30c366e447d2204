"""The surface of a position map: its UV-grid triangles, the fold count and the smoothness loss.

- `grid_triangles(mask)`: the triangulation of `src/layout/derive.ts` (`triangulateFaceGrid`) over
  the pixels where `mask` is set: per 2x2 cell (TL, TR, BL, BR), all 4 set -> [TL, BL, TR] and
  [TR, BL, BR]; exactly 3 -> one triangle over them; cells row-major. Indices are flat pixel
  indices of the map (`Surface.triangles`); for the 256 face mask the same triangles as the
  runtime's `layout.triangles`, in the same order.
- Fold share (`Surface.fold_share`): the share of triangles touching a fold sharper than 90 deg:
  two triangles sharing an edge whose (unit) normals have a negative dot product, both
  non-degenerate. Exactly `src/geometry/folds.ts` (`foldFraction`): an edge is compared between
  the first triangle that has it and each later one.
- Smoothness loss (`Surface.loss`): on the grid triangles of the face, 1 - cos of the angle between
  the predicted triangle normal and that of the target *smoothed* in UV space (a Gaussian of
  `target_sigma` = 1 pixel over the face pixels only), plus optionally the squared difference of
  the grid edge vectors (a first-derivative match; in units of the network's output, like the main
  loss). Smoothed, because the targets carry the layout's own pixel-scale noise: PRNet's canonical
  face (assets/layout.safetensors) has 9.8 % of its triangles touching a fold > 90 deg, and so
  has every target (K . W is a smooth warp of it); σ 0.7 brings that to 0.02 %, σ 1 to 0.01 %.

`python3 training/surface.py --fold-check OUT.f32 [--noise PX]` writes a 256 x 256 x 3 float32
map (a synthetic target plus noise) and prints its folded-triangle count, for
test/trainer.test.ts to compare with the TypeScript count.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch

warnings.filterwarnings('ignore', message='scatter_reduce\\(\\) is in beta')


def grid_triangles(mask: np.ndarray) -> np.ndarray:
    """[T, 3] int64 flat pixel indices over the set pixels of a square mask (derive.ts order)."""
    S = mask.shape[0]
    m = mask.astype(bool)
    tl, tr, bl, br = m[:-1, :-1], m[:-1, 1:], m[1:, :-1], m[1:, 1:]
    r, c = np.meshgrid(np.arange(S - 1), np.arange(S - 1), indexing='ij')
    p = r * S + c
    P = {'tl': p, 'tr': p + 1, 'bl': p + S, 'br': p + S + 1}
    n = tl.astype(int) + tr + bl + br
    # up to two triangles per cell, in the TS order; cells row-major
    t1 = np.full((S - 1, S - 1, 3), -1, np.int64)
    t2 = np.full((S - 1, S - 1, 3), -1, np.int64)
    four = n == 4
    t1[four] = np.stack([P['tl'], P['bl'], P['tr']], -1)[four]
    t2[four] = np.stack([P['tr'], P['bl'], P['br']], -1)[four]
    three = n == 3
    for sel, tri in ((three & ~tl, ('tr', 'bl', 'br')), (three & tl & ~tr, ('tl', 'bl', 'br')),
                     (three & tl & tr & ~bl, ('tl', 'br', 'tr')), (three & tl & tr & bl & ~br, ('tl', 'bl', 'tr'))):
        t1[sel] = np.stack([P[k] for k in tri], -1)[sel]
    both = np.stack([t1, t2], 2).reshape(-1, 3)
    return both[both[:, 0] >= 0]


def fold_pairs(tri: np.ndarray) -> np.ndarray:
    """[E, 2] triangle pairs compared by folds.ts: for each edge, (first triangle with it, a later one)."""
    T = tri.shape[0]
    a = tri
    b = np.roll(tri, -1, axis=1)
    lo, hi = np.minimum(a, b).reshape(-1), np.maximum(a, b).reshape(-1)
    key = lo * (int(tri.max()) + 1) + hi
    tid = np.repeat(np.arange(T), 3)
    order = np.lexsort((np.arange(key.size), key))  # by key, then by visiting order (stable)
    ks, ts = key[order], tid[order]
    start = np.r_[True, ks[1:] != ks[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(ks.size), 0))
    later = ~start
    return np.stack([ts[first[later]], ts[later]], 1)


def smooth_map(maps: torch.Tensor, mask: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable Gaussian (sigma in pixels, radius 3 sigma) over the pixels where mask [1, 1, S, S]
    is set, normalised by the mask's own blur (no pull towards the zeros outside); 0 outside."""
    import torch.nn.functional as F

    r = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-r, r + 1, device=maps.device, dtype=torch.float32)
    k = torch.exp(-x * x / (2 * sigma * sigma))
    k = k / k.sum()
    C = maps.shape[1]

    def blur(m, c):
        m = F.conv2d(m, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), padding=(0, r), groups=c)
        return F.conv2d(m, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), padding=(r, 0), groups=c)

    num = blur(maps.float() * mask, C)
    den = blur(mask.float(), 1)
    return num / den.clamp(min=1e-6) * mask


class Surface:
    """Triangles and fold pairs of a map of side S over a mask, on a device."""

    def __init__(self, mask: np.ndarray, device):
        self.S = mask.shape[0]
        self.mask = torch.from_numpy(mask.astype(np.float32)).view(1, 1, self.S, self.S).to(device)
        tri = grid_triangles(mask)
        self.count = tri.shape[0]
        self.triangles = torch.from_numpy(tri).to(device)
        self.pairs = torch.from_numpy(fold_pairs(tri)).to(device)
        # grid edges (right and down neighbours, both set): for the edge term
        m = mask.astype(bool)
        S = self.S
        idx = np.arange(S * S).reshape(S, S)
        h = m[:, :-1] & m[:, 1:]
        v = m[:-1, :] & m[1:, :]
        self.edges = torch.from_numpy(np.concatenate([
            np.stack([idx[:, :-1][h], idx[:, 1:][h]], 1), np.stack([idx[:-1, :][v], idx[1:, :][v]], 1)])).to(device)

    def normals(self, maps: torch.Tensor) -> torch.Tensor:
        """maps [B, 3, S, S] -> unnormalised triangle normals [B, 3, T] (float32)."""
        P = maps.float().reshape(maps.shape[0], 3, -1)
        t = self.triangles
        a, b, c = P[:, :, t[:, 0]], P[:, :, t[:, 1]], P[:, :, t[:, 2]]
        return torch.cross(b - a, c - a, dim=1)

    def folded(self, maps: torch.Tensor) -> torch.Tensor:
        """[B, T] bool: triangles touching a fold sharper than 90 deg (folds.ts)."""
        n = self.normals(maps)
        length = n.norm(dim=1, keepdim=True)
        u = torch.where(length > 0, n / length.clamp(min=1e-30), torch.zeros_like(n))
        valid = length.squeeze(1) > 0
        i, j = self.pairs[:, 0], self.pairs[:, 1]
        dot = (u[:, :, i] * u[:, :, j]).sum(1)
        f = (dot < 0) & valid[:, i] & valid[:, j]
        B = maps.shape[0]
        fi = f.to(torch.uint8)
        acc = torch.zeros(B, self.count, dtype=torch.uint8, device=maps.device)
        acc.scatter_reduce_(1, i.unsqueeze(0).expand(B, -1), fi, reduce='amax')
        acc.scatter_reduce_(1, j.unsqueeze(0).expand(B, -1), fi, reduce='amax')
        return acc > 0

    def fold_share(self, maps: torch.Tensor) -> torch.Tensor:
        """[B]: the share of triangles touching a fold (foldFraction)."""
        return self.folded(maps).float().mean(1)

    def loss(self, pred: torch.Tensor, target: torch.Tensor, scale: float, edge_weight: float = 0.0,
             target_sigma: float = 1.0) -> torch.Tensor:
        """Mean over samples and face triangles of 1 - cos(normal of pred, normal of the target
        smoothed by `target_sigma`), plus `edge_weight` x the mean squared difference of the grid
        edge vectors / scale."""
        if target_sigma > 0:
            with torch.no_grad():
                target = smooth_map(target, self.mask, target_sigma)
        npred = self.normals(pred)
        ntgt = self.normals(target)
        cos = (npred * ntgt).sum(1) / (npred.norm(dim=1) * ntgt.norm(dim=1)).clamp(min=1e-8)
        valid = (ntgt.norm(dim=1) > 1e-6).float()
        loss = ((1 - cos) * valid).sum() / valid.sum().clamp(min=1)
        if edge_weight > 0:
            P = pred.float().reshape(pred.shape[0], 3, -1)
            T = target.float().reshape(target.shape[0], 3, -1)
            e = self.edges
            d = ((P[:, :, e[:, 1]] - P[:, :, e[:, 0]]) - (T[:, :, e[:, 1]] - T[:, :, e[:, 0]])) / scale
            loss = loss + edge_weight * (d * d).mean() * 3
        return loss


if __name__ == '__main__':
    import argparse
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from layout import load_layout

    ap = argparse.ArgumentParser(description='Writes a noisy target map and prints its fold count (for the TypeScript comparison).')
    ap.add_argument('--fold-check', required=True, metavar='OUT.f32')
    ap.add_argument('--noise', type=float, default=0.25, help='Gaussian noise added to the map, px')
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    lay = load_layout(allow_reference=True)
    g = torch.Generator().manual_seed(a.seed)
    canon = torch.from_numpy(lay.canonical).float()
    m = torch.zeros(3, 256 * 256)
    m[:, torch.from_numpy(lay.face_index)] = canon.t() + torch.randn(3, lay.n, generator=g) * a.noise
    surf = Surface(lay.face_mask(), 'cpu')
    f = surf.folded(m.view(1, 3, 256, 256))[0]
    m.t().contiguous().numpy().astype('<f4').tofile(a.fold_check)  # row-major map, x y z per pixel
    print(f'triangles {surf.count} folded {int(f.sum())} share {float(f.float().mean()):.6f}')

"""How strong the surface term is against the map loss, for a trained model: the two terms and the
norms of their gradients with respect to the network's output, on a pack's photos (plain crop).

    /usr/bin/python3 training/smooth_scale.py --model assets/models/prnet-default.safetensors --pack PACK [--count 8]

Prints the map loss, the surface term (1 - cos of triangle normals, surface.py), the ratio of
their gradient norms (the weight at which the two pull equally hard) and the fold shares of the
predictions and the targets. Used to choose run_gpu.sh's SMOOTH_WEIGHT (training/README.md §4).
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import safetensors_io as st  # noqa: E402
from augment import Augmenter  # noqa: E402
from layout import load_layout  # noqa: E402
from pack import DevicePack, read_pack  # noqa: E402
from resfcn import ResFCN, load_state  # noqa: E402
from train import _surface, weighted_loss  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True)
    ap.add_argument('--pack', required=True)
    ap.add_argument('--count', type=int, default=8)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tensors, meta = st.load_model_tensors(a.model)
    m = ResFCN(int(meta['width']), int(meta['input_size']), float(meta['output_scale']))
    load_state(m, tensors)
    m.eval()
    lay = load_layout(allow_reference=True)
    dp = DevicePack(read_pack(a.pack), lay, 'cpu', log=lambda s: None)
    size = int(meta['input_size'])
    aug = Augmenter(dp, size, seed=0)
    idx = torch.arange(min(a.count, dp.count))
    x, t, w = aug.batch(idx, train=False, fill='reflect')
    with torch.no_grad():
        y0 = m(x)
    y = y0.clone().requires_grad_(True)
    surf = _surface(dp, y.shape[-1])
    lm = weighted_loss(y, t, w, m.output_scale)
    gm, = torch.autograd.grad(lm, y)
    ls = surf.loss(y, t, m.output_scale)
    gs, = torch.autograd.grad(ls, y)
    le = surf.loss(y, t, m.output_scale, edge_weight=1.0) - ls
    ge, = torch.autograd.grad(surf.loss(y, t, m.output_scale, edge_weight=1.0) - surf.loss(y, t, m.output_scale), y)
    ratio = float(gm.norm() / gs.norm())
    print(f'{a.model} on {idx.numel()} photos of {a.pack}: map loss {float(lm):.3e} (rmse {float(lm) ** 0.5 * m.output_scale:.2f} px), '
          f'surface term {float(ls):.4f}, edge term {float(le):.3e}; gradient norms map {float(gm.norm()):.3e}, surface {float(gs.norm()):.3e}, '
          f'edge {float(ge.norm()):.3e}: equal pull at smooth-weight {ratio:.4f}, edge-weight {float(gm.norm() / ge.norm()):.4f}')
    print(f'folds (share of triangles touching a fold > 90 deg): predictions {float(surf.fold_share(y0).mean()) * 100:.2f} %, '
          f'targets {float(surf.fold_share(t).mean()) * 100:.2f} %')
    return 0


if __name__ == '__main__':
    sys.exit(main())

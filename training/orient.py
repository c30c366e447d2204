"""The face-orientation network (architecture 'orient', src/detect/orientation.ts): from the detector's
crop of a face (64 x 64 RGB, 0..1), the angle by which the face is turned in it, as (cos, sin).
The product turns a crop whose face lies sideways or upside down (a photo turned without an EXIF
tag, a person lying down), which BlazeFace's keypoints cannot tell, before the reconstruction.

Self-supervised: the crops of scripts/orient-crops.ts are upright (turned by the face's own roll,
from the product's reconstruction of upright photos; never AFLW images), stored at 1.5x the crop
square's side; each sample turns one by a random angle (any of 360 degrees), jitters its scale,
centre and colours, mirrors half, and cuts the 64 x 64 middle. The label is the angle.

Layers (each conv 3x3, padding 1, then batch norm and ReLU; batch norms folded into the convs in the
exported file): 3->24 /2, 24->24, 24->48 /2, 48->48, 48->96 /2, 96->96, 96->128 /2, 128->128 /2,
global average pool, linear 128->2. 24 M multiply-adds.

    npx tsx scripts/orient-crops.ts --out .train/orient            # 6,774 crops of 9,354 photos, 8 min
    /usr/bin/python3 -u training/orient.py --crops .train/orient --out assets/detector/orientation.safetensors \
        --minutes 15 --threads 2                                    # 4,953 steps of 128 on the 2 CPU cores
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

INPUT = 64
# (in, out, stride) per conv; keep in step with ORIENT_LAYERS in src/detect/orientation.ts
LAYERS = [(3, 24, 2), (24, 24, 1), (24, 48, 2), (48, 48, 1), (48, 96, 2), (96, 96, 1), (96, 128, 2), (128, 128, 2)]
FORMAT = 'prnet-ts/orient'


class OrientNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(i, o, 3, s, 1, bias=False) for i, o, s in LAYERS])
        self.bns = nn.ModuleList([nn.BatchNorm2d(o) for _, o, _ in LAYERS])
        self.fc = nn.Linear(LAYERS[-1][1], 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, bn in zip(self.convs, self.bns):
            x = F.relu(bn(conv(x)))
        return self.fc(x.mean(dim=(2, 3)))

    def folded(self) -> dict:
        """The exported tensors: each conv with its batch norm folded in (conv{i}.weight, conv{i}.bias), fc.weight, fc.bias."""
        out = {}
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            out[f'conv{i}.weight'] = (conv.weight * scale[:, None, None, None]).detach().numpy().astype(np.float32)
            out[f'conv{i}.bias'] = (bn.bias - bn.running_mean * scale).detach().numpy().astype(np.float32)
        out['fc.weight'] = self.fc.weight.detach().numpy().astype(np.float32)
        out['fc.bias'] = self.fc.bias.detach().numpy().astype(np.float32)
        return out


def load_crops(folder: str):
    meta = json.load(open(os.path.join(folder, 'crops.json')))
    n, s = meta['count'], meta['size']
    data = np.fromfile(os.path.join(folder, 'crops.u8'), dtype=np.uint8).reshape(n, s, s, 3)
    return data, meta


def held_out(sources) -> np.ndarray:
    """Every photo's crops on one side: a photo is held out when a hash of its name ends in 0 or 1 (of 0-9)."""
    import zlib
    return np.array([zlib.crc32(src.split('#')[0].encode()) % 10 < 2 for src in sources])


def make_batch(images: torch.Tensor, margin: float, rng: torch.Generator, full_circle: bool = True):
    """Turned, jittered 64 x 64 samples of the upright crops (N x 3 x S x S, 0..1) and the face's
    clockwise tilt in each (radians, as a crop's angle and the pose's roll)."""
    n = images.shape[0]
    angle = (torch.rand(n, generator=rng) * 2 - 1) * math.pi
    if not full_circle:
        angle = angle * 0
    scale = 0.8 + 0.45 * torch.rand(n, generator=rng)           # the crop's side over the square's
    # in square sides: the box rule puts an upright face's crop centre ~0.09 sides below the box's,
    # so a face upside down or sideways sits up to ~0.2 sides off the centre of its crop
    shift = (torch.rand(n, 2, generator=rng) * 2 - 1) * 0.2
    mirror = torch.rand(n, generator=rng) < 0.5
    c, s = torch.cos(angle), torch.sin(angle)
    k = scale / margin
    # Output pixel p = (x, y) in [-1, 1] (the 64^2 crop; y down) -> input M R(angle) k p + t in the
    # stored 1.5x crop: the upright face mirrored (M, half of them), then shown turned by `angle`
    # counter-clockwise on screen, i.e. tilted clockwise by -angle: the label (`tilt`) is -angle.
    mx = torch.where(mirror, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = k * c * mx
    theta[:, 0, 1] = -k * s * mx
    theta[:, 1, 0] = k * s
    theta[:, 1, 1] = k * c
    theta[:, 0, 2] = shift[:, 0] * 2 / margin
    theta[:, 1, 2] = shift[:, 1] * 2 / margin
    grid = F.affine_grid(theta, [n, 3, INPUT, INPUT], align_corners=False)
    x = F.grid_sample(images, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
    # colours: brightness, contrast, saturation; some grey
    b = 0.75 + 0.5 * torch.rand(n, 1, 1, 1, generator=rng)
    ctr = 0.7 + 0.6 * torch.rand(n, 1, 1, 1, generator=rng)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * ctr + mean) * b
    grey = (torch.rand(n, generator=rng) < 0.2)[:, None, None, None]
    x = torch.where(grey, x.mean(dim=1, keepdim=True).expand_as(x), x)
    x = x + 0.02 * torch.randn(x.shape, generator=rng)
    return x.clamp(0, 1), -angle


def angle_errors(model: nn.Module, images: torch.Tensor, margin: float, seed: int = 7) -> np.ndarray:
    """Absolute angle errors (degrees) of the model on turned held-out samples (a fixed draw)."""
    rng = torch.Generator().manual_seed(seed)
    errs = []
    model.eval()
    with torch.no_grad():
        for i in range(0, images.shape[0], 256):
            x, a = make_batch(images[i:i + 256], margin, rng)
            p = model(x)
            d = torch.atan2(p[:, 1], p[:, 0]) - a
            errs.append(torch.rad2deg(torch.atan2(torch.sin(d), torch.cos(d))).abs().numpy())
    model.train()
    return np.concatenate(errs)


def forward_folded(tensors: dict, x: torch.Tensor) -> torch.Tensor:
    """The exported file's network (folded convs, no batch norm) on x: what src/detect/orientation.ts builds as ONNX."""
    t = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in tensors.items()}
    for i, (_, _, stride) in enumerate(LAYERS):
        x = F.relu(F.conv2d(x, t[f'conv{i}.weight'], t[f'conv{i}.bias'], stride=stride, padding=1))
    return F.linear(x.mean(dim=(2, 3)), t['fc.weight'], t['fc.bias'])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == '--forward':
        # --forward MODEL INPUT OUTPUT: the model file on the safetensors tensor 'input' (N x 3 x 64 x 64), written as 'tilt'
        tensors, _ = safetensors_io.read(sys.argv[2])
        inp, _ = safetensors_io.read(sys.argv[3])
        with torch.no_grad():
            out = forward_folded(tensors, torch.from_numpy(inp['input'].astype(np.float32)))
        safetensors_io.write(sys.argv[4], {'tilt': out.numpy().astype(np.float32)})
        return
    ap = argparse.ArgumentParser()
    ap.add_argument('--crops', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--minutes', type=float, default=12)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data, meta = load_crops(args.crops)
    margin = float(meta['margin'])
    hold = held_out(meta['sources'])
    images = torch.from_numpy(data).permute(0, 3, 1, 2).float() / 255
    train, test = images[~hold], images[hold]
    print(f'{len(train)} training crops, {len(test)} held out', flush=True)
    model = OrientNet()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    rng = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    budget = args.minutes * 60
    step = 0
    while time.time() - t0 < budget:
        frac = (time.time() - t0) / budget
        for g in opt.param_groups:
            g['lr'] = args.lr * 0.5 * (1 + math.cos(math.pi * min(frac, 1)))
        idx = torch.randint(0, len(train), (args.batch,), generator=rng)
        x, a = make_batch(train[idx], margin, rng)
        p = model(x)
        target = torch.stack([torch.cos(a), torch.sin(a)], dim=1)
        loss = F.mse_loss(p, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 500 == 0:
            e = angle_errors(model, test[:1000], margin)
            print(f'step {step} ({time.time() - t0:.0f} s): loss {loss.item():.4f}; held out: median {np.median(e):.1f} deg, '
                  f'over 30 deg {np.mean(e > 30) * 100:.1f} %, over 45 deg {np.mean(e > 45) * 100:.1f} %', flush=True)
    model.eval()
    e = angle_errors(model, test, margin)
    report = {'steps': step, 'samples': step * args.batch, 'minutes': round((time.time() - t0) / 60, 1), 'train_crops': int(len(train)),
              'held_out_crops': int(len(test)), 'held_out_median_deg': round(float(np.median(e)), 2),
              'held_out_over_30_deg_pct': round(float(np.mean(e > 30) * 100), 2), 'held_out_over_45_deg_pct': round(float(np.mean(e > 45) * 100), 2)}
    print(json.dumps(report), flush=True)
    metadata = {'format': FORMAT, 'format_version': '1', 'input_size': str(INPUT), 'layers': json.dumps(LAYERS),
                'name': 'prnet-ts orientation', 'description': 'the angle of a face in its detector crop (cos, sin)',
                'training': json.dumps(report), 'source': 'trained by training/orient.py on crops of ../shared/faces (scripts/orient-crops.ts)'}
    # float16, as the other bundled weights (0.84 MB; the angles move by hundredths of a degree)
    safetensors_io.write(args.out, {k: v.astype(np.float16) for k, v in model.folded().items()}, metadata)
    print(f'wrote {args.out}', flush=True)


if __name__ == '__main__':
    main()

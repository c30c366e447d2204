"""The real-time network (architecture 'mobile', src/model/mobile.ts) in PyTorch, named exactly as
docs/model-format.md: a MobileNetV2-style encoder of inverted-residual blocks and a light U-Net
decoder (per stage: 1x1 conv to 4x the channels, BN, ReLU, pixel shuffle, the encoder's feature of
that side added, one inverted-residual block), then a 1x1 conv to three channels, BN, sigmoid x
output scale.

The state_dict (minus `num_batches_tracked`) has the tensor names and shapes of the weight files,
as ResFCN's does (resfcn.py's export_state / load_state work on both). Every conv is 3x3 with
padding 1 or 1x1, so PyTorch's own padding is the graph's (no TF SAME asymmetry). The head is 1x1:
a 3x3 head (3.5 M of 72 M multiply-adds) took 15 % of the int8 graph's kernel time in onnxruntime
(its blocked kernels pad 3 output channels to 8).

Quick check: `/usr/bin/python3 training/mobile.py` prints the parameter count and output shape.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from resfcn import OUTPUT_SCALE, _autocast_off, _bn

# Keep in step with src/model/mobile.ts.
EXPANSION = 4
DECODER_EXPANSION = 2
# (expansion (0 = EXPANSION), channels in halves of width, blocks, stride of the first)
ENCODER_STAGES: List[Tuple[int, int, int, int]] = [(1, 2, 1, 1), (0, 3, 2, 2), (0, 4, 3, 2), (0, 8, 3, 2), (0, 12, 2, 1), (0, 20, 2, 2)]
# (channels in halves of width, encoder stage whose output is added, -1 none)
DECODER_STAGES: List[Tuple[int, int]] = [(12, 4), (4, 2), (3, 1), (2, 0), (1, -1)]


class Stem(nn.Module):
    """enc.0: conv 3x3 stride 2 (no bias), BN, ReLU."""

    def __init__(self, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(3, cout, 3, 2, 1, bias=False)
        self.bn = _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class InvertedResidual(nn.Module):
    """1x1 expand (absent at expansion 1), BN, ReLU; 3x3 depthwise (stride s), BN, ReLU; 1x1 project,
    BN (linear); + input when stride 1 and channels match."""

    def __init__(self, cin: int, hidden: int, cout: int, stride: int):
        super().__init__()
        self.residual = stride == 1 and cin == cout
        if hidden != cin:
            self.expand: Optional[nn.Conv2d] = nn.Conv2d(cin, hidden, 1, 1, 0, bias=False)
            self.bn1: Optional[nn.BatchNorm2d] = _bn(hidden)
        else:
            self.expand = None
            self.bn1 = None
        self.dw = nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False)
        self.bn2 = _bn(hidden)
        self.project = nn.Conv2d(hidden, cout, 1, 1, 0, bias=False)
        self.bn3 = _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand is not None:
            y = F.relu(self.bn1(self.expand(y)))
        y = F.relu(self.bn2(self.dw(y)))
        y = self.bn3(self.project(y))
        return x + y if self.residual else y


class UpStage(nn.Module):
    """dec.j: 1x1 conv to 4 x cout, BN, ReLU, pixel shuffle (x2), + skip, inverted residual."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.up = nn.Conv2d(cin, 4 * cout, 1, 1, 0, bias=False)
        self.up_bn = _bn(4 * cout)
        self.block = InvertedResidual(cout, cout * DECODER_EXPANSION, cout, 1)

    def forward(self, x: torch.Tensor, skip: Optional[torch.Tensor]) -> torch.Tensor:
        y = F.pixel_shuffle(F.relu(self.up_bn(self.up(x))), 2)
        if skip is not None:
            y = y + skip
        return self.block(y)


class Head(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, 3, 1, 1, 0, bias=False)
        self.bn = _bn(3)


class MobileNet(nn.Module):
    """The real-time network: width = the stem's channels (even), input side a multiple of 32.
    Input N x 3 x S x S in 0..1 (RGB); output N x 3 x S x S = sigmoid(...) x output_scale, positions
    in pixels of a 256 crop. Under autocast the head's BN and the sigmoid run in float32."""

    architecture = 'mobile'

    def __init__(self, width: int = 16, input_size: int = 128, output_scale: float = OUTPUT_SCALE):
        super().__init__()
        if width < 2 or width % 2 != 0 or input_size % 32 != 0:
            raise ValueError(f'width must be even and input_size a multiple of 32 (got {width}, {input_size})')
        self.width = width
        self.input_size = input_size
        self.output_scale = float(output_scale)
        ch = lambda halves: width * halves // 2  # noqa: E731
        enc: List[nn.Module] = [Stem(width)]
        self.stage_ends: List[int] = []
        cin = width
        for t, halves, n, s in ENCODER_STAGES:
            cout = ch(halves)
            for r in range(n):
                enc.append(InvertedResidual(cin, cin * (t or EXPANSION), cout, s if r == 0 else 1))
                cin = cout
            self.stage_ends.append(len(enc) - 1)
        self.enc = nn.ModuleList(enc)
        dec: List[nn.Module] = []
        self.skips: List[int] = []
        for halves, skip in DECODER_STAGES:
            cout = ch(halves)
            dec.append(UpStage(cin, cout))
            self.skips.append(self.stage_ends[skip] if skip >= 0 else -1)
            cin = cout
        self.dec = nn.ModuleList(dec)
        self.head = Head(cin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = {}
        wanted = set(self.skips)
        for k, m in enumerate(self.enc):
            x = m(x)
            if k in wanted:
                feats[k] = x
        for m, skip in zip(self.dec, self.skips):
            x = m(x, feats.get(skip))
        y = self.head.conv(x)
        with _autocast_off(y.device.type):
            if y.dtype in (torch.float16, torch.bfloat16):
                y = y.float()
            y = self.head.bn(y)
            return torch.sigmoid(y) * self.output_scale


if __name__ == '__main__':
    from resfcn import count_trainable, export_state

    m = MobileNet(16, 128)
    n = count_trainable(m)
    names = list(export_state(m).keys())
    assert names[0] == 'enc.0.conv.weight' and 'enc.1.expand.weight' not in names and 'enc.2.expand.weight' in names
    assert 'dec.0.up_bn.running_var' in names and names[-1] == 'head.bn.running_var'
    m.eval()
    with torch.no_grad():
        y = m(torch.rand(2, 3, 128, 128))
    assert tuple(y.shape) == (2, 3, 128, 128) and float(y.min()) >= 0 and float(y.max()) <= 281.6
    print(f'ok: mobile width 16 has {n:,} trainable parameters, {len(names)} tensors')

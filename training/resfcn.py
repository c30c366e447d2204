"""resfcn256 (PRNet's encoder-decoder) in PyTorch, named exactly as docs/model-format.md.

The state_dict of `ResFCN` (minus BatchNorm's `num_batches_tracked`, see `export_state`) has the
tensor names, shapes and layouts of our weight files, so `state_dict()` -> safetensors is a
plain copy. TensorFlow's SAME padding is reproduced exactly:

- conv 4x4 stride 1: pad 1 before, 2 after (top/left 1, bottom/right 2);
- conv 4x4 stride 2 (even input sizes): pad 1 and 1;
- transposed conv 4x4 stride 2: ConvTranspose2d(padding=1) (output = 2 x input);
- transposed conv 4x4 stride 1: ConvTranspose2d(padding=1), then drop the last row and column
  (i.e. 1 removed before, 2 after: ONNX pads [1, 1, 2, 2]).

Works with torch 1.13 (CPU here) and 2.x (CUDA on the GPU machine).

Quick check: `/usr/bin/python3 training/resfcn.py` asserts the parameter count of width 16
(13,353,618) and the output shapes of both variants.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

BN_EPS = 1e-3
# PyTorch's default BatchNorm momentum (0.1) is TF's decay 0.9; our runs are short (a few
# thousand steps), so the running statistics have to follow the weights quickly.
BN_MOMENTUM = 0.1
OUTPUT_SCALE = 256.0 * 1.1  # 281.6

ENC_BLOCKS: List[Tuple[int, int]] = [(2, 2), (2, 1), (4, 2), (4, 1), (8, 2), (8, 1), (16, 2), (16, 1), (32, 2), (32, 1)]
DEC_LAYERS: List[Tuple[int, int]] = [
    (32, 1),
    (16, 2), (16, 1), (16, 1),
    (8, 2), (8, 1), (8, 1),
    (4, 2), (4, 1), (4, 1),
    (2, 2), (2, 1),
    (1, 2), (1, 1),
    (0, 1), (0, 1), (0, 1),  # 0 = three output channels
]


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


def _same_pad(x: torch.Tensor, k: int, stride: int) -> torch.Tensor:
    """TF SAME padding for a k x k conv (k = 4 or 1) on even-sized inputs."""
    if k == 1:
        return x
    if stride == 1:
        return F.pad(x, (1, 2, 1, 2))  # (left, right, top, bottom)
    return F.pad(x, (1, 1, 1, 1))


class ConvBN(nn.Module):
    """enc.0: conv 4x4 stride 1 (no bias), BN, ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 4, 1, 0, bias=False)
        self.bn = _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(_same_pad(x, 4, 1))))


class ResBlock(nn.Module):
    """PRNet's resBlock: 1x1 -> C/2, 4x4 stride s -> C/2, 1x1 -> C (no BN/act), + shortcut, BN, ReLU."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        half = cout // 2
        self.stride = stride
        self.conv1 = nn.Conv2d(cin, half, 1, 1, 0, bias=False)
        self.bn1 = _bn(half)
        self.conv2 = nn.Conv2d(half, half, 4, stride, 0, bias=False)
        self.bn2 = _bn(half)
        self.conv3 = nn.Conv2d(half, cout, 1, 1, 0, bias=False)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride, 0, bias=False)
        else:
            self.shortcut = None
        self.bn3 = _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x if self.shortcut is None else self.shortcut(x)
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(_same_pad(y, 4, self.stride))))
        y = self.conv3(y)
        return F.relu(self.bn3(y + s))


class DeconvBN(nn.Module):
    """dec.j: transposed conv 4x4 (stride 1 or 2, TF SAME), BN, then ReLU (or nothing: the caller
    applies the sigmoid of the last layer)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.stride = stride
        self.conv = nn.ConvTranspose2d(cin, cout, 4, stride, 1, bias=False)
        self.bn = _bn(cout)

    def deconv(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if self.stride == 1:
            y = y[:, :, :-1, :-1]  # padding=1 removed 1 on each side; TF removes 1 before, 2 after
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.deconv(x)))


def _autocast_off(device_type: str):
    """A context that turns autocast off (torch 1.13 and 2.x)."""
    return torch.autocast(device_type=device_type, enabled=False)


class ResFCN(nn.Module):
    """resfcn256 with first-conv width `width` (16 = the original) and input side `input_size`
    (256, or 128 for the light variant). Input N x 3 x S x S in 0..1 (RGB); output N x 3 x S x S
    = sigmoid(...) x output_scale, positions in pixels of a 256 crop.

    Under autocast the last BN and the sigmoid run in float32."""
    architecture = 'resfcn'

    def __init__(self, width: int = 16, input_size: int = 256, output_scale: float = OUTPUT_SCALE):
        super().__init__()
        if width < 1 or input_size % 32 != 0:
            raise ValueError(f'width must be >= 1 and input_size a multiple of 32 (got {width}, {input_size})')
        self.width = width
        self.input_size = input_size
        self.output_scale = float(output_scale)
        C = width
        enc: List[nn.Module] = [ConvBN(3, C)]
        cin = C
        for mult, stride in ENC_BLOCKS:
            enc.append(ResBlock(cin, mult * C, stride))
            cin = mult * C
        self.enc = nn.ModuleList(enc)
        dec: List[nn.Module] = []
        for mult, stride in DEC_LAYERS:
            cout = 3 if mult == 0 else mult * C
            dec.append(DeconvBN(cin, cout, stride))
            cin = cout
        self.dec = nn.ModuleList(dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.enc:
            x = m(x)
        for m in self.dec[:-1]:
            x = m(x)
        last = self.dec[-1]
        y = last.deconv(x)
        with _autocast_off(y.device.type):
            if y.dtype in (torch.float16, torch.bfloat16):
                y = y.float()
            y = last.bn(y)
            return torch.sigmoid(y) * self.output_scale


def export_state(model: ResFCN) -> 'OrderedDict[str, torch.Tensor]':
    """The weight-file tensors: state_dict() without `num_batches_tracked`, detached, on the CPU,
    float32 and contiguous."""
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for k, v in model.state_dict().items():
        if k.endswith('num_batches_tracked'):
            continue
        out[k] = v.detach().to('cpu', torch.float32).contiguous()
    return out


def load_state(model: ResFCN, tensors: Dict[str, torch.Tensor]) -> None:
    """Loads weight-file tensors (any float dtype) into `model`; every model tensor must be present
    with its exact shape, and no extra tensor is allowed."""
    want = {k: v for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')}
    missing = [k for k in want if k not in tensors]
    extra = [k for k in tensors if k not in want]
    if missing or extra:
        raise ValueError(f'weight file does not match {type(model).__name__}(width={model.width}): '
                         f'missing {missing[:5]}{"..." if len(missing) > 5 else ""}, '
                         f'unexpected {extra[:5]}{"..." if len(extra) > 5 else ""}')
    for k, v in want.items():
        t = tensors[k]
        if tuple(t.shape) != tuple(v.shape):
            raise ValueError(f'tensor {k}: shape {tuple(t.shape)}, expected {tuple(v.shape)}')
    with torch.no_grad():
        for k, v in want.items():
            v.copy_(tensors[k].to(v.dtype))


from safetensors_io import ARCHITECTURES  # noqa: E402  (one list: the file reader checks it too)


def build_model(architecture: str = 'resfcn', width: int = 16, input_size: int = 256,
                output_scale: float = OUTPUT_SCALE) -> nn.Module:
    """The network of an architecture ('resfcn': ResFCN here; 'mobile': the real-time network of
    training/mobile.py), as the weight file's metadata names it (absent = 'resfcn')."""
    if architecture == 'resfcn':
        return ResFCN(width, input_size, output_scale)
    if architecture == 'mobile':
        from mobile import MobileNet
        return MobileNet(width, input_size, output_scale)
    raise ValueError(f'unknown architecture {architecture!r} (known: {", ".join(ARCHITECTURES)})')


def model_from_meta(meta) -> nn.Module:
    """The (untrained) network a weight file's metadata describes."""
    return build_model(meta.get('architecture', 'resfcn'), int(meta['width']), int(meta['input_size']),
                       float(meta['output_scale']))


def count_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


if __name__ == '__main__':
    m = ResFCN(16, 256)
    n = count_trainable(m)
    assert n == 13_353_618, n
    names = list(export_state(m).keys())
    assert names[0] == 'enc.0.conv.weight' and 'enc.1.shortcut.weight' in names and 'enc.2.shortcut.weight' not in names
    assert all(not k.endswith('num_batches_tracked') for k in names)
    assert tuple(m.state_dict()['dec.0.conv.weight'].shape) == (512, 512, 4, 4)
    m.eval()
    with torch.no_grad():
        y = m(torch.rand(1, 3, 256, 256))
    assert tuple(y.shape) == (1, 3, 256, 256) and float(y.min()) >= 0 and float(y.max()) <= 281.6
    light = ResFCN(8, 128).eval()
    with torch.no_grad():
        y = light(torch.rand(1, 3, 128, 128))
    assert tuple(y.shape) == (1, 3, 128, 128)
    print(f'ok: width 16 has {n:,} trainable parameters, {len(names)} tensors; width 8 has {count_trainable(light):,}')

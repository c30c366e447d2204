"""Runs a model file through the PyTorch definition (training/resfcn.py, training/mobile.py) on the CPU, for the parity
test against the TypeScript ONNX graph (test/parity.test.ts).

    /usr/bin/python3 training/parity.py --model M.safetensors --input IN.safetensors --output OUT.safetensors
        IN holds `input` F32 [N, 3, S, S] (RGB 0..1); OUT gets `output` F32 [N, 3, S, S].
    /usr/bin/python3 training/parity.py --export-random M.safetensors [--arch resfcn|mobile] --width 8 --input-size 128 --seed 1
        writes random weights the way the trainer exports them (F16), with the statistics of the
        TypeScript side's randomWeights (activations O(1)); --calibrated: PyTorch's initialisation
        with batch-norm statistics measured on random crops instead.

Float32 by default (as onnxruntime); --double computes in float64 (a reference for both).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('--model')
    ap.add_argument('--input')
    ap.add_argument('--output')
    ap.add_argument('--double', action='store_true')
    ap.add_argument('--threads', type=int, default=0)
    ap.add_argument('--export-random')
    ap.add_argument('--arch', default='resfcn', choices=['resfcn', 'mobile'])
    ap.add_argument('--width', type=int, default=8)
    ap.add_argument('--input-size', type=int, default=128)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--dtype', default='F16', choices=['F16', 'F32'])
    ap.add_argument('--calibrated', action='store_true', help='PyTorch init + measured BN statistics (a live, full-range output)')
    a = ap.parse_args()
    try:
        import numpy as np
        import torch
    except ImportError as e:
        print(f'error: {e} (this script needs PyTorch: apt-get install python3-torch)', file=sys.stderr)
        return 3
    import safetensors_io as st
    from resfcn import build_model, load_state, model_from_meta

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    t0 = time.time()
    if a.export_random:
        torch.manual_seed(a.seed)
        m = build_model(a.arch, a.width, a.input_size)
        with torch.no_grad():
            if a.calibrated:
                # PyTorch's initialisation, BN statistics measured on random crops: a live network
                # whose float32 forward differs from float64 by ~0.04 px (rounding grows through
                # the 60 layers), so two correct float32 implementations differ by as much.
                for mod in m.modules():
                    if isinstance(mod, torch.nn.BatchNorm2d):
                        mod.momentum = None  # cumulative average over the calibration batches
                        mod.weight.uniform_(0.8, 1.2)
                        mod.bias.uniform_(-0.1, 0.1)
                m.train()
                for _ in range(2):
                    m(torch.rand(2, 3, a.input_size, a.input_size))
            else:
                # the statistics of the TypeScript side's randomWeights: He-normal kernels (the
                # fan-in of a stride-s transposed conv is in x 16 / s^2), BN gamma 1 +- 0.1,
                # beta and mean +- 0.1, variance in [1, 2) ([2, 3) for the residual sums' bn3)
                for name, mod in m.named_modules():
                    if isinstance(mod, torch.nn.ConvTranspose2d):
                        fan = mod.weight.shape[0] * 16 / (mod.stride[0] ** 2)
                        mod.weight.normal_(0, (2 / fan) ** 0.5)
                    elif isinstance(mod, torch.nn.Conv2d):
                        w = mod.weight
                        mod.weight.normal_(0, (2 / (w.shape[1] * w.shape[2] * w.shape[3])) ** 0.5)
                    elif isinstance(mod, torch.nn.BatchNorm2d):
                        mod.weight.uniform_(0.9, 1.1)
                        mod.bias.uniform_(-0.1, 0.1)
                        mod.running_mean.uniform_(-0.1, 0.1)
                        mod.running_var.uniform_(0, 1).add_(2 if name.endswith('bn3') else 1)
        m.eval()
        data = st.model_bytes(m, name=f'parity-random-{a.arch}-w{a.width}-s{a.input_size}', description='random weights for tests',
                              source='training/parity.py', license='MIT', dtype=a.dtype)
        st.write_bytes(a.export_random, data)
        print(f'wrote {a.export_random} ({len(data)} bytes, {a.dtype}) in {time.time() - t0:.1f} s')
        return 0
    if not (a.model and a.input and a.output):
        ap.error('--model, --input and --output are required (or --export-random)')
    tensors, meta = st.load_model_tensors(a.model)
    m = model_from_meta(meta)
    load_state(m, tensors)
    m.eval()
    arrays, _ = st.read(a.input)
    if 'input' not in arrays:
        print(f'error: {a.input} has no tensor "input"', file=sys.stderr)
        return 2
    x = torch.from_numpy(np.array(arrays['input'], dtype=np.float32))
    S = m.input_size
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != S or x.shape[3] != S:
        print(f'error: input shape {tuple(x.shape)}, expected [N, 3, {S}, {S}]', file=sys.stderr)
        return 2
    if a.double:
        m = m.double()
        x = x.double()
    with torch.no_grad():
        y = m(x)
    st.write(a.output, {'output': y.float().numpy()}, {'torch': torch.__version__, 'dtype': 'float64' if a.double else 'float32'})
    print(f'forward width {m.width} input {S} batch {x.shape[0]}: {time.time() - t0:.1f} s; '
          f'output range {float(y.min()):.3f}..{float(y.max()):.3f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Checks of the trainer's pieces on the CPU (no GPU, no real pack needed):

    /usr/bin/python3 training/selftest.py            # fast checks (~1 min on 2 cores)
    /usr/bin/python3 training/selftest.py --train    # + CPU training runs, checkpoint -> resume, export
    /usr/bin/python3 training/selftest.py --preview out.png [--pack P]   # a grid of augmented crops

The geometry checks use photos whose red/green values are their own pixel coordinates, so the
crop sampled at a target vertex must show that vertex's photo coordinates.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import safetensors_io as st  # noqa: E402
from augment import AugConfig, Augmenter  # noqa: E402
from layout import load_layout  # noqa: E402
from pack import DevicePack, PackError, read_pack, read_packs, synthetic_pack, write_pack  # noqa: E402
from resfcn import ResFCN, count_trainable, export_state, load_state  # noqa: E402


def layout():
    return load_layout(allow_reference=True)


def coordinate_photos(dp: DevicePack) -> None:
    """Replaces the photos by ramps: R = x, G = y (pixel coordinates; photos are <= 256 px)."""
    N, _, H, W = dp.photos.shape
    ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing='ij')
    dp.photos[:, 0] = xs.clamp(max=255).to(torch.uint8)
    dp.photos[:, 1] = ys.clamp(max=255).to(torch.uint8)
    dp.photos[:, 2] = 128


def sample_at(img: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """img [B, 3, 256, 256], xy [B, N, 2] crop pixels -> [B, N, 3]."""
    g = xy * (2.0 / 255) - 1
    return torch.nn.functional.grid_sample(img, g.unsqueeze(1), align_corners=True).squeeze(2).permute(0, 2, 1)


def check_geometry(dp: DevicePack, lay) -> None:
    coordinate_photos(dp)
    cfg = AugConfig(colour_min=1, colour_max=1, occlude_prob=0, pad_prob=0, feather_min=1, feather_max=1, jitter='uniform')
    aug = Augmenter(dp, 256, cfg, seed=1)
    idx = torch.arange(dp.count)
    Vp = dp.vertices(idx)  # photo frame
    total_ok, total = 0, 0
    for rep in range(4):
        x, t, w = aug.batch(idx, train=True)
        T = t.reshape(dp.count, 3, -1)[:, :, dp.face_index].permute(0, 2, 1)  # [B, N, 3]
        got = sample_at(x, T[..., :2]) * 255  # photo coordinates seen at each target vertex
        # the flipped maps hold vertex flip[i] at i: compare with the right photo vertex
        flipped = (got[..., :2] - Vp[:, dp.flip, :2]).norm(dim=-1).median(dim=1).values < \
                  (got[..., :2] - Vp[..., :2]).norm(dim=-1).median(dim=1).values
        ref = torch.where(flipped.view(-1, 1, 1), Vp[:, dp.flip], Vp)
        wh = dp.sizes[idx].view(-1, 1, 2)
        inside = ((ref[..., :2] > 3) & (ref[..., :2] < wh - 4)).all(-1)
        inside &= ((T[..., :2] > 1) & (T[..., :2] < 254)).all(-1)
        err = (got[..., :2] - ref[..., :2]).norm(dim=-1)
        total_ok += int(((err < 0.75) & inside).sum())
        total += int(inside.sum())
        assert int(flipped.sum()) not in (0, dp.count) or rep > 0, 'no mix of flipped and unflipped samples'
        # z: min 0, same scale as x, y
        assert float(T[..., 2].amin(1).abs().max()) < 1e-3, 'min z is not 0'
        dq = (T[:, 0, :2] - T[:, 1000, :2]).norm(dim=-1)
        dpp = (ref[:, 0, :2] - ref[:, 1000, :2]).norm(dim=-1)
        scale = dq / dpp
        zr = (T[..., 2].amax(1) - T[..., 2].amin(1)) / (ref[..., 2].amax(1) - ref[..., 2].amin(1))
        assert torch.allclose(zr, scale, rtol=2e-3), (zr, scale)
        # weights: zero off the face, flipped with the map
        assert float(w.reshape(dp.count, -1)[:, dp.face_mask.view(-1) == 0].abs().max()) == 0
    frac = total_ok / max(total, 1)
    print(f'geometry: crop at target vertex shows that vertex (< 0.75 px) for {frac * 100:.2f}% of {total} inside vertices')
    assert frac > 0.999, frac


def check_eval_crop(dp: DevicePack) -> None:
    """Without augmentation the target must be the plain PRNet crop: q = (p - c) 255 / s + 127.5."""
    aug = Augmenter(dp, 256, seed=0)
    idx = torch.arange(dp.count)
    _, t, _ = aug.batch(idx, train=False, fill='reflect')
    T = t.reshape(dp.count, 3, -1)[:, :, dp.face_index].permute(0, 2, 1)
    V = dp.vertices(idx)
    c = dp.crops[idx]
    q = (V[..., :2] - c[:, None, :2]) * (255 / c[:, None, 2:3]) + 127.5
    assert float((q - T[..., :2]).abs().max()) < 1e-3
    z = V[..., 2] * (255 / c[:, None, 2])
    assert float(((z - z.amin(1, keepdim=True)) - T[..., 2]).abs().max()) < 1e-3
    print('eval crop: targets are the plain PRNet crop (x, y, z x 255/side, min z 0)')


def check_light(dp: DevicePack) -> None:
    aug = Augmenter(dp, 128, seed=0)
    idx = torch.arange(4)
    x, t, w = aug.batch(idx, train=True)
    assert tuple(x.shape) == (4, 3, 128, 128) and tuple(t.shape) == (4, 3, 128, 128) and tuple(w.shape) == (4, 1, 128, 128)
    aug.gen.manual_seed(5)
    x2, t256, w256 = aug.batch(idx, train=True, pool=False)
    aug.gen.manual_seed(5)
    x3, t128, w128 = aug.batch(idx, train=True, pool=True)
    assert torch.equal(x2, x3)
    # a 128 cell holding face pixels has the mean of those pixels' targets
    fm = dp.face_mask.view(256, 256)
    cell = fm[100:102, 60:62]
    want = (t256[:, :, 100:102, 60:62] * cell).sum((2, 3)) / cell.sum()
    assert torch.allclose(t128[:, :, 50, 30], want, atol=1e-4)
    assert torch.allclose(w128, torch.nn.functional.avg_pool2d(w256, 2))
    print('light variant: 128 input = 256 crop box-downsampled; 128 target = face-pixel means of 2x2 cells')


def check_large_pose(dp: DevicePack) -> None:
    coordinate_photos(dp)
    idx = torch.arange(dp.count)
    V = dp.vertices(idx)
    c = dp.crops[idx]
    q = (V[..., :2] - c[:, None, :2]) * (255 / c[:, None, 2:3]) + 127.5  # unrotated crop positions
    for mode in ('warp', 'splat'):
        cfg = AugConfig(colour_min=1, colour_max=1, occlude_prob=0, pad_prob=1.0, flip_prob=0, rotate_deg=0,
                        scale_min=1, scale_max=1, shift=0, jitter='uniform', rot_prob=1.0, yaw_min_deg=15, yaw_max_deg=90, rot_mode=mode)
        aug = Augmenter(dp, 256, cfg, seed=2)
        x, t, _ = aug.batch(idx, train=True)
        T = t.reshape(dp.count, 3, -1)[:, :, dp.face_index].permute(0, 2, 1)
        moved = (q - T[..., :2]).norm(dim=-1).mean(1)
        assert float(moved.min()) > 2, moved
        assert float(T[..., 2].amin(1).abs().max()) < 1e-3
        # the 3D shape is rigidly rotated: pairwise distances (in crop units) are kept
        zs = V[..., 2] * (255 / c[:, None, 2])
        Q = torch.cat([q, zs.unsqueeze(-1)], -1)
        a, b = torch.randint(0, Q.shape[1], (2, 500))
        assert torch.allclose((Q[:, a] - Q[:, b]).norm(dim=-1), (T[:, a] - T[:, b]).norm(dim=-1), rtol=1e-3, atol=1e-2)
        # the nearest vertex at each target pixel shows its original photo position; hidden
        # vertices (self-occluded: behind a nearer part of the face at the same pixel) may not
        got = sample_at(x, T[..., :2].round()) * 255
        ok = ((got[..., :2] - V[..., :2]).norm(dim=-1) < 2.0).float()
        wh = dp.sizes[idx].view(-1, 1, 2)
        inside = ((V[..., :2] > 3) & (V[..., :2] < wh - 4)).all(-1).float()  # (outside: reflected/border fill)
        front = _front_vertices(T) * _facing(t, dp) * inside
        okf = (ok * front).sum(1) / front.sum(1)
        print(f'large pose ({mode}): faces moved {moved.mean():.1f} px on average (yaw 15-90 deg); rendered colour = '
              f'original photo position at {ok.mean() * 100:.0f}% of all vertices, at {okf.mean() * 100:.1f}% '
              f'(min {okf.min() * 100:.1f}%) of those nearest the camera at their pixel and facing it (|n_z| > 0.5)')
        assert float(ok.mean(1).min()) > 0.3, ok.mean(1)
        assert float(okf.min()) > 0.95, okf
    # pitch alone (no yaw): a rotation about the eye line, which therefore stays where it was
    aug = Augmenter(dp, 256, AugConfig(colour_min=1, colour_max=1, occlude_prob=0, pad_prob=1.0, flip_prob=0,
                                       rotate_deg=0, scale_min=1, scale_max=1, shift=0, jitter='uniform', rot_prob=1.0,
                                       yaw_min_deg=0, yaw_max_deg=0, pitch_max_deg=40), seed=3)
    _, t, _ = aug.batch(idx, train=True)
    T = t.reshape(dp.count, 3, -1)[:, :, dp.face_index].permute(0, 2, 1)
    Q0 = torch.cat([q, zs.unsqueeze(-1)], -1)
    Q0 = torch.cat([Q0[..., :2], Q0[..., 2:] - Q0[..., 2:].amin(1, keepdim=True)], -1)
    line = lambda X: X[:, aug.right_eye].mean(1) - X[:, aug.left_eye].mean(1)  # noqa: E731
    eyes_mouth = lambda X: X[:, aug.mouth].mean(1) - X[:, aug.eyes].mean(1)  # noqa: E731
    assert torch.allclose(line(T), line(Q0), atol=1e-2), (line(T), line(Q0))
    turned = torch.rad2deg(torch.acos((F.normalize(eyes_mouth(T), dim=-1) * F.normalize(eyes_mouth(Q0), dim=-1)).sum(-1).clamp(-1, 1)))
    assert float(turned.max()) <= 40.5 and float(turned.max()) > 5, turned
    print(f'large pose, pitch only: the eye line stays; eyes->mouth turned by up to {turned.max():.0f} deg (max 40)')


def _front_vertices(T: torch.Tensor) -> torch.Tensor:
    """[B, N] 1 where no target vertex within a pixel of a vertex's rounded position is nearer to the
    camera by more than 2 px."""
    B, N, _ = T.shape
    pix = (T[..., 1].round().clamp(0, 255) * 256 + T[..., 0].round().clamp(0, 255)).long()
    zbuf = torch.full((B, 256 * 256), -1e9).scatter_reduce(1, pix, T[..., 2], reduce='amax')
    zbuf = F.max_pool2d(zbuf.view(B, 1, 256, 256), 3, 1, 1).view(B, -1)  # (the render's 2x2 footprint)
    return (T[..., 2] >= zbuf.gather(1, pix) - 2.0).float()


def _facing(t: torch.Tensor, dp: DevicePack) -> torch.Tensor:
    """[B, N] 1 where the target surface faces the camera (|z of the unit normal| > 0.5), from the
    map's UV derivatives."""
    du = F.pad(t[..., :, 1:] - t[..., :, :-1], (0, 1, 0, 0), mode='replicate')
    dv = F.pad(t[..., 1:, :] - t[..., :-1, :], (0, 0, 0, 1), mode='replicate')
    n = torch.cross(du, dv, dim=1)
    nz = (n[:, 2] / n.norm(dim=1).clamp(min=1e-6)).abs()
    return (nz.reshape(t.shape[0], -1)[:, dp.face_index] > 0.5).float()


def _silhouette(T: torch.Tensor) -> torch.Tensor:
    """[B, 1, 256, 256] the face's 2D silhouette from target vertices [B, N, 3] (3x3 closing)."""
    B = T.shape[0]
    pix = (T[..., 1].round().clamp(0, 255) * 256 + T[..., 0].round().clamp(0, 255)).long()
    m = torch.zeros(B, 256 * 256).scatter_(1, pix, 1.0).view(B, 1, 256, 256)
    return 1 - F.max_pool2d(1 - F.max_pool2d(m, 3, 1, 1), 3, 1, 1)


def seam_energy(dp: DevicePack, cfg_kw: dict, seed: int, idx: torch.Tensor):
    """Image gradient energy (squared forward differences, summed over channels) on the old face's
    boundary (a 5 px band around the unrotated face's silhouette, away from the rotated face by
    > 3 px) and inside the rotated face (eroded 3 px), for 'splat' and 'warp' under the same draws.
    Returns {mode: (boundary, interior)}."""
    out = {}
    base = Augmenter(dp, 256, AugConfig(rot_prob=0.0, occlude_prob=0, **cfg_kw), seed=seed)
    _, t0, _ = base.batch(idx, train=True)
    B = idx.numel()
    m0 = _silhouette(t0.reshape(B, 3, -1)[:, :, dp.face_index].permute(0, 2, 1))
    band0 = F.max_pool2d(m0, 5, 1, 2) - (1 - F.max_pool2d(1 - m0, 5, 1, 2))
    for mode in ('splat', 'warp'):
        aug = Augmenter(dp, 256, AugConfig(rot_prob=1.0, rot_mode=mode, occlude_prob=0, **cfg_kw), seed=seed)
        x, t, _ = aug.batch(idx, train=True)
        m1 = _silhouette(t.reshape(B, 3, -1)[:, :, dp.face_index].permute(0, 2, 1))
        band = band0 * (1 - F.max_pool2d(m1, 7, 1, 3))
        inner = 1 - F.max_pool2d(1 - m1, 7, 1, 3)
        gx = (x[..., :-1, 1:] - x[..., :-1, :-1]) ** 2
        gy = (x[..., 1:, :-1] - x[..., :-1, :-1]) ** 2
        e = (gx + gy).sum(1, keepdim=True)
        bd, inn = band[..., :-1, :-1], inner[..., :-1, :-1]
        out[mode] = (float((e * bd).sum() / bd.sum().clamp(min=1)), float((e * inn).sum() / inn.sum().clamp(min=1)))
    return out


def check_jitter(dp: DevicePack) -> None:
    """The training crop's scale and shift follow the measured runtime table (crop_jitter.json):
    recovered from the targets (the crop is where the target's landmark box puts it)."""
    from augment import load_jitter_table

    tab = load_jitter_table()
    aug = Augmenter(dp, 256, AugConfig(rotate_deg=0, flip_prob=0, occlude_prob=0), seed=5)
    idx = torch.arange(dp.count).repeat(20)
    _, t, _ = aug.batch(idx, train=True)
    T = t.reshape(idx.numel(), 3, -1)[:, :, dp.face_index][:, :2, dp.kpt_vertex]  # [B, 2, 68]
    lo, hi = T.amin(2), T.amax(2)
    scale = 1.6 * (hi - lo).mean(1) / 255      # target crop side in sides of the training crop
    shift = (127.5 - (lo + hi) / 2) / 255       # training crop centre - target centre, in its sides
    q = torch.tensor([0.1, 0.5, 0.9])
    got = [torch.quantile(scale, q), torch.quantile(shift[:, 0], q), torch.quantile(shift[:, 1], q)]
    want = [torch.quantile(tab[:, i], q) for i in range(3)]
    print('crop jitter (runtime table): quantiles 10/50/90 % of scale '
          f'{[round(float(v), 3) for v in got[0]]} (table {[round(float(v), 3) for v in want[0]]}), '
          f'shift x {[round(float(v), 3) for v in got[1]]} ({[round(float(v), 3) for v in want[1]]}), '
          f'shift y {[round(float(v), 3) for v in got[2]]} ({[round(float(v), 3) for v in want[2]]})')
    for g_, w_ in zip(got, want):
        assert float((g_ - w_).abs().max()) < 0.06, (g_, w_)


def check_seam(dp: DevicePack) -> None:
    """The cut-out edge: on photos whose colours are their own coordinates (smooth ramps), a seam is
    a jump; the old face's boundary must be as smooth as the face's inside under 'warp'."""
    coordinate_photos(dp)
    idx = torch.arange(dp.count)
    e = seam_energy(dp, dict(colour_min=1, colour_max=1, pad_prob=0.0), seed=4, idx=idx)
    rs, rw = e['splat'][0] / e['splat'][1], e['warp'][0] / e['warp'][1]
    print(f'seam: gradient energy on the old face boundary / inside the face: splat {rs:.1f} '
          f'({e["splat"][0]:.2e} / {e["splat"][1]:.2e}), warp {rw:.1f} ({e["warp"][0]:.2e} / {e["warp"][1]:.2e})')
    assert rw < 3 and rw < 0.25 * rs, (rs, rw)


def check_safetensors() -> None:
    m = ResFCN(8, 128)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    data = st.model_bytes(m, name='t', description='d', source='s', license='MIT', dtype='F16')
    tensors, meta = st.load_model_tensors_from_bytes(data)
    assert meta['format'] == 'prnet-ts/resfcn' and meta['width'] == '8' and meta['input_size'] == '128' \
        and meta['output_scale'] == '281.6' and meta['version'] == '1'
    arrays, _ = st.decode(data)
    assert all(v.dtype == np.float16 for v in arrays.values())
    assert list(arrays.keys()) == list(export_state(m).keys())
    assert not any(k.endswith('num_batches_tracked') for k in arrays)
    m2 = ResFCN(8, 128)
    load_state(m2, tensors)
    for k, v in export_state(m).items():
        assert torch.allclose(v, export_state(m2)[k], rtol=1e-3, atol=1e-4), k
    with tempfile.TemporaryDirectory() as d:  # the 8-bit start for --init: within 1/254 of each tensor's range
        src, q8 = os.path.join(d, 'm.safetensors'), os.path.join(d, 'm.i8.safetensors')
        st.write_bytes(src, data)
        n, worst = st.quantize_init(src, q8, keep_below=0)  # every kernel 8-bit
        assert n < len(data) * 0.6 and worst <= 0.5 / 127 + 1e-6, (n, len(data), worst)
        qt, qmeta = st.load_init(q8)
        assert qmeta['init_dtype'] == 'I8' and qmeta['width'] == '8' and set(qt) == set(tensors)
        for k, v in tensors.items():
            tol = float(v.abs().max()) * (0.5 / 127) + 1e-6 if v.dim() >= 2 else 0
            assert float((qt[k] - v).abs().max()) <= tol, k
        # the default: kernels under INIT_FLOAT_BELOW values stay as they are, the larger ones 8-bit
        n2, _ = st.quantize_init(src, q8)
        qt2, _ = st.load_init(q8)
        small = [k for k, v in tensors.items() if v.dim() >= 2 and v.numel() < st.INIT_FLOAT_BELOW]
        large = [k for k, v in tensors.items() if v.dim() >= 2 and v.numel() >= st.INIT_FLOAT_BELOW]
        assert small and large and n < n2 < len(data), (len(small), len(large), n, n2, len(data))
        assert all(torch.equal(qt2[k], tensors[k]) for k in small)
        assert all(not torch.equal(qt2[k], tensors[k]) and torch.equal(qt2[k], qt[k]) for k in large)
        ft, fmeta = st.load_init(src)  # a plain model file loads too
        assert all(torch.equal(ft[k], tensors[k]) for k in tensors)
        carded = os.path.join(d, 'card.safetensors')  # --card: the card changes, nothing else
        st.set_card(src, carded, {'name': 'n2', 'license': 'x=y'})
        ct, cmeta = st.read_model(carded)
        assert cmeta == {**meta, 'name': 'n2', 'license': 'x=y'}
        assert set(ct) == set(arrays) and all(np.array_equal(ct[k], arrays[k]) for k in arrays)
        try:
            st.set_card(src, carded, {'width': '9'})
            raise AssertionError('a non-card key was rewritten')
        except ValueError:
            pass
    raw = {'a': np.arange(6, dtype=np.int32).reshape(2, 3), 'b': np.array([1, 2], np.uint8),
           'c': np.ones((1, 2), np.float32), 'd': np.zeros(3, np.float16)}
    back, meta2 = st.decode(st.encode(raw, {'x': 'y'}))
    assert meta2 == {'x': 'y'} and all(np.array_equal(back[k], v) and back[k].dtype == v.dtype for k, v in raw.items())
    with tempfile.TemporaryDirectory() as d:
        paths = st.write_parts(data, d, part_bytes=1 << 20)
        assert len(paths) == -(-len(data) // (1 << 20)) + 1
        st.join_parts(d, os.path.join(d, 'joined.safetensors'))
        assert open(os.path.join(d, 'joined.safetensors'), 'rb').read() == data
        with open(paths[1], 'r+b') as f:
            f.write(b'\0\0\0\0')
        try:
            st.join_parts(d, os.path.join(d, 'bad.safetensors'))
            raise AssertionError('damaged part not detected')
        except st.SafetensorsError:
            pass
    for bad in (b'', b'\x05\0\0\0\0\0\0\0{', data[:len(data) // 2]):
        try:
            st.decode(bad)
            raise AssertionError('bad file accepted')
        except st.SafetensorsError:
            pass
    print('safetensors: F16 export names/metadata, round trip, parts + sha256, damaged files rejected')


def check_mobile() -> None:
    """The real-time network (training/mobile.py): its export names the architecture, loads back
    through model_from_meta, and forward passes agree after the F16 round trip."""
    from mobile import MobileNet
    from resfcn import model_from_meta

    torch.manual_seed(0)
    m = MobileNet(16, 128)
    m.eval()
    data = st.model_bytes(m, name='t', dtype='F32')
    tensors, meta = st.load_model_tensors_from_bytes(data)
    assert meta['architecture'] == 'mobile' and meta['width'] == '16' and meta['input_size'] == '128'
    assert 'architecture' not in st.decode(st.model_bytes(ResFCN(8, 128), dtype='F16'))[1]  # resfcn files as before
    m2 = model_from_meta(meta)
    assert isinstance(m2, MobileNet)
    load_state(m2, tensors)
    m2.eval()
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        assert float((m(x) - m2(x)).abs().max()) == 0.0
    try:
        load_state(ResFCN(8, 128), tensors)
        raise AssertionError('mobile tensors loaded into ResFCN')
    except ValueError as e:
        assert 'does not match ResFCN' in str(e)
    try:
        st.check_model_metadata({**meta, 'architecture': 'nope'})
        raise AssertionError('unknown architecture accepted')
    except st.SafetensorsError as e:
        assert "unknown architecture 'nope'" in str(e)
    print(f'mobile: {count_trainable(m):,} parameters, export names its architecture, loads back, identical forward')


def check_pack_errors(tmp: str, lay) -> None:
    p = os.path.join(tmp, 'bad')
    synthetic_pack(p, lay, count=4, heldout=1)
    with open(os.path.join(p, 'coeffs.f16'), 'r+b') as f:
        f.truncate(10)
    try:
        read_pack(p)
        raise AssertionError('truncated coeffs accepted')
    except PackError as e:
        assert 'coeffs.f16' in str(e)
    try:
        read_pack(os.path.join(tmp, 'nowhere'))
        raise AssertionError('missing pack accepted')
    except PackError as e:
        assert 'not found' in str(e)
    print('pack: missing and truncated packs fail with the file named')


def split_pack(src: str, outs, at: int) -> None:
    """Writes src's samples [0, at) and [at, N) as two packs (the same controls and weights), with
    names.txt, as pack-training.ts --shards does."""
    pk = read_pack(src)
    for out, sl in zip(outs, (slice(0, at), slice(at, pk.count))):
        write_pack(out, pk.controls, pk.blobs[sl], pk.coeffs[sl], pk.crops[sl], pk.flags[sl].copy(), pk.weights,
                   sample_weights=None if pk.sample_weights is None else pk.sample_weights[sl])
        with open(os.path.join(out, 'names.txt'), 'w') as f:
            f.write(''.join(f'photo{i}.jpg\n' for i in range(pk.count)[sl]))


def check_pack_shards(tmp: str, pack: str, lay) -> None:
    a, b = os.path.join(tmp, 'shard-0'), os.path.join(tmp, 'shard-1')
    split_pack(pack, (a, b), 7)
    whole, both = read_pack(pack), read_packs([a, b], log=lambda s: None)
    assert both.count == whole.count and both.blobs == whole.blobs, (both.count, whole.count)
    for f in ('coeffs', 'crops', 'flags', 'sample_weights'):
        assert np.array_equal(getattr(both, f), getattr(whole, f)), f
    assert both.path == f'{a} + {b}' and both.meta['count'] == whole.count
    assert [p['count'] for p in both.meta['packs']] == [7, whole.count - 7]
    assert read_packs([a]).count == 7
    for paths, want in (([a, a], 'named twice'), ([], 'no pack given')):
        try:
            read_packs(paths)
            raise AssertionError(f'{paths} accepted')
        except PackError as e:
            assert want in str(e), str(e)
    other = os.path.join(tmp, 'other')
    synthetic_pack(other, lay, count=4, heldout=1, seed=9)
    try:
        read_packs([a, other])
        raise AssertionError('packs with different controls accepted')
    except PackError as e:
        assert 'different control points' in str(e) and a in str(e) and other in str(e), str(e)
    # a sample in both packs is reported (it would be drawn twice as often)
    names_b = open(os.path.join(b, 'names.txt')).read().split('\n')
    names_b[0] = 'photo0.jpg'
    with open(os.path.join(b, 'names.txt'), 'w') as f:
        f.write('\n'.join(names_b))
    logged = []
    read_packs([a, b], log=logged.append)
    assert len(logged) == 1 and '1 samples are in more than one' in logged[0] and 'photo0.jpg' in logged[0], logged
    try:
        read_packs([a, b], disjoint=True)  # what run_gpu.sh asks of an extra pack
        raise AssertionError('packs sharing a sample accepted as disjoint')
    except PackError as e:
        assert 'not shards of one packing run' in str(e), str(e)
    # DevicePack on the joined pack: the same targets as on the whole one
    dw, db = (DevicePack(p, lay, 'cpu', log=lambda s: None) for p in (whole, both))
    idx = torch.arange(whole.count)
    assert torch.equal(dw.vertices(idx), db.vertices(idx)) and torch.equal(dw.heldout_indices(), db.heldout_indices())
    print(f'pack shards: {a} + {b} read as one pack of {both.count} photos (the same samples, targets and held-out set); '
          f'a pack named twice, different control points and shared samples are caught')


def run(cmd, **kw):
    print('$', ' '.join(cmd), flush=True)
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    print(r.stdout[-3000:], r.stderr[-3000:], f'[{time.time() - t0:.0f} s, rc {r.returncode}]', flush=True)
    return r


def check_training(tmp: str) -> None:
    py = sys.executable
    pack = os.path.join(tmp, 'pack')
    base = [py, '-u', os.path.join(HERE, 'train.py'), '--pack', pack, '--device', 'cpu', '--batch', '2',
            '--log-every', '1', '--ckpt-minutes', '100', '--eval-max', '2', '--threads', '2']
    if not os.path.exists(os.path.join(HERE, '..', 'assets', 'layout.safetensors')):
        base.append('--layout-reference')
    out8 = os.path.join(tmp, 'w8')
    r = run(base + ['--out', out8, '--width', '8', '--input-size', '128', '--max-steps', '3', '--rot-prob', '0.5'])
    assert r.returncode == 0
    with open(os.path.join(out8, 'train-log.csv'), 'a') as f:  # a step a stopped run logged after its last checkpoint
        f.write('4,8,1.00,1.000e-03,1.000000e+00,1.000,0.00000\n')
    r = run(base + ['--out', out8, '--width', '8', '--input-size', '128', '--max-steps', '2', '--resume', 'auto'])
    assert r.returncode == 0 and 'resumed' in r.stdout and re.search(r'^step +5 ', r.stdout, re.M)
    assert "1 rows after the checkpoint's step 3 removed" in r.stdout, r.stdout
    rows = open(os.path.join(out8, 'train-log.csv')).read().strip().split('\n')
    assert [x.split(',')[0] for x in rows] == ['step', '1', '2', '3', '4', '5'], rows
    assert 'sampling: by the pack' in r.stdout  # the synthetic pack has sample weights
    # the same --out again without --resume: refused (it replaced the checkpoint, the log and the weights)
    r = run(base + ['--out', out8, '--width', '8', '--input-size', '128', '--max-steps', '1'])
    assert r.returncode == 2 and 'holds an earlier run (step 5): --resume auto continues it' in r.stderr, r.stderr
    # SIGINT mid-run: the step finishes, the checkpoint and the weights are saved, exit 130
    outi = os.path.join(tmp, 'wint')
    cmd = base + ['--out', outi, '--width', '8', '--input-size', '128', '--minutes', '5']
    print('$', ' '.join(cmd), '(SIGINT after its second step)', flush=True)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in p.stdout:
        seen.append(line)
        if re.match(r'^step +2 ', line):
            p.send_signal(signal.SIGINT)
    p.wait(timeout=120)
    said = ''.join(seen)
    print(said[-1500:], flush=True)
    assert p.returncode == 130, (p.returncode, said)
    assert 'SIGINT: stopping after this step' in said and 'stopped by SIGINT at step' in said and 'Traceback' not in said, said
    assert os.path.exists(os.path.join(outi, 'checkpoint.pt')) and os.path.exists(os.path.join(outi, 'model.safetensors.part0'))
    # --init: a fresh run starts from exported weights (their 8-bit copy); a width mismatch is refused
    st.join_parts(out8, os.path.join(tmp, 'w8.safetensors'))
    st.quantize_init(os.path.join(tmp, 'w8.safetensors'), os.path.join(tmp, 'w8.i8.safetensors'))
    r = run(base + ['--out', os.path.join(tmp, 'w8i'), '--width', '8', '--input-size', '128', '--max-steps', '1',
                    '--init', os.path.join(tmp, 'w8.i8.safetensors'), '--no-sample-weights',
                    '--smooth-weight', '0.01', '--edge-weight', '1', '--target-smooth', '0.7', '--rot-mode', 'splat', '--jitter', 'uniform'])
    assert r.returncode == 0 and 'init: weights from' in r.stdout and 'sampling:' not in r.stdout
    assert 'targets: canonical face smoothed' in r.stdout and re.search(r'folds \d+\.\d+ % of triangles \(targets 0\.', r.stdout), r.stdout
    smooth_col = [float(x.split(',')[-1]) for x in open(os.path.join(tmp, 'w8i', 'train-log.csv')).read().strip().split('\n')[1:]]
    assert smooth_col and all(0 < v < 2 for v in smooth_col), smooth_col
    # the card says which weights the fine-tune started from (a run without --init has no such key)
    st.join_parts(os.path.join(tmp, 'w8i'), os.path.join(tmp, 'w8i.safetensors'))
    _, imeta = st.load_model_tensors(os.path.join(tmp, 'w8i.safetensors'))
    assert re.fullmatch(r'w8\.i8\.safetensors \(sha256 [0-9a-f]{16}\)', imeta.get('init', '')), imeta
    _, w8meta = st.load_model_tensors(os.path.join(tmp, 'w8.safetensors'))
    assert 'init' not in w8meta, w8meta
    r = run(base + ['--out', os.path.join(tmp, 'w8j'), '--width', '16', '--input-size', '256', '--max-steps', '1',
                    '--init', os.path.join(tmp, 'w8.i8.safetensors')])
    assert r.returncode == 2 and 'weights are width 8' in r.stderr
    # the real-time network: trains, resumes, exports with its architecture; resfcn weights refused as --init
    outm = os.path.join(tmp, 'mobile')
    r = run(base + ['--out', outm, '--arch', 'mobile', '--width', '16', '--input-size', '128', '--max-steps', '2'])
    assert r.returncode == 0 and 'model: mobile, width 16' in r.stdout
    r = run(base + ['--out', outm, '--arch', 'mobile', '--width', '16', '--input-size', '128', '--max-steps', '1', '--resume', 'auto',
                    '--source', 'my own photos'])
    assert r.returncode == 0 and 'resumed' in r.stdout
    r = run(base + ['--out', outm, '--width', '16', '--input-size', '128', '--max-steps', '1', '--resume', 'auto'])
    assert r.returncode == 2 and 'checkpoint is mobile' in r.stderr
    st.join_parts(outm, os.path.join(tmp, 'mobile.safetensors'))
    _, mmeta = st.load_model_tensors(os.path.join(tmp, 'mobile.safetensors'))
    assert mmeta['architecture'] == 'mobile'
    # a --source given is the photos' name in the card (not the shared set the pack's folders are named after)
    assert mmeta['source'] == 'my own photos' and mmeta['description'].endswith(' photos from: my own photos'), mmeta
    assert 'WebFaces' not in mmeta['description'] + mmeta['license'] and 'UTKFace' not in mmeta['description'], mmeta
    r = run(base + ['--out', os.path.join(tmp, 'mi'), '--arch', 'mobile', '--width', '8', '--input-size', '128', '--max-steps', '1',
                    '--init', os.path.join(tmp, 'w8.i8.safetensors')])
    assert r.returncode == 2 and 'weights are architecture resfcn, this run mobile' in r.stderr
    out16 = os.path.join(tmp, 'w16')
    r = run(base + ['--out', out16, '--width', '16', '--input-size', '256', '--max-steps', '2'])
    assert r.returncode == 0
    joined = os.path.join(tmp, 'w16.safetensors')
    st.join_parts(out16, joined)
    tensors, meta = st.load_model_tensors(joined)
    assert meta['width'] == '16' and len(tensors) == 245
    # the model card, written from the run when the command line leaves it empty
    assert meta['description'].startswith('resfcn network, width 16, input 256: trained by training/train.py on '), meta
    assert meta['license'].startswith('trained on photos of ') and 'non-commercial' in meta['license'], meta
    assert 'teachers FaceMesh' in meta['license'], meta
    assert os.path.exists(os.path.join(out16, 'model.safetensors.part1'))  # 25.6 MiB -> 2 parts
    # two shards as one pack (comma-separated, as run_gpu.sh passes them): every photo, both held-out sets
    shards = [os.path.join(tmp, 'shard-0'), os.path.join(tmp, 'shard-1')]
    r = run(base[:3] + ['--pack', ','.join(shards)] + base[5:] + ['--out', os.path.join(tmp, 'ws'), '--width', '8',
                                                                   '--input-size', '128', '--max-steps', '1'])
    n_whole = read_pack(pack).count
    assert r.returncode == 0 and f'pack {shards[0]} + {shards[1]}: {n_whole} photos' in r.stdout, r.stdout
    summ = json.load(open(os.path.join(tmp, 'ws', 'summary.json')))
    assert summ['pack'] == [os.path.abspath(p) for p in shards] and summ['pack_count'] == n_whole, summ['pack']
    r = run([py, os.path.join(HERE, 'train.py'), '--pack', os.path.join(tmp, 'nowhere'), '--out', os.path.join(tmp, 'x'),
             '--device', 'cpu', '--layout-reference'])
    assert r.returncode == 2 and 'pack folder not found' in r.stderr
    if not torch.cuda.is_available():
        r = run([py, os.path.join(HERE, 'train.py'), '--pack', pack, '--out', os.path.join(tmp, 'x'), '--device', 'cuda'])
        assert r.returncode == 3 and 'CUDA is not available' in r.stderr
    print('training: width 8/128, mobile 16/128 and 16/256 on the CPU, resume, export -> join -> load, fail-fast messages')


def preview(path: str, pack_path: str, lay, rot_prob: float, count: int = 16, rot_mode: str = 'warp',
            compare: bool = False, seed: Optional[int] = None, marks: bool = True) -> None:
    """A grid of augmented crops with the target's 68 points; with `compare`, each row is one
    sample as [no depth rotation | 'splat' | 'warp'] under the same random draws."""
    from PIL import Image, ImageDraw

    dp = DevicePack(read_pack(pack_path), lay, 'cpu', log=lambda s: None)
    seed = int(time.time()) % 1000 if seed is None else seed
    idx = torch.randperm(dp.count, generator=torch.Generator().manual_seed(seed))[:count]
    if compare:
        runs = [(0.0, 'warp'), (1.0, 'splat'), (1.0, 'warp')]
    else:
        runs = [(rot_prob, rot_mode)]
    outs = []
    for rp, mode in runs:
        aug = Augmenter(dp, 256, AugConfig(rot_prob=rp, rot_mode=mode, occlude_prob=0 if compare else 0.4), seed=seed)
        outs.append(aug.batch(idx, train=True)[:2])

    def tile(x, t, b):
        im = Image.fromarray((x[b].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
        if marks:
            d = ImageDraw.Draw(im)
            kp = t[b].reshape(3, -1)[:, dp.face_index[dp.kpt_vertex]]
            for k in range(68):
                xx, yy = float(kp[0, k]), float(kp[1, k])
                d.ellipse([xx - 1.2, yy - 1.2, xx + 1.2, yy + 1.2], fill=(0, 255, 0) if k < 17 else (255, 0, 0))
        return im

    tiles = [tile(x, t, b) for b in range(len(idx)) for (x, t) in outs]
    cols = len(runs) if compare else 4
    grid = Image.new('RGB', (256 * cols, 256 * (-(-len(tiles) // cols))))
    for i, im in enumerate(tiles):
        grid.paste(im, ((i % cols) * 256, (i // cols) * 256))
    grid.save(path)
    print(f'wrote {path}' + (' (columns: no depth rotation | splat | warp)' if compare else ''))


def bench(pack_path: str, lay, count: int, rounds: int, rot_prob: float) -> None:
    """Seconds per augmented batch (input 256) without depth rotation and with each synthesis at
    `rot_prob`, interleaved over `rounds`; medians."""
    dp = DevicePack(read_pack(pack_path), lay, 'cpu', log=lambda s: None)
    idx = torch.arange(count) % dp.count
    times = {'none': [], 'splat': [], 'warp': []}
    for r in range(rounds):
        for mode in times:
            aug = Augmenter(dp, 256, AugConfig(rot_prob=0.0 if mode == 'none' else rot_prob,
                                               rot_mode='warp' if mode == 'none' else mode), seed=r)
            t0 = time.perf_counter()
            aug.batch(idx, train=True)
            times[mode].append(time.perf_counter() - t0)
    med = {m: float(np.median(v)) for m, v in times.items()}
    print(f'batch of {count}, rot-prob {rot_prob}, {torch.get_num_threads()} threads, {rounds} rounds (medians): '
          + ', '.join(f'{m} {t:.2f} s' for m, t in med.items())
          + f'; synthesis alone: splat {med["splat"] - med["none"]:.2f} s, warp {med["warp"] - med["none"]:.2f} s')


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('--train', action='store_true')
    ap.add_argument('--preview')
    ap.add_argument('--pack')
    ap.add_argument('--rot-prob', type=float, default=0.0)
    ap.add_argument('--rot-mode', default='warp', choices=['warp', 'splat'])
    ap.add_argument('--compare', action='store_true', help='preview: rows of [no rotation | splat | warp]')
    ap.add_argument('--count', type=int, default=16)
    ap.add_argument('--bench', action='store_true', help='only: time a batch of --bench-batch (64) with no / splat / warp synthesis, interleaved')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--bench-batch', type=int, default=64)
    ap.add_argument('--seam', action='store_true', help='only the seam measure (splat vs warp) on --pack, several seeds')
    ap.add_argument('--seed', type=int)
    ap.add_argument('--no-marks', action='store_true', help='preview: without the 68 points')
    a = ap.parse_args()
    torch.set_num_threads(2)
    lay = layout()
    with tempfile.TemporaryDirectory() as tmp:
        pack = a.pack or os.path.join(tmp, 'pack')
        if not a.pack:
            synthetic_pack(pack, lay, count=12, heldout=2, seed=3)
        if a.bench:
            bench(pack, lay, a.bench_batch, a.rounds, a.rot_prob or 1.0)
            return 0
        if a.seam:
            dp = DevicePack(read_pack(pack), lay, 'cpu', log=lambda s: None)
            idx = torch.arange(dp.count)
            tot = {'splat': [0.0, 0.0], 'warp': [0.0, 0.0]}
            for sd in range(a.count if a.count != 16 else 4):
                for m, (bd, inn) in seam_energy(dp, {}, seed=sd, idx=idx).items():
                    tot[m][0] += bd
                    tot[m][1] += inn
            for m, (bd, inn) in tot.items():
                print(f'seam ({m}): boundary / interior gradient energy {bd / inn:.2f} ({bd:.3e} / {inn:.3e}, summed over seeds)')
            return 0
        if a.preview:
            preview(a.preview, pack, lay, a.rot_prob, a.count, a.rot_mode, a.compare, a.seed, not a.no_marks)
            return 0
        t0 = time.time()
        check_safetensors()
        check_mobile()
        check_pack_errors(tmp, lay)
        check_pack_shards(tmp, pack, lay)
        check_eval_crop(DevicePack(read_pack(pack), lay, 'cpu', log=lambda s: None))
        check_geometry(DevicePack(read_pack(pack), lay, 'cpu', log=lambda s: None), lay)
        check_light(DevicePack(read_pack(pack), lay, 'cpu', log=lambda s: None))
        check_large_pose(DevicePack(read_pack(pack), lay, 'cpu', log=lambda s: None))
        check_seam(DevicePack(read_pack(pack), lay, 'cpu', log=lambda s: None))
        check_jitter(DevicePack(read_pack(pack), lay, 'cpu', log=lambda s: None))
        if a.train:
            check_training(tmp)
        print(f'all checks passed in {time.time() - t0:.0f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())

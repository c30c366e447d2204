"""Trains resfcn256 (or its light variant) on a training pack for a fixed time, then evaluates it
on the pack's held-out photos and exports it in our weight format.

    /usr/bin/python3 -u training/train.py --pack .train/pack --out runs/full --minutes 6.5 \
        --width 16 --input-size 256 --device cuda
    (--arch mobile --width 16 --input-size 128: the real-time network of training/mobile.py)

- loss: weighted MSE over the 256x256 map (weights from the pack's weights.u8: 16 landmarks,
  4 eyes/nose/mouth, 3 rest of the covered face, 1 extrapolated, 0 outside; divided by their sum),
  on positions divided by output_scale (so the loss is in units of the network's 0..1 output);
  logged with its root in crop pixels (rmse_px).
- optimiser: Adam, lr 2e-4 with a linear warm-up over the first 200 steps, then a cosine to 1e-5
  over the time budget (the schedule follows wall time, not steps: the run has --minutes).
- CUDA: bf16 autocast (the last BN and the sigmoid in fp32), channels_last, cudnn benchmark.
- CPU: channels_last for the mobile network only (1.3x its steps with Debian's torch 1.13; the
  same layout corrupts the heap in resfcn's transposed convolutions there). Install
  libopenblas0-pthread: Debian's torch otherwise multiplies with the reference BLAS.
- --pack A B ...: several packs (the shards of `scripts/pack-training.ts --shards`, which travel
  to the GPU machine in separate calls) are read as one, their samples concatenated.
- batches: drawn in proportion to the pack's sample-weights.f32 when it has one (rare poses and
  open mouths more often; --no-sample-weights draws every photo equally, in shuffled epochs).
- --init: start from trained weights (a model file, or its 8-bit copy from
  `safetensors_io.py --quantize-init`) with a fresh optimiser: a second training session
  continues where the shipped model stopped, e.g. with new data or augmentation.
- checkpoints (model + optimiser + step + elapsed time) to --out/checkpoint.pt every
  --ckpt-minutes and at the end; --resume continues one (the cosine then spans the time already
  trained plus this run's --minutes). The weights are also exported at every checkpoint, so a
  killed run still leaves usable weights.
- export (--export, default --out): model.safetensors.part0, .part1, ... (F16, each <= 15 MiB)
  and model.safetensors.sha256 (of the whole file); join with
  `/usr/bin/python3 training/safetensors_io.py --join DIR --out model.safetensors`.
- evaluation (held-out photos, flag bit 1): the plain PRNet crop, no augmentation; mean 68-point
  error (2D and 3D) and dense error (all face pixels) against the targets in pixels of the 256
  crop, and the 68-point NME (mean 2D error / sqrt(w h) of the target landmarks' box), for the
  outside-of-photo fills composite / reflect / black.
- logs: --out/train-log.csv (one row per step) and --out/summary.json; a progress line every
  --log-every steps (flushed).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def log(msg: str) -> None:
    print(msg, flush=True)


def fail(msg: str, code: int = 2) -> None:
    print(f'error: {msg}', file=sys.stderr, flush=True)
    sys.exit(code)


def checkpoint_step(path: str) -> str:
    """The step a checkpoint holds, for a message ('?' when it cannot be read)."""
    try:
        import torch
        try:
            return str(torch.load(path, map_location='cpu', weights_only=False)['step'])
        except TypeError:
            return str(torch.load(path, map_location='cpu')['step'])
    except Exception:  # noqa: BLE001 - only for the message
        return '?'


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description='Train resfcn256 on a prnet-ts training pack.')
    ap.add_argument('--pack', nargs='+', default=[os.path.join(os.path.dirname(HERE), '.train', 'pack')],
                    help='the training pack, or several trained as one (the shards of pack-training.ts --shards; '
                         'names separated by spaces or commas)')
    ap.add_argument('--out', required=True, help='folder for checkpoint.pt, train-log.csv, summary.json')
    ap.add_argument('--export', help='folder for model.safetensors.part* (default: --out)')
    ap.add_argument('--arch', default='resfcn', choices=['resfcn', 'mobile'],
                    help="network: resfcn (resfcn256 and its light variant) or mobile (the real-time network, training/mobile.py)")
    ap.add_argument('--width', type=int, default=16)
    ap.add_argument('--input-size', type=int, default=256, choices=[256, 128])
    ap.add_argument('--minutes', type=float, default=6.5, help='training time budget (wall clock)')
    ap.add_argument('--deadline', type=float, default=0, help='unix time by which the whole run (eval, export) must end')
    ap.add_argument('--reserve-s', type=float, default=20, help='seconds kept before --deadline for eval and export')
    ap.add_argument('--max-steps', type=int, default=0, help='stop after this many steps (0 = time only)')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=2e-4)
    ap.add_argument('--lr-min', type=float, default=1e-5)
    ap.add_argument('--warmup', type=int, default=200, help='linear warm-up steps')
    ap.add_argument('--rot-prob', type=float, default=0.0, help='probability of large-pose synthesis per sample')
    ap.add_argument('--yaw-max', type=float, default=75.0, help='large-pose synthesis: largest yaw, degrees')
    ap.add_argument('--pitch-max', type=float, default=40.0, help='large-pose synthesis: largest |pitch|, degrees')
    ap.add_argument('--rot-mode', default='warp', choices=['warp', 'splat'],
                    help="large-pose synthesis: 'warp' re-renders the whole crop (default), 'splat' pastes the face (older)")
    ap.add_argument('--jitter', default='runtime', choices=['runtime', 'uniform'],
                    help="crop scale/shift: 'runtime' follows training/crop_jitter.json (default), 'uniform' 0.9-1.2 / +-10 %%")
    ap.add_argument('--smooth-weight', type=float, default=0.0,
                    help='weight of the surface term: 1 - cos(normal of prediction, of target) over the face triangles')
    ap.add_argument('--edge-weight', type=float, default=0.0,
                    help='within the surface term: weight of the grid edge-vector difference (output units)')
    ap.add_argument('--target-smooth', type=float, default=0.0,
                    help='evaluate the targets on the canonical face smoothed in UV by this sigma (px; 0: as is): '
                         'the canonical face carries pixel noise (9.8 %% of its triangles on a fold > 90 deg)')
    ap.add_argument('--no-sample-weights', action='store_true', help="ignore the pack's sample-weights.f32")
    ap.add_argument('--init', default='', help='start from these weights (a model file or its --quantize-init copy); not with --resume')
    ap.add_argument('--black-prob', type=float, default=0.0, help='probability of black fill outside the photo (default 0)')
    ap.add_argument('--device', default='cuda' if _cuda_available() else 'cpu')
    ap.add_argument('--no-amp', action='store_true', help='float32 on CUDA (default: bf16 autocast)')
    ap.add_argument('--threads', type=int, default=0, help='CPU threads for torch (0 = leave as is)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--resume', default='', help="checkpoint to continue, or 'auto' (--out/checkpoint.pt if present)")
    ap.add_argument('--ckpt-minutes', type=float, default=2.0)
    ap.add_argument('--log-every', type=int, default=50, help='a progress line every this many steps')
    ap.add_argument('--log-seconds', type=float, default=30.0,
                    help='and at least this often (a CPU run of 10 s a step said nothing for 8 minutes)')
    ap.add_argument('--eval-max', type=int, default=2000, help='at most this many held-out photos')
    ap.add_argument('--eval-batch', type=int, default=32)
    ap.add_argument('--layout', help='UV layout (default: assets/layout.safetensors)')
    ap.add_argument('--layout-reference', action='store_true', help='without the asset, use ../shared uv-data (development only)')
    ap.add_argument('--name', default='prnet-ts')
    ap.add_argument('--description', default='')
    ap.add_argument('--source', default='')
    ap.add_argument('--license', default='')
    ap.add_argument('--export-dtype', default='F16', choices=['F16', 'F32'])
    args = ap.parse_args(argv)
    args.pack = [p for arg in args.pack for p in arg.split(',') if p]
    return args


def _cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def set_tf32(torch, on: bool) -> None:
    """TF32 for cuDNN convolutions and matmuls on or off (the flags of torch 1.x-2.x)."""
    try:
        torch.backends.cudnn.allow_tf32 = on
        torch.backends.cuda.matmul.allow_tf32 = on
    except (AttributeError, RuntimeError):
        pass


def lr_at(args, step: int, progress: float) -> float:
    progress = min(max(progress, 0.0), 1.0)
    lr = args.lr_min + (args.lr - args.lr_min) * 0.5 * (1 + math.cos(math.pi * progress))
    if args.warmup > 0 and step < args.warmup:
        lr *= (step + 1) / args.warmup
    return lr


def weighted_loss(pred, target, weight, scale: float):
    d = (pred.float() - target) / scale
    return (d * d * weight).sum() / (weight.sum() * 3).clamp(min=1e-6)


def channels_last(dev, arch: str) -> bool:
    """Whether the model and its inputs use channels_last (see the module docstring)."""
    return dev.type == 'cuda' or arch == 'mobile'


def evaluate(model, aug, dpack, idx, fill: str, batch: int, amp: bool, cl: bool = False):
    """Held-out metrics in pixels of the 256 crop (see the module doc)."""
    import torch
    import torch.nn.functional as F

    dev = dpack.device
    kv = dpack.kpt_vertex
    fi = dpack.face_index
    sums = {'kpt2d': 0.0, 'kpt3d': 0.0, 'nme2d': 0.0, 'dense2d': 0.0, 'dense3d': 0.0, 'folds': 0.0, 'folds_target': 0.0}
    surf = _surface(dpack, 256)
    n = 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for i in range(0, idx.numel(), batch):
            b = idx[i:i + batch]
            x, t, _w = aug.batch(b, train=False, fill=fill, pool=False)
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp):
                y = model(x).float()
            if y.shape[-1] != 256:
                y = F.interpolate(y, size=(256, 256), mode='bilinear', align_corners=False)
            B = b.numel()
            P = y.reshape(B, 3, -1)[:, :, fi]
            T = t.reshape(B, 3, -1)[:, :, fi]
            pk, tk = P[:, :, kv], T[:, :, kv]
            e2 = (pk[:, :2] - tk[:, :2]).norm(dim=1).mean(1)
            dz = (pk[:, 2] - pk[:, 2].mean(1, keepdim=True)) - (tk[:, 2] - tk[:, 2].mean(1, keepdim=True))
            e3 = torch.sqrt(((pk[:, :2] - tk[:, :2]) ** 2).sum(1) + dz ** 2).mean(1)
            box = tk[:, :2].amax(2) - tk[:, :2].amin(2)
            norm = torch.sqrt(box[:, 0] * box[:, 1]).clamp(min=1e-3)
            d2 = (P[:, :2] - T[:, :2]).norm(dim=1).mean(1)
            dzd = (P[:, 2] - P[:, 2].mean(1, keepdim=True)) - (T[:, 2] - T[:, 2].mean(1, keepdim=True))
            d3 = torch.sqrt(((P[:, :2] - T[:, :2]) ** 2).sum(1) + dzd ** 2).mean(1)
            sums['kpt2d'] += float(e2.sum())
            sums['kpt3d'] += float(e3.sum())
            sums['nme2d'] += float((e2 / norm).sum()) * 100
            sums['dense2d'] += float(d2.sum())
            sums['dense3d'] += float(d3.sum())
            sums['folds'] += float(surf.fold_share(y).sum()) * 100  # % of triangles touching a fold > 90 deg
            sums['folds_target'] += float(surf.fold_share(t).sum()) * 100
            n += B
    model.train(was_training)
    out = {k: v / max(n, 1) for k, v in sums.items()}
    out['count'] = n
    return out


_SURFACES = {}


def _surface(dpack, size: int):
    """The face's grid triangles at 256, or over the 2x2-pooled face mask at 128 (surface.py)."""
    import torch.nn.functional as F
    from surface import Surface

    if size not in _SURFACES:
        fm = dpack.face_mask if size == 256 else (F.avg_pool2d(dpack.face_mask, 2) > 0).float()
        _SURFACES[size] = Surface(fm.view(size, size).cpu().numpy() > 0.5, dpack.device)
    return _SURFACES[size]


# The shared data's photo sets (../shared/README.md) by the names of their sources, for the model card.
DATASETS = {'utkface': 'UTKFace', 'misc': "a face-mask set's unmasked faces", 'webfaces': 'Caltech WebFaces'}


def card_defaults(args, meta, training: int) -> None:
    """The model card's fields left empty on the command line, written from the run and its pack:
    what the network is and what it was trained on, where its targets came from, and the terms
    that follow from the photos and the teachers (a CPU run gave a model file with an empty card)."""
    named = ', '.join(DATASETS.get(s, s) for s in meta.get('sets') or []) or 'a training pack'
    # Your own photos packed under a shared set's folder name (training/README §7) are not that
    # set's: a --source given names them in the description and licence too.
    photos = f'photos from: {args.source}' if args.source else f'photos of {named}'
    if not args.description:
        args.description = (f'{args.arch} network, width {args.width}, input {args.input_size}: trained by training/train.py '
                            f'on {training} {photos}')
    if not args.source:
        args.source = 'prnet-ts training/train.py, distilled from FaceMesh + 3DDFA_V2 pseudo ground truth'
    if not args.license:
        args.license = (f'trained on {photos}; teachers FaceMesh (Apache-2.0) and 3DDFA_V2 (non-commercial '
                        f'weights): non-commercial research unless the terms of those photos and teachers allow more')


def card_extra(args) -> dict:
    """Card keys beyond the four free-text ones: `init`, the weights a fine-tune started from (their
    file's name and sha256), so that a model file says what it continues."""
    if not args.init:
        return {}
    if args.init not in _INIT_CARDS:
        with open(args.init, 'rb') as f:
            _INIT_CARDS[args.init] = f'{os.path.basename(args.init)} (sha256 {hashlib.sha256(f.read()).hexdigest()[:16]})'
    return {'init': _INIT_CARDS[args.init]}


_INIT_CARDS: dict = {}


def export_model(model, args, export_dir: str):
    import safetensors_io as st

    data = st.model_bytes(model, name=args.name, description=args.description, source=args.source,
                          license=args.license, dtype=args.export_dtype, extra=card_extra(args))
    paths = st.write_parts(data, export_dir)
    return data, hashlib.sha256(data).hexdigest(), paths


def main(argv=None) -> int:
    args = parse_args(argv)
    t_start = time.time()
    try:
        import numpy  # noqa: F401
        import torch
    except ImportError as e:
        fail(f'{e}: run with a Python that has PyTorch and numpy (here: /usr/bin/python3 with Debian python3-torch)')
    from augment import AugConfig, Augmenter
    from layout import load_layout
    from pack import DevicePack, PackError, read_packs
    from resfcn import build_model, count_trainable, model_from_meta

    dev = torch.device(args.device)
    if dev.type == 'cuda':
        if not torch.cuda.is_available():
            fail(f'--device {args.device} but CUDA is not available (torch {torch.__version__}, '
                 f'built for CUDA {torch.version.cuda}); use --device cpu for a CPU run', 3)
        torch.backends.cudnn.benchmark = True
        try:
            torch.backends.cuda.matmul.allow_tf32 = False  # the targets' K . W stays float32
        except (AttributeError, RuntimeError):
            pass
        props = torch.cuda.get_device_properties(dev)
        log(f'device: {props.name}, {props.total_memory / 2**30:.0f} GiB; torch {torch.__version__}, CUDA {torch.version.cuda}')
    else:
        if args.threads > 0:
            torch.set_num_threads(args.threads)
        log(f'device: cpu ({torch.get_num_threads()} threads); torch {torch.__version__}')
    amp = dev.type == 'cuda' and not args.no_amp
    torch.manual_seed(args.seed)
    export_dir = args.export or args.out
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(export_dir, exist_ok=True)

    try:
        layout = load_layout(args.layout, allow_reference=args.layout_reference)
        pack = read_packs(args.pack, log=log)
    except (PackError, FileNotFoundError, ValueError) as e:
        fail(str(e))
    try:
        dpack = DevicePack(pack, layout, dev, log=log)
    except PackError as e:
        fail(str(e))
    card_defaults(args, pack.meta, int(((pack.flags & 2) == 0).sum()))
    if args.target_smooth > 0:
        from pack import build_k
        from surface import smooth_map

        canon = torch.zeros(1, 3, 256 * 256, device=dev)
        canon[0, :, dpack.face_index] = torch.from_numpy(layout.canonical).to(dev).float().t()
        sm = smooth_map(canon.view(1, 3, 256, 256), dpack.face_mask, args.target_smooth).view(3, -1)[:, dpack.face_index].t()
        dpack.K = build_k(sm.contiguous(), torch.from_numpy(pack.controls).to(dev))
        log(f'targets: canonical face smoothed in UV (sigma {args.target_smooth} px; moved by '
            f'{float((sm - torch.from_numpy(layout.canonical).to(dev)).norm(dim=1).median()):.2f} px median)')
    train_idx = dpack.train_indices()
    held_idx = dpack.heldout_indices()[:args.eval_max]
    if train_idx.numel() == 0:
        fail(f'pack {pack.path}: every photo is held out; nothing to train on')
    aug = Augmenter(dpack, args.input_size, AugConfig(rot_prob=args.rot_prob, black_prob=args.black_prob,
                                                      yaw_max_deg=args.yaw_max, pitch_max_deg=args.pitch_max,
                                                      rot_mode=args.rot_mode, jitter=args.jitter), seed=args.seed)
    surf_train = _surface(dpack, 256 if args.input_size == 256 else 128) if args.smooth_weight > 0 else None
    weighted = dpack.weighted and not args.no_sample_weights
    draw_w = dpack.sample_weights[train_idx] if weighted else None
    if weighted:
        # weights relative within the pack (scripts/pack-training.ts relativeWeights: mean 1 over the
        # training samples); older packs hold samplingWeight itself (>= 1), hence "above the mean"
        rare = draw_w > draw_w.mean()
        ess = float(draw_w.sum() ** 2 / (draw_w ** 2).sum())
        log(f'sampling: by the pack\'s sample weights: {int(rare.sum())} of {train_idx.numel()} photos weigh more than the mean, '
            f'{float(draw_w[rare].sum() / draw_w.sum()) * 100:.0f}% of the draws; max / mean {float(draw_w.max() / draw_w.mean()):.1f}; '
            f'effective sample count {ess:.0f}')

    model = build_model(args.arch, args.width, args.input_size).to(dev)
    cl = channels_last(dev, args.arch)
    if cl:
        model = model.to(memory_format=torch.channels_last)
    opt = None
    if dev.type == 'cuda':
        try:  # fused Adam (torch >= 2.0): one kernel for all parameters
            opt = torch.optim.Adam(model.parameters(), lr=args.lr, fused=True)
        except (TypeError, RuntimeError):
            opt = None
    if opt is None:
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    step, samples, trained_before = 0, 0, 0.0
    ckpt_path = os.path.join(args.out, 'checkpoint.pt')
    resume = ckpt_path if args.resume == 'auto' and os.path.exists(ckpt_path) else (args.resume if args.resume != 'auto' else '')
    if resume and args.init:
        fail('--init and --resume exclude each other (a checkpoint already holds weights)')
    if not resume and os.path.exists(ckpt_path):
        # (a rerun of the same command after an interruption replaced the run's checkpoint, log and weights)
        fail(f'{ckpt_path} holds an earlier run (step {checkpoint_step(ckpt_path)}): --resume auto continues it'
             f'{" (without --init: the checkpoint holds the weights)" if args.init else ""}; '
             f'to start again, remove it or choose another --out')
    if args.init:
        import safetensors_io as st
        from resfcn import load_state

        try:
            tensors, meta = st.load_init(args.init)
        except (OSError, ValueError, KeyError) as e:
            fail(f'--init {args.init}: {e}')
        if meta.get('architecture', 'resfcn') != args.arch:
            fail(f'--init {args.init}: weights are architecture {meta.get("architecture", "resfcn")}, this run {args.arch}')
        if int(meta['width']) != args.width or int(meta['input_size']) != args.input_size:
            fail(f'--init {args.init}: weights are width {meta["width"]} / input {meta["input_size"]}, '
                 f'this run width {args.width} / input {args.input_size}')
        load_state(model, {k: v.to(dev) for k, v in tensors.items()})
        log(f'init: weights from {args.init} ({meta.get("name", "?")}, {meta.get("init_dtype", "?")})')
    if resume:
        if not os.path.exists(resume):
            fail(f'--resume {resume}: no such checkpoint')
        try:  # our own file: full unpickling (torch >= 2.6 defaults to weights_only)
            ck = torch.load(resume, map_location=dev, weights_only=False)
        except TypeError:
            ck = torch.load(resume, map_location=dev)
        if ck.get('arch', 'resfcn') != args.arch or ck['width'] != args.width or ck['input_size'] != args.input_size:
            fail(f'--resume {resume}: checkpoint is {ck.get("arch", "resfcn")} width {ck["width"]} / input {ck["input_size"]}, '
                 f'this run {args.arch} width {args.width} / input {args.input_size}')
        model.load_state_dict(ck['model'])
        opt.load_state_dict(ck['opt'])
        step, samples, trained_before = ck['step'], ck['samples'], ck['trained_s']
        log(f'resumed {resume}: step {step}, {samples} samples, {trained_before:.0f} s trained')
    log(f'model: {args.arch}, width {args.width}, input {args.input_size}, {count_trainable(model):,} parameters; '
        f'batch {args.batch}, {train_idx.numel()} training / {held_idx.numel()} held-out photos; '
        f'amp {"bf16" if amp else "off"}; rot-prob {args.rot_prob} ({args.rot_mode}); jitter {args.jitter}; '
        f'smooth-weight {args.smooth_weight} (edge {args.edge_weight})')

    def save_checkpoint(trained_s: float) -> None:
        # (a second signal while the files are written waits for them: a half-replaced set of weight parts is worse than a short wait)
        stop['saving'] = True
        try:
            write_checkpoint(trained_s)
        finally:
            stop['saving'] = False

    def write_checkpoint(trained_s: float) -> None:
        t0 = time.time()
        tmp = ckpt_path + '.tmp'
        torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'step': step, 'samples': samples,
                    'trained_s': trained_s, 'arch': args.arch, 'width': args.width, 'input_size': args.input_size,
                    'args': vars(args)}, tmp)
        os.replace(tmp, ckpt_path)
        _, sha, _ = export_model(model, args, export_dir)
        log(f'checkpoint: step {step} -> {ckpt_path}; weights -> {export_dir} (sha256 {sha[:12]}…) in {time.time() - t0:.1f} s')

    csv_path = os.path.join(args.out, 'train-log.csv')
    new_csv = not (resume and os.path.exists(csv_path))
    if not new_csv:
        # The steps a stopped run logged after its last checkpoint are run again from it: their rows go.
        with open(csv_path, newline='') as f:
            rows = list(csv.reader(f))
        kept = rows[:1] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= step]
        if len(kept) < len(rows):
            with open(csv_path, 'w', newline='') as f:
                csv.writer(f).writerows(kept)
            log(f'train-log.csv: {len(rows) - len(kept)} rows after the checkpoint\'s step {step} removed (run again now)')
    csv_file = open(csv_path, 'w' if new_csv else 'a', newline='')
    writer = csv.writer(csv_file)
    if new_csv:
        writer.writerow(['step', 'samples', 'elapsed_s', 'lr', 'loss', 'rmse_px', 'smooth'])

    budget = args.minutes * 60
    t_train0 = time.time()
    stop_at = t_train0 + budget
    if args.deadline > 0:
        stop_at = min(stop_at, args.deadline - args.reserve_s)
    total_span = max(trained_before + (stop_at - t_train0), 1e-6)
    last_ckpt = time.time()
    pending = []  # (step, samples, elapsed, lr, map loss tensor, smooth term tensor)
    last_mean = [float('nan')]
    window_t, window_samples = time.time(), 0
    rate_t0, rate_samples, rate_from = None, 0, min(20, args.warmup or 20)
    order = torch.empty(0, dtype=torch.long, device=dev)
    pos = 0
    scale = model.output_scale
    model.train()
    steps_this_run = 0
    log(f'training for {(stop_at - t_train0) / 60:.2f} min (setup took {t_train0 - t_start:.1f} s)')

    # SIGINT / SIGTERM (Ctrl-C, a job's end, timeout's TERM): the step under way finishes, then the
    # checkpoint and the weights are saved and the run ends (exit 130 / 143); a second one ends it at once.
    # A signal the run was started with ignored (a background job of a script: SIGINT) stays ignored,
    # and the handlers it had come back after the loop.
    stop = {'sig': 0, 'saving': False}
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def on_signal(signum, _frame):
        if stop['sig'] and not stop['saving']:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        if stop['sig']:
            log(f'{signal.Signals(signum).name}: the checkpoint and the weights are being written; the run ends right after')
            return
        stop['sig'] = signum
        log(f'{signal.Signals(signum).name}: stopping after this step; the checkpoint and the weights are saved '
            f'(again to stop at once, without them)')

    for s, h in before.items():
        if h is not signal.SIG_IGN:
            signal.signal(s, on_signal)

    def flush_log() -> float:
        if not pending:
            return last_mean[0]
        vals = torch.stack([p[4] for p in pending]).float().cpu().tolist()
        smooths = torch.stack([p[5] for p in pending]).float().cpu().tolist()
        for (s, n_, el, lr_, _, _), v, sm in zip(pending, vals, smooths):
            writer.writerow([s, n_, f'{el:.2f}', f'{lr_:.3e}', f'{v:.6e}', f'{math.sqrt(max(v, 0)) * scale:.3f}', f'{sm:.5f}'])
        csv_file.flush()
        pending.clear()
        last_mean[0] = sum(vals) / len(vals)
        return last_mean[0]

    while True:
        now = time.time()
        if now >= stop_at or (args.max_steps and steps_this_run >= args.max_steps) or stop['sig']:
            break
        if draw_w is not None:
            idx = train_idx[torch.multinomial(draw_w, args.batch, replacement=True, generator=aug.gen)]
        elif train_idx.numel() >= args.batch:
            if pos + args.batch > order.numel():
                order = train_idx[torch.randperm(train_idx.numel(), generator=aug.gen, device=dev)]
                pos = 0
            idx = order[pos:pos + args.batch]
            pos += args.batch
        else:
            idx = train_idx[torch.randint(0, train_idx.numel(), (args.batch,), generator=aug.gen, device=dev)]
        progress = (trained_before + now - t_train0) / total_span
        lr = lr_at(args, step, progress)
        for g_ in opt.param_groups:
            g_['lr'] = lr
        x, t, w = aug.batch(idx)
        if cl:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp):
            y = model(x)
        map_loss = weighted_loss(y, t, w, scale)
        if surf_train is not None:
            # Targets already smoothed on the canonical face (--target-smooth) are not smoothed again.
            smooth = surf_train.loss(y, t, scale, args.edge_weight, target_sigma=0.0 if args.target_smooth > 0 else 1.0)
            loss = map_loss + args.smooth_weight * smooth
        else:
            smooth = torch.zeros((), device=dev)
            loss = map_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        steps_this_run += 1
        samples += idx.numel()
        window_samples += idx.numel()
        pending.append((step, samples, trained_before + now - t_train0, lr, map_loss.detach(), smooth.detach()))
        if steps_this_run == rate_from:
            if dev.type == 'cuda':
                torch.cuda.synchronize()
            rate_t0, rate_samples = time.time(), samples
        if step % args.log_every == 0 or time.time() - window_t >= args.log_seconds:
            mean = flush_log()
            if not math.isfinite(mean):
                csv_file.close()
                fail(f'loss is {mean} at step {step}: training diverged', 4)
            tn = time.time()
            log(f'step {step:6d}  samples {samples:8d}  loss {mean:.3e}  rmse {math.sqrt(mean) * scale:6.2f} px  '
                f'lr {lr:.2e}  {window_samples / max(tn - window_t, 1e-9):7.1f} img/s  {tn - t_train0:6.0f} s')
            window_t, window_samples = tn, 0
        if time.time() - last_ckpt >= args.ckpt_minutes * 60:
            flush_log()
            save_checkpoint(trained_before + time.time() - t_train0)
            last_ckpt = time.time()
            window_t, window_samples = time.time(), 0
    if dev.type == 'cuda':
        torch.cuda.synchronize()
    t_end = time.time()
    last = flush_log()
    trained_s = trained_before + t_end - t_train0
    if rate_t0 is not None and t_end > rate_t0:
        img_s = (samples - rate_samples) / (t_end - rate_t0)
    else:
        img_s = steps_this_run * args.batch / max(t_end - t_train0, 1e-9)
    log(f'trained {steps_this_run} steps ({step} in all, {samples} samples) in {t_end - t_train0:.1f} s: '
        f'{img_s:.1f} img/s ({"after the first %d steps, " % rate_from if rate_t0 is not None else ""}checkpoints included)')
    if dev.type == 'cuda':
        log(f'peak GPU memory {torch.cuda.max_memory_allocated(dev) / 2**30:.1f} GiB')
    save_checkpoint(trained_s)
    csv_file.close()
    # From here (the F16 check, the held-out evaluation) an interrupt ends the run as before it began.
    for s, h in before.items():
        signal.signal(s, h)
    if stop['sig']:
        name = signal.Signals(stop['sig']).name
        log(f'stopped by {name} at step {step}: {ckpt_path} and {export_dir} hold it; the same command with '
            f'--resume auto goes on (no held-out evaluation was run)')
        return 128 + stop['sig']

    # final export (already written by save_checkpoint) and its F16 check, in float32
    if dev.type == 'cuda':
        set_tf32(torch, False)
    import safetensors_io as st
    from resfcn import load_state

    data, sha, paths = export_model(model, args, export_dir)
    tensors, meta = st.load_model_tensors_from_bytes(data)
    check = model_from_meta(meta).to(dev)
    load_state(check, tensors)
    check.eval()
    model.eval()
    probe_idx = held_idx[:4] if held_idx.numel() else train_idx[:4]
    with torch.no_grad():
        xp, _, _ = aug.batch(probe_idx, train=False, fill='reflect', pool=False)
        export_diff = float((check(xp) - model(xp)).abs().max())
    log(f'exported {len(data) / 2**20:.1f} MiB ({args.export_dtype}) as {len(paths) - 1} part(s) in {export_dir}; '
        f'sha256 {sha}; {args.export_dtype} vs float32 weights: max |diff| {export_diff:.3f} px')

    evals = {}
    if held_idx.numel():
        # float32 evaluation (no bf16, no TF32) of the exported weights as the model file holds them
        # (F16): what the shipped model computes in onnxruntime. (The training weights were scored
        # before stop 34; the real-time network's F16 file is up to ~2.6 px from them in places.)
        for fill in ('composite', 'reflect', 'black'):
            t0 = time.time()
            evals[fill] = evaluate(check, aug, dpack, held_idx, fill, args.eval_batch, False, False)
            e = evals[fill]
            log(f'held-out ({e["count"]} photos, fill {fill}, the {args.export_dtype} file): 68-pt 2D {e["kpt2d"]:.2f} px, 3D {e["kpt3d"]:.2f} px, '
                f'NME {e["nme2d"]:.2f} %; dense 2D {e["dense2d"]:.2f} px, 3D {e["dense3d"]:.2f} px; folds {e["folds"]:.2f} % '
                f'of triangles (targets {e["folds_target"]:.2f} %)  ({time.time() - t0:.1f} s)')
    else:
        log('no held-out photos (flag bit 1) in the pack: no evaluation')
    summary = {
        'arch': args.arch, 'width': args.width, 'input_size': args.input_size, 'device': str(dev),
        'device_name': torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu',
        'torch': torch.__version__, 'pack': [os.path.abspath(p) for p in args.pack], 'pack_count': dpack.count,
        'train_count': int(train_idx.numel()), 'heldout_count': int(held_idx.numel()),
        'steps': step, 'steps_this_run': steps_this_run, 'samples': samples, 'trained_s': round(trained_s, 1),
        'img_per_s': round(img_s, 1), 'final_loss': last, 'final_rmse_px': math.sqrt(last) * scale if math.isfinite(last) else None,
        'export': {'sha256': sha, 'bytes': len(data), 'parts': [os.path.basename(p) for p in paths],
                   'dtype': args.export_dtype, 'max_abs_diff_vs_f32_px': export_diff},
        'heldout': evals, 'sampling': 'sample weights' if weighted else 'uniform', 'init': args.init or None,
        'args': vars(args), 'wall_s': round(time.time() - t_start, 1),
    }
    with open(os.path.join(args.out, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    log(f'SUMMARY {json.dumps({k: summary[k] for k in ("arch", "width", "input_size", "steps", "samples", "img_per_s", "final_rmse_px")})} '
        f'heldout {json.dumps({k: {m: round(v, 3) for m, v in e.items()} for k, e in evals.items()})}')
    log(f'done in {time.time() - t_start:.1f} s')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # before the training loop (nothing to save yet) or after its checkpoint (saved already)
        print('interrupted (SIGINT); a checkpoint, if the run got to one, is in --out: --resume auto goes on', file=sys.stderr, flush=True)
        sys.exit(130)

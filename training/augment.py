"""Batches of (input crop, target position map, loss weights), made entirely on the device.

Frames (the same as the original PRNet's crop, and what the runtime's crop must reproduce):
- photo pixels: the centre of pixel (i, j) is at x = i, y = j; z towards the camera.
- the 256 crop of a square (centre c, side s): crop pixel q (0..255, pixel centres) shows the
  photo point p = c + (s / 255) R (q - 127.5), R the in-plane rotation (identity without
  augmentation); so a target vertex is q = R^T (p - c) 255 / s + 127.5, and z -> z 255 / s (the same
  scale as x, y), then shifted so that the face's minimum z is 0.
- light variant (input 128): the input is the 256 crop box-downsampled 2x (128-pixel j covers
  256-pixels 2j, 2j + 1), and the target map (still in 256-crop units) is the 256 target map
  averaged over 2x2 UV cells, over face pixels only (weights averaged likewise); the runtime
  upsamples a 128 output map bilinearly (half-pixel centres) back to the 256 layout.

Augmentation (training only): rotation +-45 deg; crop scale and shift ('runtime', the default:
drawn from crop_jitter.json, how the runtime's detector crop lies around the target crop, measured
by scripts/measure-crop-jitter.ts on ../shared/faces, plus a small kernel; 'uniform': scale
0.9-1.2 (the face grows: side / scale), shift +-10 % of the side); horizontal flip p = 0.5 (the
image mirrored; the target's vertices permuted by the layout's `flip` table and x -> 255 - x),
colour x0.6-1.4 per channel, occluding rectangles (p = 0.4; 5-35 % of the side; flat random colour
or noise).

Outside the photo: never black. By default (p = 0.8) the photo is composited onto a background,
another photo of the batch under its own random zoom (1-3x), offset, flip and colour, with a
feathered edge (1-6 crop pixels) at the photo's border; otherwise (p = 0.2) the photo is extended
by reflection or by its border pixels. (`black_prob`, default 0, adds black fill: the runtime's
crop fills black outside the image, but on photos that always need fill black is a shortcut.)

Large-pose synthesis (optional, `rot_prob`): the target's vertices are rotated in depth through
their centroid, by a pitch (uniform in +-`pitch_max_deg`, 40) about the face's horizontal axis
(left eye -> right eye landmarks) and then a yaw (`yaw_min_deg`-`yaw_max_deg`, 0-75, either way)
about its vertical axis (eyes -> mouth, made orthogonal to the first); the training photos seldom
look up or turn far, AFLW2000-3D and the product's users often do. The target is the rotated
vertices (all of them, self-occluded ones included). The crop is re-rendered (`rot_mode`):
- 'warp' (default), as 300W-LP's face profiling: the whole crop moves: the face's surface rotated
  and z-buffered over a head-and-background layer (every crop pixel on the face's depth extended
  beyond it, turning with the face inside an ellipse around it and fading to no motion further
  out); gaps filled by pull-push; no pixel of another photo, no cut-out edge (`_large_pose_warp`);
- 'splat' (the older synthesis): each vertex keeps the colour the crop shows at its original
  (x, y), the rotated vertices are splatted with a z-buffer and pasted over the crop; where the
  original face was and the rotated one is not, the sample's background photo shows (a visible
  cut-out edge).
"""
from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

R = 256  # the crop is rendered at 256, whatever the input size
warnings.filterwarnings('ignore', message='scatter_reduce\\(\\) is in beta')


@dataclass
class AugConfig:
    rotate_deg: float = 45.0
    scale_min: float = 0.9
    scale_max: float = 1.2
    shift: float = 0.10
    flip_prob: float = 0.5
    colour_min: float = 0.6
    colour_max: float = 1.4
    occlude_prob: float = 0.4
    occlude_min: float = 0.05
    occlude_max: float = 0.35
    pad_prob: float = 0.2          # reflection / border instead of a composited background
    black_prob: float = 0.0        # black outside the photo (a shortcut: keep 0 or small)
    bg_zoom_max: float = 3.0
    feather_min: float = 1.0       # crop pixels
    feather_max: float = 6.0
    rot_prob: float = 0.0          # large-pose synthesis
    yaw_min_deg: float = 0.0
    yaw_max_deg: float = 75.0
    pitch_max_deg: float = 40.0
    jitter: str = 'runtime'        # 'runtime': scale and shift drawn from crop_jitter.json; 'uniform': the ranges above
    jitter_table: str = ''         # default: crop_jitter.json beside this file
    jitter_kernel_scale: float = 0.02   # log-normal spread added to a table row's scale
    jitter_kernel_shift: float = 0.01   # normal spread added to a table row's shifts (in sides)
    rot_mode: str = 'warp'         # 'warp': the whole crop re-rendered; 'splat': the face pasted (older)
    warp_head_y: float = 1.15      # head ellipse: its half height in the face's half heights
    warp_fade: float = 1.8         # motion fades to none at this multiple of the ellipse's radius


FILL_COMPOSITE, FILL_REFLECT, FILL_BORDER, FILL_BLACK = 0, 1, 2, 3
FILLS = {'composite': FILL_COMPOSITE, 'reflect': FILL_REFLECT, 'border': FILL_BORDER, 'black': FILL_BLACK}


JITTER_TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'crop_jitter.json')


def load_jitter_table(path: str = '') -> torch.Tensor:
    """[K, 3] float32 rows (scale, shift x, shift y) from crop_jitter.json (scripts/measure-crop-jitter.ts)."""
    path = path or JITTER_TABLE
    with open(path) as f:
        d = json.load(f)
    if d.get('columns') != ['scale', 'shiftX', 'shiftY'] or not d.get('rows'):
        raise ValueError(f'{path}: not a crop-jitter table (columns scale, shiftX, shiftY)')
    return torch.tensor(d['rows'], dtype=torch.float32)


def _u(gen, n, lo, hi, device):
    return torch.rand(n, generator=gen, device=device) * (hi - lo) + lo


def _axis_angle(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices [n, 3, 3] by `angle` [n] (radians) about unit `axis` [n, 3] (Rodrigues)."""
    n = axis.shape[0]
    x, y, z = axis[:, 0], axis[:, 1], axis[:, 2]
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=1).view(n, 3, 3)
    c, s = torch.cos(angle).view(n, 1, 1), torch.sin(angle).view(n, 1, 1)
    eye = torch.eye(3, device=axis.device, dtype=axis.dtype).expand(n, 3, 3)
    return eye + s * k + (1 - c) * (k @ k)


def _reflect(p: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """Reflects coordinates into [0, size - 1] (about the border pixels' centres)."""
    L = (size - 1).clamp(min=1)
    u = torch.remainder(p, 2 * L)
    return torch.where(u > L, 2 * L - u, u)


def _sample(img: torch.Tensor, px: torch.Tensor, py: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
    """Bilinear samples img [B, C, H, W] at photo coordinates px, py [B, h, w] (pixel centres)."""
    H, W = hw
    gx = px * (2.0 / max(W - 1, 1)) - 1
    gy = py * (2.0 / max(H - 1, 1)) - 1
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(img, grid, mode='bilinear', padding_mode='border', align_corners=True)


class Augmenter:
    def __init__(self, dpack, input_size: int = 256, cfg: Optional[AugConfig] = None, seed: int = 0):
        if input_size not in (256, 128):
            raise ValueError(f'input_size must be 256 or 128, got {input_size}')
        self.p = dpack
        self.S = input_size
        self.cfg = cfg or AugConfig()
        self.device = dpack.device
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(seed)
        ys, xs = torch.meshgrid(torch.arange(R, device=self.device, dtype=torch.float32),
                                torch.arange(R, device=self.device, dtype=torch.float32), indexing='ij')
        self.qx = xs - (R - 1) / 2  # crop coordinates relative to the centre
        self.qy = ys - (R - 1) / 2
        kv = dpack.kpt_vertex
        self.eyes = kv[36:48]
        self.left_eye = kv[36:42]   # the subject's right eye, on the image's left (iBUG 68 order)
        self.right_eye = kv[42:48]
        self.mouth = kv[48:68]
        if self.cfg.jitter == 'runtime':
            self.jitter_rows = load_jitter_table(self.cfg.jitter_table).to(self.device)

    def _crop_jitter(self, B: int):
        """Per sample (scale, shift x, shift y): side' = side / scale, centre' = centre + shift side'.
        'runtime': a row of the measured table (how the runtime's detector crop lies around the
        target crop: scripts/measure-crop-jitter.ts) plus a small kernel; 'uniform': the ranges."""
        cfg, dev, g = self.cfg, self.device, self.gen
        if cfg.jitter == 'uniform':
            return (_u(g, B, cfg.scale_min, cfg.scale_max, dev), _u(g, B, -cfg.shift, cfg.shift, dev),
                    _u(g, B, -cfg.shift, cfg.shift, dev))
        if cfg.jitter != 'runtime':
            raise ValueError(f"jitter must be 'runtime' or 'uniform', got {cfg.jitter!r}")
        tab = self.jitter_rows
        r = tab[torch.randint(0, tab.shape[0], (B,), generator=g, device=dev)]
        k = torch.randn(B, 3, generator=g, device=dev)
        return (r[:, 0] * torch.exp(k[:, 0] * cfg.jitter_kernel_scale), r[:, 1] + k[:, 1] * cfg.jitter_kernel_shift,
                r[:, 2] + k[:, 2] * cfg.jitter_kernel_shift)

    # -----------------------------------------------------------------------------------------
    def batch(self, idx: torch.Tensor, train: bool = True, fill: str = 'composite', pool: bool = True,
              rot_prob: Optional[float] = None):
        """idx: pack indices [B] (on the device). Returns (x [B, 3, S, S] in 0..1,
        target [B, 3, M, M] in 256-crop pixels, weight [B, 1, M, M]), M = 256, or 128 when the
        input is 128 and `pool` is set."""
        cfg, dev, g = self.cfg, self.device, self.gen
        B = idx.shape[0]
        p = self.p
        H, W = p.photos.shape[2], p.photos.shape[3]
        photos = p.photos[idx].float().div_(255)
        wh = p.sizes[idx]
        crop = p.crops[idx]
        cx, cy, side = crop[:, 0], crop[:, 1], crop[:, 2]
        if train:
            theta = _u(g, B, -cfg.rotate_deg, cfg.rotate_deg, dev) * (math.pi / 180)
            scale, shx, shy = self._crop_jitter(B)
            side = side / scale
            cx = cx + shx * side
            cy = cy + shy * side
            flip = torch.rand(B, generator=g, device=dev) < cfg.flip_prob
            r = torch.rand(B, generator=g, device=dev)
            mode = torch.full_like(r, FILL_COMPOSITE)
            mode = torch.where(r < cfg.pad_prob + cfg.black_prob, torch.full_like(r, FILL_BLACK), mode)
            mode = torch.where(r < cfg.pad_prob, torch.full_like(r, FILL_BORDER), mode)
            mode = torch.where(r < cfg.pad_prob / 2, torch.full_like(r, FILL_REFLECT), mode).long()
            colour = _u(g, 3 * B, cfg.colour_min, cfg.colour_max, dev).view(B, 3, 1, 1)
        else:
            theta = torch.zeros(B, device=dev)
            flip = torch.zeros(B, dtype=torch.bool, device=dev)
            mode = torch.full((B,), FILLS[fill], dtype=torch.long, device=dev)
            colour = torch.ones(B, 3, 1, 1, device=dev)
        k = side / (R - 1)  # photo pixels per crop pixel
        cos, sin = torch.cos(theta), torch.sin(theta)
        # photo coordinates of every crop pixel: p = c + k R q
        qx, qy = self.qx.unsqueeze(0), self.qy.unsqueeze(0)
        kc, ks = (k * cos).view(B, 1, 1), (k * sin).view(B, 1, 1)
        px = cx.view(B, 1, 1) + kc * qx - ks * qy
        py = cy.view(B, 1, 1) + ks * qx + kc * qy
        w = wh[:, 0].view(B, 1, 1)
        h = wh[:, 1].view(B, 1, 1)
        m = mode.view(B, 1, 1)
        sx = torch.where(m == FILL_REFLECT, _reflect(px, w), torch.minimum(torch.maximum(px, torch.zeros_like(px)), w - 1))
        sy = torch.where(m == FILL_REFLECT, _reflect(py, h), torch.minimum(torch.maximum(py, torch.zeros_like(py)), h - 1))
        img = _sample(photos, sx, sy, (H, W)) * colour
        # alpha of the photo: 1 inside, ramp over `feather` crop pixels centred on the border
        d = torch.minimum(torch.minimum(px + 0.5, w - 0.5 - px), torch.minimum(py + 0.5, h - 0.5 - py))
        if train:
            feather = _u(g, B, cfg.feather_min, cfg.feather_max, dev) * k
        else:
            feather = 2.0 * k
        alpha = (0.5 + d / feather.view(B, 1, 1)).clamp(0, 1).unsqueeze(1)
        pad = (m == FILL_REFLECT) | (m == FILL_BORDER)
        alpha = torch.where(pad.unsqueeze(1), torch.ones_like(alpha), alpha)
        comp = mode == FILL_COMPOSITE
        if train or bool(comp.any()):  # (large-pose synthesis uses the background too)
            bg = self._background(idx, photos, wh, train, (H, W))
        else:
            bg = torch.zeros_like(img)
        bgb = torch.where((mode == FILL_BLACK).view(B, 1, 1, 1), torch.zeros_like(bg), bg)
        blend = (comp | (mode == FILL_BLACK)).view(B, 1, 1, 1)
        img = torch.where(blend, alpha * img + (1 - alpha) * bgb, img)

        # targets: photo frame -> crop frame (unflipped)
        V = p.vertices(idx)  # [B, N, 3]
        inv = 1.0 / k
        dx = V[..., 0] - cx.view(B, 1)
        dy = V[..., 1] - cy.view(B, 1)
        c1, s1, i1 = cos.view(B, 1), sin.view(B, 1), inv.view(B, 1)
        tx = (c1 * dx + s1 * dy) * i1 + (R - 1) / 2
        ty = (-s1 * dx + c1 * dy) * i1 + (R - 1) / 2
        tz = V[..., 2] * i1
        V = torch.stack([tx, ty, tz], dim=-1)

        rp = self.cfg.rot_prob if rot_prob is None else rot_prob
        if train and rp > 0:
            img, V = self._large_pose(img, V, torch.rand(B, generator=g, device=dev) < rp, bg)
        if train:
            img = self._occlude(img)
        img = img.clamp(0, 1)

        # flip: image mirrored; vertex i of the flipped map = mirror of vertex flip[i]
        weight_flat = p.weight_flat.unsqueeze(0).expand(B, -1)
        if train:  # (no `flip.any()` test: it would stall the GPU queue every step)
            img = torch.where(flip.view(B, 1, 1, 1), img.flip(-1), img)
            Vf = V[:, p.flip]
            Vf = torch.cat([(R - 1) - Vf[..., :1], Vf[..., 1:]], dim=-1)
            V = torch.where(flip.view(B, 1, 1), Vf, V)
            wf = torch.zeros_like(p.weight_flat)
            wf[p.face_index] = p.weight_flat[p.face_index[p.flip]]
            weight_flat = torch.where(flip.view(B, 1), wf.unsqueeze(0), weight_flat)
        # z: the face's minimum at 0 (after the flip: its table is not quite a permutation)
        V = torch.cat([V[..., :2], V[..., 2:] - V[..., 2:].amin(dim=1, keepdim=True)], dim=-1)
        target = torch.zeros(B, 3, R * R, device=dev)
        target[:, :, p.face_index] = V.permute(0, 2, 1)
        target = target.view(B, 3, R, R)
        weight = weight_flat.reshape(B, 1, R, R)
        if self.S == 128:
            img = F.avg_pool2d(img, 2)
            if pool:
                target, weight = self.pool_target(target, weight)
        return img.contiguous(), target, weight.contiguous()

    def pool_target(self, target: torch.Tensor, weight: torch.Tensor):
        """256 -> 128 maps: 2x2 means over face pixels (target) and plain 2x2 means (weights)."""
        fm = self.p.face_mask
        num = F.avg_pool2d(target * fm, 2)
        den = F.avg_pool2d(fm, 2)
        return num / den.clamp(min=1e-6) * (den > 0), F.avg_pool2d(weight, 2)

    # -----------------------------------------------------------------------------------------
    def _background(self, idx, photos, wh, train: bool, hw):
        """Another photo of the batch, zoomed 1-3x, shifted, maybe mirrored, colour-jittered."""
        cfg, dev, g = self.cfg, self.device, self.gen
        B = idx.shape[0]
        if B > 1:
            shift = torch.randint(1, B, (1,), generator=g, device=dev) if train else 1
            j = (torch.arange(B, device=dev) + shift) % B
        else:
            j = torch.zeros(1, dtype=torch.long, device=dev)
        bw, bh = wh[j, 0], wh[j, 1]
        if train:
            zoom = _u(g, B, 1.0, cfg.bg_zoom_max, dev)
            u, v = torch.rand(B, generator=g, device=dev), torch.rand(B, generator=g, device=dev)
            mirror = torch.where(torch.rand(B, generator=g, device=dev) < 0.5, -torch.ones(B, device=dev), torch.ones(B, device=dev))
            colour = _u(g, 3 * B, cfg.colour_min, cfg.colour_max, dev).view(B, 3, 1, 1)
        else:
            zoom = torch.full((B,), 2.0, device=dev)
            u = v = torch.full((B,), 0.5, device=dev)
            mirror = torch.ones(B, device=dev)
            colour = torch.ones(B, 3, 1, 1, device=dev)
        win = torch.minimum(bw, bh) / zoom          # window side in background-photo pixels
        ccx = (win / 2 - 0.5) + u * (bw - win)      # window centre: the window stays in the photo
        ccy = (win / 2 - 0.5) + v * (bh - win)
        kb = (win / (R - 1)).view(B, 1, 1)
        bx = ccx.view(B, 1, 1) + kb * mirror.view(B, 1, 1) * self.qx.unsqueeze(0)
        by = ccy.view(B, 1, 1) + kb * self.qy.unsqueeze(0)
        bx = torch.minimum(bx.clamp(min=0), bw.view(B, 1, 1) - 1)
        by = torch.minimum(by.clamp(min=0), bh.view(B, 1, 1) - 1)
        return _sample(photos[j], bx, by, hw) * colour

    def _occlude(self, img: torch.Tensor) -> torch.Tensor:
        cfg, dev, g = self.cfg, self.device, self.gen
        B = img.shape[0]
        on = torch.rand(B, generator=g, device=dev) < cfg.occlude_prob
        rw = _u(g, B, cfg.occlude_min, cfg.occlude_max, dev) * R
        rh = _u(g, B, cfg.occlude_min, cfg.occlude_max, dev) * R
        x0 = torch.rand(B, generator=g, device=dev) * (R - rw)
        y0 = torch.rand(B, generator=g, device=dev) * (R - rh)
        xs = self.qx[0] + (R - 1) / 2
        ys = self.qy[:, 0] + (R - 1) / 2
        inx = (xs.view(1, R) >= x0.view(B, 1)) & (xs.view(1, R) < (x0 + rw).view(B, 1))
        iny = (ys.view(1, R) >= y0.view(B, 1)) & (ys.view(1, R) < (y0 + rh).view(B, 1))
        mask = (iny.view(B, R, 1) & inx.view(B, 1, R) & on.view(B, 1, 1)).unsqueeze(1)
        flat = torch.rand(B, 3, 1, 1, generator=g, device=dev).expand(B, 3, R, R)
        noise = torch.rand(B, 3, R, R, generator=g, device=dev)
        use_noise = (torch.rand(B, generator=g, device=dev) < 0.5).view(B, 1, 1, 1)
        fill = torch.where(use_noise, noise, flat)
        return torch.where(mask, fill, img)

    def _pose_rotation(self, Vs: torch.Tensor):
        """A random depth rotation per sample: pitch about the face's horizontal axis (left eye ->
        right eye), then yaw about its vertical axis (eyes -> mouth, made orthogonal to the first),
        through the vertices' centroid. Returns (rot [n, 3, 3], centre [n, 1, 3])."""
        cfg, dev, g = self.cfg, self.device, self.gen
        n = Vs.shape[0]
        horiz = Vs[:, self.right_eye].mean(1) - Vs[:, self.left_eye].mean(1)
        horiz = horiz / horiz.norm(dim=-1, keepdim=True).clamp(min=1e-6)
        vert = Vs[:, self.mouth].mean(1) - Vs[:, self.eyes].mean(1)
        vert = vert - horiz * (vert * horiz).sum(-1, keepdim=True)
        vert = vert / vert.norm(dim=-1, keepdim=True).clamp(min=1e-6)
        yaw = _u(g, n, cfg.yaw_min_deg, cfg.yaw_max_deg, dev) * (math.pi / 180)
        yaw = torch.where(torch.rand(n, generator=g, device=dev) < 0.5, -yaw, yaw)
        pitch = _u(g, n, -cfg.pitch_max_deg, cfg.pitch_max_deg, dev) * (math.pi / 180)
        rot = _axis_angle(vert, yaw) @ _axis_angle(horiz, pitch)  # [n, 3, 3]
        return rot, Vs.mean(1, keepdim=True)

    def _densify(self, Vs: torch.Tensor) -> torch.Tensor:
        """The face vertices plus the position map upsampled 2x in UV space (bilinear, inside the
        face only): [n, ~5 N, 3], so that a splat leaves few holes where a rotation stretches it."""
        p = self.p
        n = Vs.shape[0]
        m = torch.zeros(n, 3, R * R, device=self.device)
        m[:, :, p.face_index] = Vs.permute(0, 2, 1)
        up = F.interpolate(m.view(n, 3, R, R), scale_factor=2, mode='bilinear', align_corners=False)
        if getattr(self, '_dense_keep', None) is None:
            fu = F.interpolate(p.face_mask, scale_factor=2, mode='bilinear', align_corners=False).view(-1)
            self._dense_keep = torch.nonzero(fu > 0.999).view(-1)
        return torch.cat([Vs, up.view(n, 3, -1)[:, :, self._dense_keep].permute(0, 2, 1)], dim=1)

    @staticmethod
    def _zsplat(xy: torch.Tensor, z: torch.Tensor, val: torch.Tensor):
        """Z-buffer splat of points (crop coordinates xy [n, M, 2], depth z [n, M], larger = nearer)
        carrying values val [n, M, C], with a 2x2 footprint: per pixel the nearest point's value.
        Returns (image [n, C, R, R], cover [n, 1, R, R] in {0, 1})."""
        n, M, C = val.shape
        dev = xy.device
        fx, fy = xy[..., 0].floor().long(), xy[..., 1].floor().long()
        pix_l = []
        for ox, oy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            ix, iy = fx + ox, fy + oy
            inside = (ix >= 0) & (ix < R) & (iy >= 0) & (iy < R)
            pix_l.append(torch.where(inside, iy.clamp(0, R - 1) * R + ix.clamp(0, R - 1), torch.full_like(ix, R * R)))
        pix = torch.cat(pix_l, 1)
        zz = z.repeat(1, 4)
        zbuf = torch.full((n, R * R + 1), -1e9, device=dev)
        zbuf = zbuf.scatter_reduce(1, pix, zz, reduce='amax', include_self=True)
        visible = (pix < R * R) & (zz >= zbuf.gather(1, pix))
        pixv = torch.where(visible, pix, torch.full_like(pix, R * R))  # hidden -> a dummy pixel
        out = torch.zeros(n, C, R * R + 1, device=dev)
        out.scatter_(2, pixv.unsqueeze(1).expand(n, C, pix.shape[1]), val.permute(0, 2, 1).repeat(1, 1, 4))
        cover = torch.zeros(n, 1, R * R + 1, device=dev)
        cover.scatter_(2, pixv.unsqueeze(1), torch.ones(n, 1, pix.shape[1], device=dev))
        return out[:, :, :R * R].reshape(n, C, R, R), cover[:, :, :R * R].reshape(n, 1, R, R)

    def _large_pose(self, img: torch.Tensor, V: torch.Tensor, sel: torch.Tensor, bg: torch.Tensor):
        """Rotates the selected samples' faces in depth and re-renders them: `rot_mode` 'warp'
        (default: the whole crop re-rendered, see `_large_pose_warp`) or 'splat' (the face alone
        splatted over the crop; where the original face was and the rotated one is not, the
        sample's background photo shows: the older synthesis, with a visible cut-out edge)."""
        ii = torch.nonzero(sel).view(-1)
        if ii.numel() == 0:
            return img, V
        if self.cfg.rot_mode == 'warp':
            return self._large_pose_warp(img, V, ii)
        if self.cfg.rot_mode != 'splat':
            raise ValueError(f"rot_mode must be 'warp' or 'splat', got {self.cfg.rot_mode!r}")
        n = ii.numel()
        Vs = V[ii]
        rot, centre = self._pose_rotation(Vs)

        def rotate(X: torch.Tensor) -> torch.Tensor:  # about `centre`: centre + rot (X - centre)
            return centre + (X - centre) @ rot.transpose(1, 2)

        pts = self._densify(Vs)  # [n, M, 3]
        M = pts.shape[1]
        # colour of every point where the crop shows it now
        src = img[ii]
        grid = (pts[..., :2] * (2.0 / (R - 1)) - 1).view(n, 1, M, 2)
        col = F.grid_sample(src, grid, mode='bilinear', padding_mode='border', align_corners=True).view(n, 3, M)
        pr = rotate(pts)
        render, cover = self._zsplat(pr[..., :2], pr[..., 2], col.permute(0, 2, 1))
        # close the remaining holes (3x3 closing, filled with the 3x3 mean colour)
        dil = F.max_pool2d(cover, 3, 1, 1)
        closed = 1 - F.max_pool2d(1 - dil, 3, 1, 1)
        hole = (closed > 0.5) & (cover < 0.5)
        render = torch.where(hole, _pull_push(render, cover), render)
        cover = torch.where(hole, torch.ones_like(cover), cover)
        # where the original face was (dilated 2 px) and the rotated one is not: background
        opix = (pts[..., 1].round().long().clamp(0, R - 1) * R + pts[..., 0].round().long().clamp(0, R - 1))
        orig = torch.zeros(n, 1, R * R, device=self.device)
        orig.scatter_(2, opix.unsqueeze(1), torch.ones(n, 1, M, device=self.device))
        orig = F.max_pool2d(orig.view(n, 1, R, R), 5, 1, 2)
        out = torch.where(cover > 0.5, render, torch.where(orig > 0.5, bg[ii], src))
        img = img.clone()
        img[ii] = out
        V = V.clone()
        V[ii] = rotate(Vs)
        return img, V

    def _large_pose_warp(self, img: torch.Tensor, V: torch.Tensor, ii: torch.Tensor):
        """The whole crop re-rendered around the rotated face (as 300W-LP's face profiling did):

        - face layer: the face's surface (densified position map) rotated rigidly, z-buffered (its
          self-occluded parts hidden), each point carrying its source position (where the crop
          shows it now); 3x3 closing of small holes;
        - head-and-background layer: every crop pixel lifted to the face's own visible depth (the
          z-buffered depth of the unrotated face, extended beyond it by pull-push, so it meets the
          face's rim without a step); inside an ellipse around the face (its 2D half width x
          `warp_head_y` x its half height) a point turns rigidly with the face, outside it its
          motion fades with a smoothstep to none at `warp_fade` x the ellipse's radius (the far
          background stays where it was, the head's surroundings stretch); its depth for the
          z-buffer fades likewise to far behind the face, so the head always hides the background;
        - the face layer over the other; what neither covers (stretched gaps) is filled by a
          pull-push interpolation of the source positions; then the crop is sampled once at those
          positions. No pixel of another photo enters, so no cut-out edge appears.
        The target is the rigidly rotated vertices (all of them, hidden ones included)."""
        cfg, dev = self.cfg, self.device
        n = ii.numel()
        Vs = V[ii]
        rot, centre = self._pose_rotation(Vs)

        def rotate(X: torch.Tensor) -> torch.Tensor:
            return centre + (X - centre) @ rot.transpose(1, 2)

        src = img[ii]
        # -- face layer
        pts = self._densify(Vs)
        pr = rotate(pts)
        uv_f, cov_f = self._zsplat(pr[..., :2], pr[..., 2], pts[..., :2])
        closed = 1 - F.max_pool2d(1 - F.max_pool2d(cov_f, 3, 1, 1), 3, 1, 1)
        uv_f = _pull_push(uv_f, cov_f)  # (a 3x3 mean would leave the middle of a 3x3 hole empty)
        face_on = closed > 0.5
        # -- head proxy: the face's own visible depth where it is, extended smoothly beyond it
        dep, cov_d = self._zsplat(pts[..., :2], pts[..., 2], pts[..., 2:])
        zb = _pull_push(dep, cov_d).reshape(n, -1)  # [n, R*R]
        lo, hi = Vs[..., :2].amin(1), Vs[..., :2].amax(1)  # [n, 2]
        ec = (lo + hi) / 2
        ax = ((hi - lo)[:, 0] / 2).clamp(min=4)
        ay = ((hi - lo)[:, 1] / 2 * cfg.warp_head_y).clamp(min=4)
        qx = self.qx.reshape(1, -1) + (R - 1) / 2  # every crop pixel [1, R*R]
        qy = self.qy.reshape(1, -1) + (R - 1) / 2
        rx = (qx - ec[:, :1]) / ax.view(n, 1)
        ry = (qy - ec[:, 1:]) / ay.view(n, 1)
        r2 = rx * rx + ry * ry
        P = torch.stack([qx.expand(n, -1), qy.expand(n, -1), zb], -1)  # [n, R*R, 3]
        Pr = rotate(P)
        t = ((torch.sqrt(r2) - 1) / (cfg.warp_fade - 1)).clamp(0, 1)
        a = (1 - t * t * (3 - 2 * t)).unsqueeze(-1)  # 1 inside the ellipse, smoothstep to 0
        xy = a * Pr[..., :2] + (1 - a) * P[..., :2]
        far = Vs[..., 2].amin(1, keepdim=True) - 4 * R
        zt = a[..., 0] * Pr[..., 2] + (1 - a[..., 0]) * far
        uv_b, cov_b = self._zsplat(xy, zt, P[..., :2])
        uv_b = _pull_push(uv_b, cov_b)
        uv = torch.where(face_on, uv_f, uv_b)
        grid = (uv * (2.0 / (R - 1)) - 1).permute(0, 2, 3, 1)
        out = F.grid_sample(src, grid, mode='bilinear', padding_mode='border', align_corners=True)
        img = img.clone()
        img[ii] = out
        V = V.clone()
        V[ii] = rotate(Vs)
        return img, V


def _pull_push(val: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Fills where w == 0 by pull-push interpolation (means over a pyramid of 2x2 cells, then back
    up bilinearly); keeps val where w == 1. val [n, C, S, S], w [n, 1, S, S], S a power of 2."""
    vs, ws = [val * w], [w]
    while vs[-1].shape[-1] > 1:
        vs.append(F.avg_pool2d(vs[-1], 2))
        ws.append(F.avg_pool2d(ws[-1], 2))
    cur = vs[-1] / ws[-1].clamp(min=1e-8)
    for lvl in range(len(vs) - 2, -1, -1):
        up = F.interpolate(cur, scale_factor=2, mode='bilinear', align_corners=False)
        mean = vs[lvl] / ws[lvl].clamp(min=1e-8)
        a = (ws[lvl] > 0.5).float() if lvl == 0 else (ws[lvl] * 4).clamp(max=1)
        cur = a * mean + (1 - a) * up
    return cur

"""Exploration (issue 10 item 4): does a detail-injection base let the binary model beat GSA/MTF-GLP?

Trains the hardware-profile HS-BiNet (configs/default.yaml: C = 64, 2 blocks, 75 epochs, lr 2e-4) on one
prepared scene (``hsbinet data --out DIR``) with one of these candidate output stages and scores
the best-validation checkpoint on the test split against bicubic, GSA and MTF-GLP (PSNR, SAM):

``v0``   today's model: ``out = bilinear(MS) + decoder(...)``.
``glpg`` a GLP detail base with learned global gains (streamable: a 4x4 box average of the PAN,
         the bilinear upsampler, a subtraction and a 1 -> B 1x1 conv):
         ``out = v0 + g * (PAN - bilinear(avgpool4(PAN)))``, g initialised by least squares on
         the training split (``cov(GT - bilinear(MS), detail) / var(detail)``), then trained.
``glpm`` as ``glpg`` with the gains modulated per pixel by a second decoder head:
         ``out = bilinear(MS) + g * detail * (1 + decoder2(...)) + decoder(...)``.
``hpm``  a multiplicative (HPM) base, streamable with one division per pixel shared by the bands:
         ``out = bilinear(MS) * PAN / bilinear(avgpool4(PAN)) + decoder(...)`` (float; the ratio is
         clamped to [0, 4]). HPM is spectrally neutral: it scales each pixel's spectrum, so its SAM
         is its upsampler's and only the decoder can improve SAM.
``hpmg`` HPM detail with learned per-band gains (a 1 -> B 1x1 conv on the ratio map):
         ``out = v0 + a * bilinear(MS) * (PAN / bilinear(avgpool4(PAN)) - 1)``, a initialised by least
         squares on the training split, then trained; a = 1 is ``hpm`` with an additive decoder.
``nscale`` today's model on frames scaled by their own PAN level (scale-equivariant):
         ``s = mean(PAN) / 0.3`` per frame, ``out = s * v0(MS / s, PAN / s)``: the network sees
         every frame at one radiometric level (frame statistics, as the channel attention's).
``nstd`` today's model on jointly standardised frames: per frame ``s = 4 std(PAN)``,
         ``MS' = 0.5 + (MS - mean_b(MS)) / s``, ``PAN' = 0.5 + (PAN - mean(PAN)) / s``,
         ``out = bilinear(MS) + s * decoder(MS', PAN')``: the learned detail is relative to the
         frame's PAN contrast, as a regression gain is.
``glp``  an upper bound, not streamable as written: the network's residual on the per-patch
         MTF-GLP fusion itself (float, computed on the fly from the patch's MS and PAN with the
         scene's MTF): ``out = MTF-GLP(MS, PAN) + decoder(...)``, the head reading MTF-GLP.

Options that change the training of any variant (each a hypothesis about the 100 x 100 scenes, whose
20 training patches come from one strip of a different radiometry than the test strip; results in
docs/benchmarks.md, "Training hypotheses for the 100 x 100 scenes"):

``--thermometer scene|wide``  thermometer thresholds at quantiles of every split's PAN (inputs only,
         no GT) or evenly over 1-99 % of twice the training PAN's maximum, instead of the training
         PAN's quantiles (the test strip's PAN leaves the training strip's range).
``--gain-aug``  radiometric augmentation: each item (MS, LMS, PAN, GT) times one gain drawn
         log-uniform in [0.5, 2] per (seed, epoch, item), capped so the peak stays below 1.9 (inside
         the fixed<16,2> inputs), on top of the dihedral flips.
``--donor DIR[,DIR]``  cross-scene pretraining in the training set: every patch of the donor
         folders (train, val and test; other scenes) with its bands resampled linearly in band index
         to the target's B, added to the target's training patches (written to OUT/data; the target's
         val/test are unchanged).
``--proj-scale F``  the H6 decoder projection's initial weights (N(0, 1e-3)) times F: with F = 1e-3
         the untrained model is the bilinear upsampler to within 1e-5.

Every run also scores the untrained model (``epoch0``, its validation L1 beside the best epoch's).

The candidates are float experiments on top of the hardware profile (the extra paths are not
quantised), so a candidate that wins here still needs its exact, lowerable form; one that loses
here will not win once quantised. Results of the runs in docs/benchmarks.md ("Detail-injection
candidates" and "Training hypotheses for the 100 x 100 scenes"). One training per call, deterministic
(seeded, 1 thread):

    python benchmarks/detail_base_candidates.py DATA_DIR --variant glpg --out DIR [--epochs 75]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import quant_models.train as T
from build_flows.config import load_config, model_config
from quant_models import metrics
from quant_models.baselines import mtf_glp
from quant_models.baselines.mtf_glp import pan_lowpass
from quant_models.data.dataset import PanDataset
from quant_models.data.hpc_format import read_hpc, write_hpc
from quant_models.data.wald import bicubic_upsample
from quant_models.evaluate import DEFAULT_GNYQ, DEFAULT_TAPS, classical
from quant_models.hsbinet import Decoder

VARIANTS = ('v0', 'glpg', 'glpm', 'hpm', 'hpmg', 'glp', 'nscale', 'nstd')


def hpm_ratio(pan, low):
    """PAN / its low-pass (numpy or torch, any layout), clamped to [0, 4] (a dark, flat low-pass gives no 0/0)."""
    return (pan / low.clip(min=1e-6)).clip(0.0, 4.0)


def least_squares_gains(residual: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:
    """Per-band gains g (B,) minimising |residual - g * detail|^2; NCHW, detail with 1 or B channels."""
    return (residual * detail).sum((0, 2, 3)) / (detail ** 2).sum((0, 2, 3))


class Candidate(nn.Module):
    """HS-BiNet (``base``) with one of the candidate output stages of the module docstring."""

    def __init__(self, base, variant: str, train_set, gnyq: float, taps: int):
        super().__init__()
        self.base, self.edge, self.variant = base, base.edge, variant  # .edge: the trainer's thermometer init
        self.ratio, self.gnyq, self.taps = base.cfg.ratio, gnyq, taps
        bands = base.cfg.bands
        self.gain = nn.Conv2d(1, bands, 1, bias=False)
        if variant == 'glpm':
            self.mod = Decoder(base.cfg)
        with torch.no_grad():  # least-squares gains of the detail on the training split
            pan = torch.from_numpy(train_set.pan).double()
            det = pan - self.lowpass(pan)
            f0 = F.interpolate(torch.from_numpy(train_set.ms).double(), scale_factor=self.ratio, mode='bilinear',
                               align_corners=False)
            if variant == 'hpmg':  # the HPM detail f0 * (ratio - 1), one per band
                det = f0 * (hpm_ratio(pan, self.lowpass(pan)) - 1)
            g = least_squares_gains(torch.from_numpy(train_set.gt).double() - f0, det)
            self.gain.weight.copy_(g.view(bands, 1, 1, 1).float())

    def lowpass(self, pan):
        return box_lowpass(pan, self.ratio)

    def normalise(self, ms, pan):
        """(ms', pan', undo) of the frame-normalising variants; identity for the others (NCHW)."""
        if self.variant == 'nscale':
            s = pan.mean((1, 2, 3), keepdim=True).clamp(min=1e-4) / 0.3
            return ms / s, pan / s, lambda y: y * s
        if self.variant == 'nstd':
            s = 4 * pan.std((1, 2, 3), keepdim=True).clamp(min=1e-4)
            mu_ms, mu_pan = ms.mean((2, 3), keepdim=True), pan.mean((1, 2, 3), keepdim=True)
            return 0.5 + (ms - mu_ms) / s, 0.5 + (pan - mu_pan) / s, lambda y: (y - 0.5) * s + mu_ms
        return ms, pan, lambda y: y

    thermometer_mode, thermometer_pan = 'train', None  # --thermometer

    def init_from_data(self, pan):
        """The trainer's thermometer init, on the PAN as the network sees it (``--thermometer``)."""
        if self.thermometer_mode == 'scene':
            pan = self.thermometer_pan
        dummy = torch.zeros(pan.shape[0], 1, 1, 1)
        self.base.init_from_data(self.normalise(dummy, pan)[1])
        if self.thermometer_mode == 'wide':
            th = self.base.edge.thermo
            with torch.no_grad():
                th.bias.copy_(-torch.linspace(0.01, 0.99, th.bias.numel()) * 2 * float(pan.max()))

    def forward(self, ms, pan):
        b = self.base
        if self.variant == 'v0':
            return b(ms, pan)
        if self.variant in ('nscale', 'nstd'):
            ms_n, pan_n, undo = self.normalise(ms, pan)
            return undo(b(ms_n, pan_n))
        if self.variant == 'glp':
            r = self.ratio
            fused = [mtf_glp(m.transpose(1, 2, 0), p[0], bicubic_upsample(m.transpose(1, 2, 0), r), r, self.gnyq,
                             self.taps).transpose(2, 0, 1)
                     for m, p in zip(ms.detach().double().numpy(), pan.detach().double().numpy())]
            f0 = torch.from_numpy(np.stack(fused)).float()
            return b.out(f0 + b.decoder(b.fusion(b.edge(b.in_pan(pan)), b.msfe(b.head(f0)))))
        det = pan - self.lowpass(pan)
        if self.variant == 'glpg':
            return b(ms, pan) + self.gain(det)
        f0 = b.upsample(b.in_ms(ms))
        f = b.fusion(b.edge(b.in_pan(pan)), b.msfe(b.head(f0)))
        if self.variant == 'hpm':
            return b.out(f0 * hpm_ratio(pan, self.lowpass(pan)) + b.decoder(f))
        if self.variant == 'hpmg':
            rel = hpm_ratio(pan, self.lowpass(pan)) - 1
            return b.out(f0 + f0 * self.gain.weight.view(1, -1, 1, 1) * rel + b.decoder(f))
        return b.out(f0 + self.gain(det) * (1 + self.mod(f)) + b.decoder(f))


def resample_bands(x: np.ndarray, bands: int) -> np.ndarray:
    """(N, B0, H, W) -> (N, bands, H, W), linear interpolation in band index (first and last kept)."""
    idx = np.interp(np.linspace(0, 1, bands), np.linspace(0, 1, x.shape[1]), np.arange(x.shape[1]))
    lo = np.floor(idx).astype(int)
    hi, w = np.minimum(lo + 1, x.shape[1] - 1), (idx - lo)[None, :, None, None]
    return ((1 - w) * x[:, lo] + w * x[:, hi]).astype(np.float32)


def with_donors(target: str, donors: list[str], out: str) -> str:
    """``--donor``: OUT with the target's val/test and its train plus every donor patch at its B."""
    t = read_hpc(f'{target}/train.h5', require_gt=True)
    parts = [(t.gt, t.lms, t.ms, t.pan)]
    for d in donors:
        for k in ('train', 'val', 'test'):
            s = read_hpc(f'{d}/{k}.h5', require_gt=True)
            if s.ratio != t.ratio or s.pan.shape[-2:] != t.pan.shape[-2:]:
                raise SystemExit(f'{d}/{k}.h5: patches of {s.pan.shape[-2:]} at ratio {s.ratio}, the target has '
                                 f'{t.pan.shape[-2:]} at ratio {t.ratio}')
            parts.append((*(resample_bands(v, t.n_bands) for v in (s.gt, s.lms, s.ms)), s.pan))
    os.makedirs(out, exist_ok=True)
    write_hpc(f'{out}/train.h5', *(np.concatenate(v) for v in zip(*parts)), dict(t.attrs))
    for k in ('val', 'test'):
        shutil.copy(f'{target}/{k}.h5', f'{out}/{k}.h5')
    return out


def augment_gains() -> None:
    """``--gain-aug``: PanDataset items times a log-uniform gain in [0.5, 2] (peak kept below 1.9)."""
    plain = PanDataset.__getitem__

    def getitem(self, i):
        item = plain(self, i)
        if not self.augment:  # the training set only (val/test have augment off)
            return item
        rng = np.random.default_rng([self.seed, self.epoch, int(i) % len(self), 1])
        peak = max(float(v.max()) for v in item.values())
        g = min(float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))), 1.9 / max(peak, 1e-6))
        return {k: v * g for k, v in item.items()}
    PanDataset.__getitem__ = getitem


def box_lowpass(pan: torch.Tensor, ratio: int) -> torch.Tensor:
    """The streamable PAN low-pass: ratio x ratio box average, bilinear back (N, 1, H, W)."""
    return F.interpolate(F.avg_pool2d(pan, ratio), scale_factor=ratio, mode='bilinear', align_corners=False)


def untrained_bases(data: str) -> dict:
    """PSNR / SAM on the test split of every detail base with no network (``--bases``).

    ``hpm-bil``/``hpm-bic``: ``up(MS) * PAN / box_lowpass(PAN)`` on the bilinear / bicubic upsampling;
    ``hpmg-*``: ``up(MS) * (1 + a * (PAN / box_lowpass(PAN) - 1))`` with per-band gains ``a`` fitted by
    least squares on the training split (fixed at deployment, so streamable); ``mtf_hpm``: the
    bicubic LMS times PAN over its MTF low-pass (fitted per patch, as GSA and MTF-GLP are).
    """
    tr, te = read_hpc(f'{data}/train.h5', require_gt=True), read_hpc(f'{data}/test.h5', require_gt=True)
    ratio = tr.pan.shape[-1] // tr.ms.shape[-1]
    gnyq, taps = float(te.attrs.get('gnyq', DEFAULT_GNYQ)), int(te.attrs.get('mtf_taps', DEFAULT_TAPS))
    rel = {k: hpm_ratio(p, box_lowpass(p, ratio)) - 1
           for k, p in (('train', torch.from_numpy(tr.pan).double()), ('test', torch.from_numpy(te.pan).double()))}
    methods = {'bicubic': te.lms, **classical(te, ratio, gnyq, taps)}
    methods['mtf_hpm'] = te.lms * np.stack([hpm_ratio(p, pan_lowpass(p[0], ratio, gnyq, taps)[None]) for p in te.pan])
    for mode in ('bilinear', 'bicubic'):
        def up(ms):
            return F.interpolate(torch.from_numpy(ms).double(), scale_factor=ratio, mode=mode, align_corners=False)
        f_tr, f_te = up(tr.ms), up(te.ms)
        gain = least_squares_gains(torch.from_numpy(tr.gt).double() - f_tr, f_tr * rel['train'])
        methods[f'hpm-{mode[:3]}'] = (f_te * (1 + rel['test'])).numpy()
        methods[f'hpmg-{mode[:3]}'] = (f_te * (1 + gain.view(1, -1, 1, 1) * rel['test'])).numpy()
    return {k: {m: round(v, 3) for m, v in metrics.reference_metrics(te.gt, c, ratio).items() if m in ('psnr', 'sam')}
            for k, c in methods.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('data', help='folder with train.h5, val.h5, test.h5 (hsbinet data)')
    p.add_argument('--variant', choices=VARIANTS, default='glpg')
    p.add_argument('--bases', action='store_true', help='score the untrained detail bases only (no training)')
    p.add_argument('--epochs', type=int, default=75)
    p.add_argument('--out')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--thermometer', choices=('train', 'scene', 'wide'), default='train')
    p.add_argument('--gain-aug', action='store_true')
    p.add_argument('--donor', help='comma-separated prepared folders of other scenes (cross-scene pretraining)')
    p.add_argument('--proj-scale', type=float, default=1.0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.bases:
        print(json.dumps({'data': a.data, **untrained_bases(a.data)}))
        return
    if not a.out:
        p.error('--out is required for a training (or pass --bases)')
    tr = read_hpc(f'{a.data}/train.h5', require_gt=True)
    te = read_hpc(f'{a.data}/test.h5', require_gt=True)
    bands, ratio = tr.ms.shape[1], tr.pan.shape[-1] // tr.ms.shape[-1]
    gnyq, taps = float(te.attrs.get('gnyq', DEFAULT_GNYQ)), int(te.attrs.get('mtf_taps', DEFAULT_TAPS))
    data = a.data
    if a.donor:
        data = with_donors(a.data, a.donor.split(','), f'{a.out}/data')
        tr = read_hpc(f'{data}/train.h5', require_gt=True)
    if a.gain_aug:
        augment_gains()
    plain = T.build_model
    scene_pan = (None if a.thermometer == 'train' else  # --thermometer: every split's PAN, read once
                 torch.from_numpy(np.concatenate([read_hpc(f'{a.data}/{k}.h5', require_gt=False).pan
                                                  for k in ('train', 'val', 'test')])))

    def build(cfg):  # the trainer builds this one
        base = plain(cfg)
        with torch.no_grad():
            base.decoder.proj.weight.mul_(a.proj_scale)
        cand = Candidate(base, a.variant, tr, gnyq, taps)
        cand.thermometer_mode, cand.thermometer_pan = a.thermometer, scene_pan
        return cand
    T.build_model = build
    # configs/default.yaml's model and train sections (C = 64, 2 blocks, ATISTE; lr 2e-4, batch 4,
    # cosine restarts at 25/75), only the epochs from --epochs and seed 0
    cfg = load_config()
    if cfg.data.ratio != ratio:
        raise SystemExit(f'{a.data}: ratio {ratio}, configs/default.yaml has data.ratio {cfg.data.ratio}')
    mcfg = model_config(cfg, bands)
    tcfg = replace(cfg.train, epochs=a.epochs, seed=0, threads=None)
    T.seed_everything(tcfg.seed)  # the untrained start (epoch 0): the model the training starts from
    init = T.build_model(mcfg)
    init.init_from_data(torch.from_numpy(tr.pan))
    init.eval()
    val_loader = torch.utils.data.DataLoader(PanDataset(f'{data}/val.h5'), batch_size=tcfg.batch_size, shuffle=False)
    val0 = T.evaluate_loss(init, val_loader, tcfg.loss, torch.device('cpu'))
    t0 = time.time()
    res = T.train(mcfg, tcfg, data, a.out, progress=False, log=lambda s: None)
    model = T.build_model(mcfg)
    model.load_state_dict(torch.load(res['best'], weights_only=False)['state_dict'])
    model.eval()
    with torch.no_grad():
        out, out0 = (m(torch.from_numpy(te.ms), torch.from_numpy(te.pan)).numpy() for m in (model, init))
    methods = {'candidate': out, 'epoch0': out0, 'bicubic': te.lms, **classical(te, ratio, gnyq, taps)}
    row = {k: {m: round(v, 3) for m, v in metrics.reference_metrics(te.gt, c, ratio).items() if m in ('psnr', 'sam')}
           for k, c in methods.items()}
    best = int(np.argmin([h['val_loss'] for h in res['history']])) + 1
    opts = {'thermometer': a.thermometer, 'gain_aug': a.gain_aug, 'donor': a.donor, 'proj_scale': a.proj_scale}
    print(json.dumps({'data': a.data, 'variant': a.variant, 'epochs': a.epochs, **opts, 'best_epoch': best,
                      'val_l1': {'epoch0': round(val0, 6), 'best': round(float(res['best_val_loss']), 6)},
                      'train_s': round(time.time() - t0), **row}))


if __name__ == '__main__':
    main()

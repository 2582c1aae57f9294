"""Exploration (issue 10 item 4): does a detail-injection base let the binary model beat GSA/MTF-GLP?

Trains the hardware-profile HS-BiNet (default config: C = 64, 2 blocks, 75 epochs, batch 4) on one
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
``glp``  an upper bound, not streamable as written: the network's residual on the per-patch
         MTF-GLP fusion itself (float, computed on the fly from the patch's MS and PAN with the
         scene's MTF): ``out = MTF-GLP(MS, PAN) + decoder(...)``, the head reading MTF-GLP.

The candidates are float experiments on top of the hardware profile (the extra paths are not
quantised), so a candidate that wins here still needs its exact, lowerable form; one that loses
here will not win once quantised. Results of the runs in docs/benchmarks.md ("Detail-injection
candidates"). One training per call, deterministic (seeded, 1 thread):

    python benchmarks/detail_base_candidates.py DATA_DIR --variant glpg --out DIR [--epochs 75]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import quant_models.train as T
from quant_models import metrics
from quant_models.baselines import mtf_glp
from quant_models.baselines.mtf_glp import pan_lowpass
from quant_models.data.hpc_format import read_hpc
from quant_models.data.wald import bicubic_upsample
from quant_models.evaluate import DEFAULT_GNYQ, DEFAULT_TAPS, classical
from quant_models.hsbinet import Decoder, HSBiNetConfig

VARIANTS = ('v0', 'glpg', 'glpm', 'hpm', 'hpmg', 'glp')


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

    def forward(self, ms, pan):
        b = self.base
        if self.variant == 'v0':
            return b(ms, pan)
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
    plain = T.build_model
    T.build_model = lambda cfg: Candidate(plain(cfg), a.variant, tr, gnyq, taps)  # the trainer builds this one
    mcfg = HSBiNetConfig(bands=bands, hidden=64, blocks=2, ratio=ratio)
    t0 = time.time()
    res = T.train(mcfg, T.TrainConfig(epochs=a.epochs, t0=25, t_mult=2, seed=0), a.data, a.out, progress=False,
                  log=lambda s: None)
    model = T.build_model(mcfg)
    model.load_state_dict(torch.load(res['best'], weights_only=False)['state_dict'])
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(te.ms), torch.from_numpy(te.pan)).numpy()
    methods = {'candidate': out, 'bicubic': te.lms, **classical(te, ratio, gnyq, taps)}
    row = {k: {m: round(v, 3) for m, v in metrics.reference_metrics(te.gt, c, ratio).items() if m in ('psnr', 'sam')}
           for k, c in methods.items()}
    best = int(np.argmin([h['val_loss'] for h in res['history']])) + 1
    print(json.dumps({'data': a.data, 'variant': a.variant, 'epochs': a.epochs, 'best_epoch': best,
                      'train_s': round(time.time() - t0), **row}))


if __name__ == '__main__':
    main()

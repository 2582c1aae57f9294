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
from quant_models.data.hpc_format import read_hpc
from quant_models.data.wald import bicubic_upsample
from quant_models.evaluate import DEFAULT_GNYQ, DEFAULT_TAPS, classical
from quant_models.hsbinet import Decoder, HSBiNetConfig

VARIANTS = ('v0', 'glpg', 'glpm', 'glp')


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
            g = ((torch.from_numpy(train_set.gt).double() - f0) * det).mean((0, 2, 3)) / (det ** 2).mean()
            self.gain.weight.copy_(g.view(bands, 1, 1, 1).float())

    def lowpass(self, pan):
        return F.interpolate(F.avg_pool2d(pan, self.ratio), scale_factor=self.ratio, mode='bilinear',
                             align_corners=False)

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
        return b.out(f0 + self.gain(det) * (1 + self.mod(f)) + b.decoder(f))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('data', help='folder with train.h5, val.h5, test.h5 (hsbinet data)')
    p.add_argument('--variant', choices=VARIANTS, default='glpg')
    p.add_argument('--epochs', type=int, default=75)
    p.add_argument('--out', required=True)
    p.add_argument('--threads', type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
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

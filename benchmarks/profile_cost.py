"""Accuracy cost of the hardware profile against the paper profile, same data, same budget.

Prepares one scene with Wald's protocol (default: the embedded Indian Pines), trains the paper
profile and the hardware profile with the same seed, recipe and wall-clock budget, evaluates both on
the same test split and prints PSNR/SAM/ERGAS/... next to bicubic interpolation.

    python benchmarks/profile_cost.py [--scene indian_pines] [--minutes 5] [--hidden 64] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from build_flows.config import load_config
from build_flows.flow import data_stage, evaluate_stage, train_stage


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--scene', default='indian_pines')
    p.add_argument('--minutes', type=float, default=5.0, help='training budget per profile')
    p.add_argument('--hidden', type=int, default=64)
    p.add_argument('--blocks', type=int, default=2)
    p.add_argument('--estimator', default='atiste')
    p.add_argument('--out', default=None)
    a = p.parse_args()
    out = Path(a.out or tempfile.mkdtemp(prefix='hsbinet_profile_cost_'))
    quiet = lambda s: None  # noqa: E731
    data_stage(a.scene, out / 'data', {'test_patch': 32}, log=quiet)
    rows = {}
    for profile in ('paper', 'hardware'):
        cfg = load_config(None, {'model': {'profile': profile, 'hidden': a.hidden, 'blocks': a.blocks,
                                           'estimator': a.estimator},
                                 'train': {'time_budget_min': a.minutes}})
        r = train_stage(cfg, out / 'data', out / profile, log=quiet, progress=False)
        rep = evaluate_stage(r['best'], out / 'data' / 'test.h5', out / f'{profile}_eval', log=quiet)
        rows[profile] = (rep['methods']['hsbinet'], r['epochs_completed'])
        rows.setdefault('bicubic', (rep['methods']['bicubic'], 0))
    keys = ('psnr', 'cc', 'ssim', 'sam', 'ergas', 'qnr')
    print(f'scene {a.scene}, C={a.hidden}, blocks={a.blocks}, {a.estimator}, {a.minutes} min per profile; '
          f'test split of {out / "data"}')
    print(f'{"method":<10}{"epochs":>7}' + ''.join(f'{k.upper():>9}' for k in keys))
    for name, (m, ep) in rows.items():
        print(f'{name:<10}{ep:>7}' + ''.join(f'{m[k]:9.3f}' for k in keys))
    pp, hw = rows['paper'][0], rows['hardware'][0]
    print(f'hardware-profile cost vs paper: PSNR {hw["psnr"] - pp["psnr"]:+.3f} dB, SAM {hw["sam"] - pp["sam"]:+.3f} deg')


if __name__ == '__main__':
    main()

"""Accuracy cost of the hardware profile against the paper profile, same data, same budget.

Prepares one scene with Wald's protocol (default: the embedded Indian Pines) and trains, with the
same seed, recipe and budget, the paper profile, the hardware profile and (``--each``) the paper
profile plus one hardware change at a time (HS-BiNet H1..H7, S2BNet-style S1..S7, BNNPan-style
B1..B8; docs/model.md). Each model is evaluated on the same test split; the table gives
PSNR/SAM/ERGAS/... and each variant's cost against the paper profile. A second seed of the paper
profile (``--each``) gives the seed-to-seed spread, the noise floor below which a cost is not a
measurement.

S2BNet-style's single changes are measured on top of its one-scale paper profile (paper + S6,
``levels: 0``) unless ``--unet``: its U-Net paper profile (``levels: 2``, C -> 4C at the bottleneck)
takes ~33 s per epoch on one core of the reference machine against ~6 s at one scale, so nine
U-Net trainings do not fit a benchmark run; S6 itself is the U-Net against the one-scale paper
profile (docs/benchmarks.md gives both at the demo's budget).

    python benchmarks/profile_cost.py [--arch hsbinet|s2bnet|bnnpan] [--each] [--epochs 150 | --minutes 5]
        [--hidden C] [--blocks N] [--threads T] [--out DIR]

Writes DIR/profile_cost.json, DIR/profile_cost.md and DIR/profile_cost.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

from build_flows.config import load_config
from build_flows.steps import Build, run_steps
from quant_models.archs import ARCHS, CHANGES, DISPLAY
from quant_models.common import HsbinetError

KEYS = ('psnr', 'cc', 'ssim', 'sam', 'ergas', 'qnr')
WIDTHS = {'hsbinet': (64, 2), 's2bnet': (64, 4), 'bnnpan': (32, 4)}  # (C, blocks): configs/<arch>.yaml's


def variants(arch: str, each: bool, unet: bool = False) -> list[tuple[str, dict, int]]:
    """(name, model-section overrides, seed offset) for every model to train; the first is the base
    the costs are measured against."""
    base = ['S6'] if arch == 's2bnet' and not unet else []

    def paper(changes: list[str]) -> dict:
        d = {'profile': 'paper', 'changes': sorted(changes) or None}
        if arch == 's2bnet':
            d['levels'] = 0 if 'S6' in changes else 2
        return d

    name = '+'.join(['paper'] + base)
    v = [(name, paper(base), 0)]
    if each:
        v.append((f'{name} seed+1', paper(base), 1))
        v += [(f'{name}+{c}', paper(base + [c]), 0) for c in CHANGES[arch] if c not in base]
    v.append(('hardware', {'profile': 'hardware', **({'levels': 0} if arch == 's2bnet' else {})}, 0))
    return v


def _same_model_or_refuse(path: Path, stored: dict, wanted: dict) -> None:
    """Refuse to reuse a finished model of another architecture, width or change list (the data's
    band count and ratio are set when the model is built, so they are not compared)."""
    drop = ('bands', 'ratio')
    stored, wanted = ({k: v for k, v in d.items() if k not in drop} for d in (stored, wanted))
    if stored != wanted:
        raise HsbinetError('The output folder holds a model of another setting', file=str(path), key='model',
                           expected=json.dumps(wanted, sort_keys=True), found=json.dumps(stored, sort_keys=True),
                           hint='use another --out, or the setting it was run with')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--scene', default='indian_pines')
    p.add_argument('--arch', default='hsbinet', choices=sorted(ARCHS))
    p.add_argument('--each', action='store_true', help='also paper + each single change (H1..H7, S1..S7, B1..B8), '
                   'and a second seed')
    p.add_argument('--unet', action='store_true', help="s2bnet: measure single changes on the U-Net paper profile")
    p.add_argument('--epochs', type=int, default=None, help='epoch budget per model (equal work; default)')
    p.add_argument('--minutes', type=float, default=None, help='wall-clock budget per model instead of epochs')
    p.add_argument('--hidden', type=int, default=None, help="C (default: configs/<arch>.yaml's)")
    p.add_argument('--blocks', type=int, default=None, help="blocks (default: configs/<arch>.yaml's)")
    p.add_argument('--threads', type=int, default=None, help='torch threads per training (default: torch\'s)')
    p.add_argument('--estimator', default='atiste')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=None)
    a = p.parse_args()
    a.hidden = a.hidden if a.hidden is not None else WIDTHS[a.arch][0]
    a.blocks = a.blocks if a.blocks is not None else WIDTHS[a.arch][1]
    if a.epochs is None and a.minutes is None:
        a.epochs = 150  # two cosine warm-restart cycles (t0 50, t_mult 2): every model ends at the LR minimum
    out = Path(a.out or tempfile.mkdtemp(prefix='hsbinet_profile_cost_'))
    quiet = lambda s: None  # noqa: E731
    if not (out / 'data' / 'test.h5').is_file():
        cfg = load_config(None, {'scene': a.scene, 'seed': a.seed, 'data': {'test_patch': 32}})
        run_steps(Build(out, cfg, log=quiet, progress=False), ['data'])
    rows: dict[str, dict] = {}
    todo = variants(a.arch, a.each, a.unet)
    for name, model_over, seed_off in todo:
        train_over = {'time_budget_min': a.minutes} if a.minutes else {'epochs': a.epochs, 'time_budget_min': None}
        cfg = load_config(None, {'seed': a.seed + seed_off, 'model': {**model_over, 'arch': a.arch, 'hidden': a.hidden,
                                 'blocks': a.blocks, 'estimator': a.estimator},
                                 'train': {**train_over, 'threads': a.threads}})
        tag = name.replace(' ', '_').replace('+', '_')
        done = out / f'{tag}_eval' / 'metrics.json'
        if done.is_file():  # an earlier, interrupted run of the same folder already has this model
            rep = json.loads(done.read_text())
            ckpt = torch.load(out / tag / 'last.pt', map_location='cpu', weights_only=False)
            _same_model_or_refuse(out / tag / 'last.pt', ckpt['model_config'], cfg.model.to_dict())
            epochs = ckpt['epoch'] + 1
        else:
            r = run_steps(Build(out, cfg, paths={'train': out / tag, 'eval': out / f'{tag}_eval'}, log=quiet,
                                progress=False), ['train', 'evaluate'])
            rep, epochs = r['evaluate'], r['train']['epochs']
        rows[name] = {**{k: rep['methods']['hsbinet'][k] for k in KEYS}, 'epochs': epochs}
        rows.setdefault('bicubic', {**{k: rep['methods']['bicubic'][k] for k in KEYS}, 'epochs': 0})
        print(f'{name:<22} PSNR {rows[name]["psnr"]:.3f}  SAM {rows[name]["sam"]:.3f}', flush=True)

    base_name = todo[0][0]
    base = rows[base_name]
    for r in rows.values():
        r['d_psnr'], r['d_sam'] = r['psnr'] - base['psnr'], r['sam'] - base['sam']
    budget = f'{a.epochs} epochs' if not a.minutes else f'{a.minutes} min'
    head = (f'{DISPLAY[a.arch]}, scene {a.scene}, C={a.hidden}, blocks={a.blocks}, {a.estimator}, {budget} per model, seed {a.seed}; '
            f'test split of {out / "data"}')
    lines = [head, '', '| model | epochs | ' + ' | '.join(k.upper() for k in KEYS) + ' | dPSNR (dB) | dSAM (deg) |',
             '|---|---|' + '---|' * (len(KEYS) + 2)]
    for name, r in rows.items():
        lines.append(f'| {name} | {r["epochs"]} | ' + ' | '.join(f'{r[k]:.3f}' for k in KEYS)
                     + f' | {r["d_psnr"]:+.3f} | {r["d_sam"]:+.3f} |')
    if f'{base_name} seed+1' in rows:
        s = rows[f'{base_name} seed+1']
        lines += ['', f'seed-to-seed spread of {base_name}: PSNR {s["d_psnr"]:+.3f} dB, SAM {s["d_sam"]:+.3f} deg '
                  '(costs smaller than this are within training noise)']
    text = '\n'.join(lines)
    print(text)
    (out / 'profile_cost.md').write_text(text + '\n')
    (out / 'profile_cost.json').write_text(json.dumps({'setting': head, 'rows': rows}, indent=1))
    _plot(rows, out / 'profile_cost.png', head.split('; test split')[0], base_name)
    print(f'wrote {out / "profile_cost.md"}, .json, .png')


def _plot(rows: dict, path: Path, title: str, base_name: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    names = [n for n in rows if n not in (base_name, 'bicubic')]
    fig, ax = plt.subplots(1, 2, figsize=(10, 0.45 * len(names) + 1.6), sharey=True)
    for axis, key, unit in ((ax[0], 'd_psnr', 'dB (higher is better)'), (ax[1], 'd_sam', 'deg (lower is better)')):
        vals = [rows[n][key] for n in names]
        axis.barh(names, vals, color=['tab:gray' if 'seed' in n else 'tab:blue' for n in names])
        axis.axvline(0, color='k', lw=0.8)
        axis.xaxis.set_major_locator(MaxNLocator(5))
        axis.set_xlabel(f'{key[2:].upper()} vs {base_name}, {unit}')
    ax[0].invert_yaxis()
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == '__main__':
    try:
        main()
    except HsbinetError as e:
        print(f'error: {e.paragraph()}', file=sys.stderr)
        raise SystemExit(2) from None

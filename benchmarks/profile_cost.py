"""Accuracy cost of the hardware profile against the paper profile, same data, same budget.

Prepares one scene with Wald's protocol (default: the embedded Indian Pines) and trains, with the
same seed, recipe and budget, the paper profile, the hardware profile and (``--each``) the paper
profile plus one hardware change at a time (H1..H7, docs/model.md). Each model is evaluated on the
same test split; the table gives PSNR/SAM/ERGAS/... and each variant's cost against the paper
profile. A second seed of the paper profile (``--each``) gives the seed-to-seed spread, the noise
floor below which a cost is not a measurement.

    python benchmarks/profile_cost.py [--each] [--epochs 150 | --minutes 5] [--hidden 64] [--out DIR]

Writes DIR/profile_cost.json, DIR/profile_cost.md and DIR/profile_cost.png.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from build_flows.config import load_config
from build_flows.steps import Build, run_steps
from quant_models.hsbinet import HW_CHANGES

KEYS = ('psnr', 'cc', 'ssim', 'sam', 'ergas', 'qnr')


def variants(each: bool) -> list[tuple[str, dict, int]]:
    """(name, model-section overrides, seed offset) for every model to train."""
    v = [('paper', {'profile': 'paper'}, 0)]
    if each:
        v.append(('paper seed+1', {'profile': 'paper'}, 1))
        v += [(f'paper+{h}', {'profile': 'paper', 'changes': [h]}, 0) for h in HW_CHANGES]
    v.append(('hardware', {'profile': 'hardware'}, 0))
    return v


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--scene', default='indian_pines')
    p.add_argument('--each', action='store_true', help='also paper + each single change H1..H7, and a second seed')
    p.add_argument('--epochs', type=int, default=None, help='epoch budget per model (equal work; default)')
    p.add_argument('--minutes', type=float, default=None, help='wall-clock budget per model instead of epochs')
    p.add_argument('--hidden', type=int, default=64)
    p.add_argument('--blocks', type=int, default=2)
    p.add_argument('--estimator', default='atiste')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=None)
    a = p.parse_args()
    if a.epochs is None and a.minutes is None:
        a.epochs = 150  # two cosine warm-restart cycles (t0 50, t_mult 2): every model ends at the LR minimum
    out = Path(a.out or tempfile.mkdtemp(prefix='hsbinet_profile_cost_'))
    quiet = lambda s: None  # noqa: E731
    if not (out / 'data' / 'test.h5').is_file():
        cfg = load_config(None, {'scene': a.scene, 'seed': a.seed, 'data': {'test_patch': 32}})
        run_steps(Build(out, cfg, log=quiet, progress=False), ['data'])
    rows: dict[str, dict] = {}
    for name, model_over, seed_off in variants(a.each):
        train_over = {'time_budget_min': a.minutes} if a.minutes else {'epochs': a.epochs, 'time_budget_min': None}
        cfg = load_config(None, {'seed': a.seed + seed_off, 'model': {**model_over, 'hidden': a.hidden,
                                 'blocks': a.blocks, 'estimator': a.estimator}, 'train': train_over})
        tag = name.replace(' ', '_').replace('+', '_')
        done = out / f'{tag}_eval' / 'metrics.json'
        if done.is_file():  # an earlier, interrupted run of the same folder already has this model
            rep = json.loads(done.read_text())
            epochs = torch.load(out / tag / 'last.pt', map_location='cpu', weights_only=False)['epoch'] + 1
        else:
            r = run_steps(Build(out, cfg, paths={'train': out / tag, 'eval': out / f'{tag}_eval'}, log=quiet,
                                progress=False), ['train', 'evaluate'])
            rep, epochs = r['evaluate'], r['train']['epochs']
        rows[name] = {**{k: rep['methods']['hsbinet'][k] for k in KEYS}, 'epochs': epochs}
        rows.setdefault('bicubic', {**{k: rep['methods']['bicubic'][k] for k in KEYS}, 'epochs': 0})
        print(f'{name:<14} PSNR {rows[name]["psnr"]:.3f}  SAM {rows[name]["sam"]:.3f}', flush=True)

    base = rows['paper']
    for r in rows.values():
        r['d_psnr'], r['d_sam'] = r['psnr'] - base['psnr'], r['sam'] - base['sam']
    budget = f'{a.epochs} epochs' if not a.minutes else f'{a.minutes} min'
    head = (f'scene {a.scene}, C={a.hidden}, blocks={a.blocks}, {a.estimator}, {budget} per model, seed {a.seed}; '
            f'test split of {out / "data"}')
    lines = [head, '', '| model | epochs | ' + ' | '.join(k.upper() for k in KEYS) + ' | dPSNR (dB) | dSAM (deg) |',
             '|---|---|' + '---|' * (len(KEYS) + 2)]
    for name, r in rows.items():
        lines.append(f'| {name} | {r["epochs"]} | ' + ' | '.join(f'{r[k]:.3f}' for k in KEYS)
                     + f' | {r["d_psnr"]:+.3f} | {r["d_sam"]:+.3f} |')
    if 'paper seed+1' in rows:
        s = rows['paper seed+1']
        lines += ['', f'seed-to-seed spread of the paper profile: PSNR {s["d_psnr"]:+.3f} dB, SAM {s["d_sam"]:+.3f} deg '
                  '(costs smaller than this are within training noise)']
    text = '\n'.join(lines)
    print(text)
    (out / 'profile_cost.md').write_text(text + '\n')
    (out / 'profile_cost.json').write_text(json.dumps({'setting': head, 'rows': rows}, indent=1))
    _plot(rows, out / 'profile_cost.png', head)
    print(f'wrote {out / "profile_cost.md"}, .json, .png')


def _plot(rows: dict, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = [n for n in rows if n not in ('paper', 'bicubic')]
    fig, ax = plt.subplots(1, 2, figsize=(10, 0.45 * len(names) + 1.6), sharey=True)
    for axis, key, unit in ((ax[0], 'd_psnr', 'dB (higher is better)'), (ax[1], 'd_sam', 'deg (lower is better)')):
        vals = [rows[n][key] for n in names]
        axis.barh(names, vals, color=['tab:gray' if 'seed' in n else 'tab:blue' for n in names])
        axis.axvline(0, color='k', lw=0.8)
        axis.set_xlabel(f'{key[2:].upper()} vs paper profile, {unit}')
    ax[0].invert_yaxis()
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == '__main__':
    main()

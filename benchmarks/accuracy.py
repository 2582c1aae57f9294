"""The paper's comparisons (its Table 1 layout) as one benchmark: binary HS-BiNet with each
estimator and profile, its full-precision twin and the classical methods, several real scenes,
several seeds, mean +- std.

    python benchmarks/accuracy.py [--scenes abu_urban3,pavia_centre,san_diego] [--seeds 0,1,2]
        [--epochs N] [--rows hw-atiste,hw-ste,hw-reste,paper-atiste,hw-fp] [--jobs N] [--threads 1]
        [--hidden C] [--blocks N] [--sensor worldview3|quickbird] [--out DIR]

Rows (learned, one training per seed):
  ``hw-atiste``     hardware profile + ATISTE (the network the accelerator runs)
  ``hw-ste``        hardware profile + sign-STE (BNN's clipped identity)
  ``hw-reste``      hardware profile + ReSTE
  ``paper-atiste``  paper profile + ATISTE
  ``hw-fp``         the hardware profile's full-precision twin (``model.binary: false``: the same
                    network, fixed-point/int8 parts included, every binarisation the identity)
  ``s2bnet-hw``     S2BNet-style hardware profile (configs/s2bnet.yaml: C 64, 4 blocks) + ATISTE
  ``bnnpan-hw``     BNNPan-style hardware profile (configs/bnnpan.yaml: C 32, 4 PIBF) + ATISTE
                    (the last two are not in the default rows: ``--rows hw-atiste,s2bnet-hw,bnnpan-hw``;
                    ``--hidden`` / ``--blocks`` override their widths too)
and, from the evaluation of the same test split (deterministic, no seed): GSA, MTF-GLP, bicubic
(the LMS) and bilinear (the hardware upsampler).

Same data, budget and seeds for every row: each scene is prepared once with Wald's protocol and
the default data settings (configs/default.yaml: ratio 4, GNyq 0.3, 32x32 train/val/test patches,
dihedral augmentation; data seed = the config's seed), every (row, seed) trains on that folder with
the default model and recipe (configs/default.yaml: C 64, 2 blocks, Adam, cosine restarts t0 25)
for the same epoch budget and training seed, and is scored (its best-validation checkpoint) on the
same test split with the same metrics (quant_models.evaluate: PSNR, CC, SSIM, SAM, ERGAS averaged
over the test patches). Tables: rows = methods, columns PSNR CC SSIM SAM ERGAS as mean +- std over
the seeds (std = sample standard deviation, n - 1), one per scene, in the layout of the paper's
Table 1 (category, method, type US/S, an "Ideal values" row). A summary checks the goals: binary
hardware profile (hw-atiste) within 0.5 dB PSNR and 0.3 deg SAM of its full-precision twin; ATISTE
ahead of sign-STE and ReSTE (a difference smaller than the seeds' combined spread is reported as
within noise); which rows beat GSA, MTF-GLP and bicubic.

Parallel jobs (issue 11 item 5): the trainings run through the training-job engine of
quant_models/jobs.py (the one ``hsbinet sweep`` uses) as ``--jobs`` worker processes (fresh
interpreters ``python -m quant_models.jobs --worker`` fed one job at a time over a pipe, the
worker-pool idea of sim/parallel.py); ``--jobs 1`` runs them in this process. Each job is seeded
(training seed, data loader and augmentation from the seed), so a job's result does not depend on
``--jobs``, on the order of the jobs or on which worker ran it. It does depend on the number of
torch threads: torch's CPU convolutions sum in a thread-count-dependent order, and a binary network
turns the last-bit differences into sign flips (measured: 1 and 2 threads give different
validation losses from the first epoch on). Hence ``--threads`` (torch threads per job) defaults to
1, not to cores // jobs: results then do not depend on --jobs, and on the 2-core reference machine
one thread per job is also the better use of the cores (measured while other work shared them: 2
epochs of hw-atiste took 5.6 s with 1 thread, 48 s with 2). Each run records its thread count;
resuming a folder with another setting is refused.

Resumable: a (scene, row, seed) whose result.json exists with the same setting is not run again;
the data of a scene are prepared once. Writes DIR/accuracy.json (every run's metrics, the
settings, seeds, threads, wall times, the git commit), DIR/accuracy.md (the tables and the
summary) and DIR/accuracy.png (PSNR and SAM per row and scene, error bars = std over seeds).

Budget (the default run: 3 scenes x 5 rows x 3 seeds = 45 trainings): the epoch budget is
configs/default.yaml's ``train.epochs`` (75; cosine cycles end at 25 and 75), so the benchmark scores
the network the demo trains. Measured on the idle 2-core reference machine (2026-12-02, 2 jobs x 1
thread): 5,802 s = 96.7 min wall, 7 % over the 90 min target; per training (train + evaluation,
seconds) hw-atiste 265, hw-ste 242, hw-reste 260, paper-atiste 331, hw-fp 186 on average. Stopping
earlier would score models in the middle of a cosine cycle, at a high learning rate, so the default
stays. On cores shared with other work the wall time grows accordingly (every result records
``train_cpu_s`` and ``train_s``).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python benchmarks/accuracy.py` from anywhere
    sys.path.insert(0, str(ROOT))

# The training-job engine (worker processes, resumable result.json per run) and the statistics.
from quant_models.jobs import KEYS, aggregate, mean_std, run_jobs  # noqa: E402,F401
from quant_models.jobs import cores as _cores  # noqa: E402

SHARED_DATA = ROOT.parent / 'shared' / 'data'
DEFAULT_SCENES = ('abu_urban3', 'pavia_centre', 'san_diego')
HIGHER_IS_BETTER = {'psnr': True, 'cc': True, 'ssim': True, 'sam': False, 'ergas': False}
IDEAL = {'psnr': '+inf', 'cc': '1', 'ssim': '1', 'sam': '0', 'ergas': '0'}

#: Learned rows: name -> label, paper Table 1 category, model-section overrides.
ROWS = {
    'hw-atiste': {'label': 'HS-BiNet hardware + ATISTE', 'category': 'Binary',
                  'model': {'profile': 'hardware', 'estimator': 'atiste'}},
    'hw-ste': {'label': 'HS-BiNet hardware + sign-STE', 'category': 'Binary',
               'model': {'profile': 'hardware', 'estimator': 'ste'}},
    'hw-reste': {'label': 'HS-BiNet hardware + ReSTE', 'category': 'Binary',
                 'model': {'profile': 'hardware', 'estimator': 'reste'}},
    'paper-atiste': {'label': 'HS-BiNet paper + ATISTE', 'category': 'Binary',
                     'model': {'profile': 'paper', 'estimator': 'atiste'}},
    'hw-fp': {'label': 'HS-BiNet hardware, full-precision twin', 'category': 'Full-precision',
              'model': {'profile': 'hardware', 'estimator': 'atiste', 'binary': False}},
    # the other binary pan-sharpeners at their configs/*.yaml settings (issue 12; not in the default rows)
    's2bnet-hw': {'label': 'S2BNet-style hardware + ATISTE', 'category': 'Binary',
                  'model': {'arch': 's2bnet', 'profile': 'hardware', 'estimator': 'atiste', 'hidden': 64, 'blocks': 4,
                            'levels': 0}},
    'bnnpan-hw': {'label': 'BNNPan-style hardware + ATISTE', 'category': 'Binary',
                  'model': {'arch': 'bnnpan', 'profile': 'hardware', 'estimator': 'atiste', 'hidden': 32,
                            'blocks': 4}},
}
DEFAULT_ROWS = ('hw-atiste', 'hw-ste', 'hw-reste', 'paper-atiste', 'hw-fp')
#: Rows of the evaluation itself (quant_models.evaluate method name -> label, category, type).
CLASSICAL = {
    'bicubic': ('bicubic (LMS)', 'Interpolation', '-'),
    'bilinear': ('bilinear', 'Interpolation', '-'),
    'gsa': ('GSA', 'Full-precision', 'US'),
    'mtf_glp': ('MTF-GLP', 'Full-precision', 'US'),
}
ESTIMATOR_NAMES = {'hw-ste': 'sign-STE', 'hw-reste': 'ReSTE'}
#: Table order, as in the paper: full-precision methods, then the binary ones, ours last.
TABLE_ORDER = ('bicubic', 'bilinear', 'gsa', 'mtf_glp', 'hw-fp', 'bnnpan-hw', 's2bnet-hw', 'paper-atiste', 'hw-ste',
               'hw-reste', 'hw-atiste')


# ------------------------------------------------------------------------------------------- scenes

def resolve_scene(scene: str) -> tuple[str, str]:
    """(what load_cube reads, a short tag): an existing path; a file of ../shared/data by name or by
    unique prefix (``abu_urban3``); else the name as given (an embedded scene, ``path.mat:key``)."""
    p = Path(scene.split(':')[0])
    if p.is_file():
        return scene, p.stem
    if SHARED_DATA.is_dir():
        exact = SHARED_DATA / scene
        if exact.is_file():
            return str(exact), exact.stem
        matches = sorted(q for q in SHARED_DATA.iterdir() if q.name.startswith(scene) and q.suffix in ('.mat', '.npy'))
        if len(matches) == 1:
            return str(matches[0]), matches[0].stem
    return scene, Path(scene.split(':')[0]).stem or scene


def prepare_scene(scene: str, data_dir: Path, data_cfg, seed: int) -> dict:
    """Wald's protocol once per scene (skipped when data_dir holds it for the same source and settings)."""
    from quant_models.common import atomic_write_json
    from quant_models.data.prepare import prepare_dataset
    record = data_dir / 'data.json'
    want = {'scene': scene, 'data': asdict(data_cfg), 'seed': seed}
    if record.is_file() and all((data_dir / f'{s}.h5').is_file() for s in ('train', 'val', 'test')):
        old = json.loads(record.read_text())
        if old.get('setting') == want:
            return old['summary']
    s = prepare_dataset(scene, data_dir, seed=seed, log=None, **asdict(data_cfg))
    summary = {k: s[k] for k in ('source', 'source_sha256', 'cube_shape', 'patch_counts', 'shapes', 'regions',
                                 'patch_size', 'stride', 'augment') if k in s}
    atomic_write_json(record, {'setting': want, 'summary': summary}, indent=1)
    return json.loads(record.read_text())['summary']


# ---------------------------------------------------------------------------------------- statistics

def _better(key: str, a: float, b: float) -> bool:
    return a > b if HIGHER_IS_BETTER[key] else a < b


def goals(rows: dict) -> dict:
    """The benchmark's questions for one scene, from the aggregated rows (learned and classical)."""
    g: dict = {}
    m = lambda r, k: rows[r]['mean'][k]  # noqa: E731
    s = lambda r, k: rows[r]['std'][k]  # noqa: E731
    if 'hw-atiste' in rows and 'hw-fp' in rows:
        gp, gs = m('hw-fp', 'psnr') - m('hw-atiste', 'psnr'), m('hw-atiste', 'sam') - m('hw-fp', 'sam')
        g['binary_vs_fp'] = {'psnr_gap_db': gp, 'sam_gap_deg': gs, 'psnr_ok': gp <= 0.5, 'sam_ok': gs <= 0.3,
                             'met': gp <= 0.5 and gs <= 0.3}
    if 'hw-atiste' in rows:
        est = {}
        for other in ('hw-ste', 'hw-reste'):
            if other not in rows:
                continue
            e = {}
            for k in ('psnr', 'sam'):
                d = (m('hw-atiste', k) - m(other, k)) * (1 if HIGHER_IS_BETTER[k] else -1)  # > 0: ATISTE better
                noise = math.hypot(s('hw-atiste', k), s(other, k))
                e[k] = {'advantage': d, 'seed_spread': noise,
                        'verdict': 'within noise' if abs(d) <= noise else ('ahead' if d > 0 else 'behind')}
            e['ahead'] = e['psnr']['advantage'] > 0 and e['sam']['advantage'] > 0
            est[other] = e
        g['atiste_vs'] = est
    learned = [r for r in rows if r in ROWS]
    g['beats'] = {r: {base: {k: _better(k, m(r, k), m(base, k)) for k in ('psnr', 'sam')}
                      for base in ('gsa', 'mtf_glp', 'bicubic') if base in rows} for r in learned}
    return g


# ------------------------------------------------------------------------------------------- output

def _cell(row: dict, k: str) -> str:
    if row['n'] > 1:
        return f'{row["mean"][k]:.3f} ± {row["std"][k]:.3f}'
    return f'{row["mean"][k]:.3f}'


def scene_table(tag: str, rows: dict, seeds: list[int]) -> str:
    """One scene in the layout of the paper's Table 1 (category, method, type, five metrics, ideal values)."""
    lines = [f'**{tag}** (learned rows: mean ± std over seeds {",".join(map(str, seeds))}; '
             'classical rows: deterministic)', '',
             '| Category | Method | Type | PSNR | CC | SSIM | SAM | ERGAS |', '|---|---|---|---|---|---|---|---|']
    for name in TABLE_ORDER:
        if name not in rows:
            continue
        r = rows[name]
        cells = ' | '.join(_cell(r, k) for k in KEYS)
        lines.append(f'| {r["category"]} | {r["label"]} | {r["type"]} | {cells} |')
    lines.append('| Ideal values | | | ' + ' | '.join(IDEAL[k] for k in KEYS) + ' |')
    return '\n'.join(lines)


def summary_text(per_scene: dict) -> str:
    lines = ['**Goals**', '']
    for tag, g in per_scene.items():
        parts = []
        b = g.get('binary_vs_fp')
        if b:
            parts.append(f'binary hw-atiste vs its full-precision twin: PSNR gap {b["psnr_gap_db"]:+.3f} dB '
                         f'(goal <= 0.5: {"met" if b["psnr_ok"] else "missed"}), SAM gap {b["sam_gap_deg"]:+.3f} deg '
                         f'(goal <= 0.3: {"met" if b["sam_ok"] else "missed"})')
        for other, e in g.get('atiste_vs', {}).items():
            p, q = e['psnr'], e['sam']
            parts.append(f'ATISTE vs {ESTIMATOR_NAMES[other]}: PSNR {p["advantage"]:+.3f} dB ({p["verdict"]}, seed '
                         f'spread {p["seed_spread"]:.3f}), SAM {q["advantage"]:+.3f} deg better ({q["verdict"]}, seed '
                         f'spread {q["seed_spread"]:.3f})')
        beat = []
        for r, bases in g.get('beats', {}).items():
            won = [base for base, v in bases.items() if v['psnr'] and v['sam']]
            beat.append(f'{r}: {", ".join(won) if won else "none"}')
        if beat:
            parts.append('beats in both PSNR and SAM (means) - ' + '; '.join(beat))
        lines.append(f'- {tag}:')
        lines += [f'  - {p}' for p in parts]
    n = len(per_scene)
    fp = [g['binary_vs_fp']['met'] for g in per_scene.values() if 'binary_vs_fp' in g]
    if fp:
        lines.append(f'- binary within 0.5 dB / 0.3 deg of its full-precision twin: {sum(fp)}/{len(fp)} scenes')
    for other in ('hw-ste', 'hw-reste'):
        a = [g['atiste_vs'][other]['ahead'] for g in per_scene.values() if other in g.get('atiste_vs', {})]
        if a:
            lines.append(f'- ATISTE ahead of {ESTIMATOR_NAMES[other]} in mean PSNR and SAM: {sum(a)}/{len(a)} scenes')
    return '\n'.join(lines) if n else ''


def plot(report: dict, path: Path) -> Path:
    """PSNR and SAM per row and scene (bars = mean, error bars = std over seeds)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from quant_models.common import atomic_write
    scenes = list(report['scenes'])
    names = [n for n in TABLE_ORDER if any(n in report['scenes'][s]['rows'] for s in scenes)]
    fig = Figure(figsize=(max(7.0, 1.2 * len(scenes) * len(names) / 3 + 3), 6.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True)
    width = 0.8 / max(len(names), 1)
    colours = {'bicubic': '#bbbbbb', 'bilinear': '#dddddd', 'gsa': '#8c8c8c', 'mtf_glp': '#5f5f5f',
               'hw-fp': '#2ca02c', 'paper-atiste': '#9467bd', 'hw-ste': '#ff7f0e', 'hw-reste': '#d62728',
               'hw-atiste': '#1f77b4'}
    x = np.arange(len(scenes))
    for ax, key, unit in ((axes[0], 'psnr', 'PSNR (dB, higher is better)'),
                          (axes[1], 'sam', 'SAM (deg, lower is better)')):
        for i, n in enumerate(names):
            mean = [report['scenes'][s]['rows'].get(n, {}).get('mean', {}).get(key, np.nan) for s in scenes]
            std = [report['scenes'][s]['rows'].get(n, {}).get('std', {}).get(key, 0.0) for s in scenes]
            label = ROWS[n]['label'] if n in ROWS else CLASSICAL[n][0]
            ax.bar(x - 0.4 + (i + 0.5) * width, mean, width, yerr=std if n in ROWS else None, capsize=2,
                   color=colours.get(n),
                   label=label if key == 'psnr' else None, edgecolor='k', linewidth=0.3)
        vals = [report['scenes'][s]['rows'][n]['mean'][key] for s in scenes for n in names
                if n in report['scenes'][s]['rows']]
        if vals:
            lo, hi = min(vals), max(vals)
            pad = 0.15 * (hi - lo) + 1e-3
            ax.set_ylim(lo - pad if key == 'psnr' else max(0.0, lo - pad), hi + pad)
        ax.set_ylabel(unit)
        ax.grid(axis='y', alpha=0.3)
    axes[1].set_xticks(x)
    axes[1].set_xticklabels(scenes, fontsize=8)
    axes[0].legend(fontsize=7, ncol=3, loc='lower left', bbox_to_anchor=(0, 1.02))
    st = report['setting']
    fig.suptitle(f'{st["epochs"]} epochs, seeds {",".join(map(str, st["seeds"]))}, {widths_text(st)}', fontsize=8,
                 y=0.995)
    fig.tight_layout()
    return atomic_write(path, lambda p: fig.savefig(p, format='png', dpi=110))


def widths_text(setting: dict) -> str:
    """'C=64, 2 blocks' of the HS-BiNet rows, plus each other architecture's row width."""
    m = setting['model']
    return (f'C={m["hidden"]}, {m["blocks"]} blocks' + ''.join(
        f'; {r}: C={c}, {b} blocks' for r, (c, b) in (setting.get('row_widths') or {}).items()))


def _git_commit() -> dict:
    try:
        head = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'], cwd=ROOT, capture_output=True,
                               text=True, timeout=10)
        if head.returncode == 0:
            return {'commit': head.stdout.strip(), 'dirty': bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        pass
    return {'commit': None, 'dirty': None}


# --------------------------------------------------------------------------------------------- main

def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(',') if t.strip()]


def parse_args(argv=None) -> argparse.Namespace:
    from build_flows.config import load_config
    default_epochs = load_config().train.epochs
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--scenes', default=','.join(DEFAULT_SCENES),
                   help='comma-separated scenes: load_cube paths, ../shared/data files by name or prefix, or '
                        'embedded names (indian_pines)')
    p.add_argument('--seeds', default='0,1,2', help='comma-separated training seeds (>= 3 for mean +- std)')
    p.add_argument('--epochs', type=int, default=default_epochs,
                   help=f'epoch budget of every training (default: configs/default.yaml, {default_epochs})')
    p.add_argument('--rows', default=','.join(DEFAULT_ROWS),
                   help='comma-separated learned rows (default: ' + ','.join(DEFAULT_ROWS) + '): ' + ', '.join(ROWS))
    p.add_argument('--jobs', type=int, default=_cores(),
                   help='parallel training processes (default: one per core); 1 = in this process')
    p.add_argument('--threads', type=int, default=1,
                   help='torch threads per job (default 1; results are identical for equal --threads, whatever --jobs)')
    p.add_argument('--sensor', default=None, help='multispectral setting: every scene seen through this sensor\'s '
                   'band passes (data.sensor: worldview3 | quickbird; needs wavelengths, e.g. indian_pines)')
    p.add_argument('--hidden', type=int, default=None, help='hidden width C (default: configs/default.yaml)')
    p.add_argument('--blocks', type=int, default=None, help='residual blocks (default: configs/default.yaml)')
    p.add_argument('--out', default=None, help='output folder (default: a new temporary folder)')
    return p.parse_args(argv)


def main(argv=None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['--worker']:  # kept for old command lines; the engine's workers are quant_models.jobs
        from quant_models.jobs import _serve
        _serve()
        return {}
    a = parse_args(argv)
    from build_flows.config import load_config, model_config
    from quant_models.common import HsbinetError, atomic_write_json, atomic_write_text
    rows = _csv(a.rows)
    unknown = [r for r in rows if r not in ROWS]
    if unknown or not rows:
        raise HsbinetError('Unknown benchmark row', key='--rows', expected='some of ' + ', '.join(ROWS),
                           found=', '.join(unknown) or 'none')
    try:
        seeds = [int(s) for s in _csv(a.seeds)]
    except ValueError:
        raise HsbinetError('Seeds must be integers', key='--seeds', found=a.seeds) from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise HsbinetError('Seeds must be distinct integers', key='--seeds', found=a.seeds)
    for k in ('epochs', 'jobs', 'threads'):
        if getattr(a, k) < 1:
            raise HsbinetError('Benchmark setting must be >= 1', key=f'--{k}', found=repr(getattr(a, k)))
    out = Path(a.out or tempfile.mkdtemp(prefix='hsbinet_accuracy_'))
    out.mkdir(parents=True, exist_ok=True)
    model_over = {k: v for k, v in (('hidden', a.hidden), ('blocks', a.blocks)) if v is not None}
    base = load_config(None, {'model': model_over, 'train': {'epochs': a.epochs, 'time_budget_min': None},
                              'data': {'sensor': a.sensor}})
    t_start = time.time()

    scenes: dict[str, dict] = {}
    specs, done = [], {}
    for scene in _csv(a.scenes):
        source, tag = resolve_scene(scene)
        if a.sensor:  # the multispectral setting of the same cube is another scene of the tables
            tag = f'{tag}-{a.sensor}'
        if tag in scenes:
            raise HsbinetError('The same scene twice', key='--scenes', found=scene)
        data_dir = out / tag / 'data'
        t = time.perf_counter()
        ds = prepare_scene(source, data_dir, base.data, base.seed)
        bands = int(ds['shapes']['train']['MS'][1])
        scenes[tag] = {'source': source, 'data': ds, 'data_dir': str(data_dir),
                       'prepare_s': round(time.perf_counter() - t, 2)}
        for row in rows:
            cfg = load_config(None, {'model': {**ROWS[row]['model'], **model_over}})
            mcfg = model_config(cfg, bands)
            for seed in seeds:
                tcfg = replace(base.train, seed=seed, threads=a.threads, epochs=a.epochs, time_budget_min=None)
                run_dir = out / tag / row / f'seed{seed}'
                spec = {'name': f'{tag}/{row}/seed{seed}', 'scene': tag, 'row': row, 'seed': seed,
                        'data_dir': str(data_dir), 'run_dir': str(run_dir), 'model': mcfg.to_dict(),
                        'train': asdict(tcfg)}
                res = run_dir / 'result.json'
                if res.is_file():
                    old = json.loads(res.read_text())
                    if old['spec']['model'] != spec['model'] or old['spec']['train'] != spec['train']:
                        want = {k: spec[k] for k in ('model', 'train')}
                        raise HsbinetError('The output folder holds a result of another setting', file=str(res),
                                           key='model/train', expected=json.dumps(want),
                                           found=json.dumps({k: old['spec'][k] for k in ('model', 'train')}),
                                           hint='use another --out, or the setting it was run with')
                    done[spec['name']] = old
                else:
                    specs.append(spec)

    jobs = min(a.jobs, max(len(specs), 1))
    cores = _cores()
    print(f'{len(specs) + len(done)} trainings ({len(done)} already done) of {a.epochs} epochs: '
          f'{len(scenes)} scenes x {len(rows)} rows x {len(seeds)} seeds; {jobs} parallel job(s) x {a.threads} '
          f'torch thread(s) on {cores} cores; out {out}', flush=True)

    def on_done(spec: dict, result: dict) -> None:
        done[spec['name']] = result

    t_jobs = time.perf_counter()
    run_jobs(specs, jobs, a.threads, out / 'workers', on_done)  # a tqdm bar over the trainings
    jobs_wall = time.perf_counter() - t_jobs

    report = {'setting': {'scenes': list(scenes), 'rows': rows, 'seeds': seeds, 'epochs': a.epochs,
                          'jobs': jobs, 'threads_per_job': a.threads, 'cores': cores,
                          'data': asdict(base.data), 'data_seed': base.seed,
                          'model': {k: v for k, v in asdict(base.model).items() if k not in ('bands', 'ratio')},
                          # rows of another architecture train at their own width (ROWS)
                          'row_widths': {r: [m['hidden'], m['blocks']] for r in rows if 'arch' in ROWS[r]['model']
                                         for m in [{**ROWS[r]['model'], **model_over}]},
                          'sensor': a.sensor,
                          'train': {k: v for k, v in asdict(base.train).items() if k not in ('seed', 'threads')},
                          'std': 'sample standard deviation over seeds (n - 1)',
                          'checkpoint_scored': 'best validation loss', **_git_commit()},
              'scenes': {}, 'goals': {},
              'wall_s': {'total': round(time.time() - t_start, 1), 'trainings_this_call': round(jobs_wall, 1),
                         'trainings_run_this_call': len(specs)}}
    texts = []
    for tag, sc in scenes.items():
        runs = {row: [done[f'{tag}/{row}/seed{s}'] for s in seeds] for row in rows}
        agg = {}
        first = runs[rows[0]][0]
        for m, (label, cat, typ) in CLASSICAL.items():
            if m in first['classical']:
                agg[m] = {'label': label, 'category': cat, 'type': typ, 'n': 1, 'seeds': [],
                          'mean': dict(first['classical'][m]), 'std': {k: 0.0 for k in KEYS}}
        consistent = all(r['classical'] == first['classical'] for rr in runs.values() for r in rr)
        for row in rows:
            agg[row] = {'label': ROWS[row]['label'], 'category': ROWS[row]['category'], 'type': 'S',
                        **aggregate(runs[row]),
                        'runs': [{k: r.get(k) for k in ('metrics', 'epochs_completed', 'best_epoch', 'best_val_loss',
                                                        'stopped_by', 'train_s', 'eval_s', 'train_cpu_s', 'eval_cpu_s',
                                                        'torch_threads', 'checkpoint')}
                                 | {'seed': r['spec']['seed']} for r in runs[row]],
                        'train_s_mean': mean_std([r['train_s'] for r in runs[row]])[0]}
        report['scenes'][tag] = {'source': sc['source'], 'data': sc['data'], 'prepare_s': sc['prepare_s'],
                                 'classical_identical_in_every_run': consistent, 'rows': agg}
        report['goals'][tag] = goals(agg)
        texts.append(scene_table(tag, agg, seeds))
    head = (f'Accuracy benchmark (paper Table 1 layout): {a.epochs} epochs per training, seeds '
            f'{",".join(map(str, seeds))}, {widths_text(report["setting"])}, '
            f'{"sensor " + a.sensor + ", " if a.sensor else ""}'
            f'data {base.data.patch}x{base.data.patch} patches (test {base.data.test_patch}), ratio {base.data.ratio}; '
            f'{jobs} job(s) x {a.threads} thread(s); commit {str(report["setting"]["commit"])[:12]}'
            + (' (dirty)' if report['setting']['dirty'] else ''))
    text = '\n\n'.join([head, *texts, summary_text(report['goals'])])
    print(text)
    atomic_write_text(out / 'accuracy.md', text + '\n')
    fig = plot(report, out / 'accuracy.png')
    report['figure'] = str(fig)
    atomic_write_json(out / 'accuracy.json', report, indent=1)
    print(f'wrote {out / "accuracy.md"}, accuracy.json, accuracy.png')
    return report


if __name__ == '__main__':
    from quant_models.common import HsbinetError as _E
    try:
        main()
    except _E as e:
        print(f'error: {e.paragraph()}', file=sys.stderr)
        raise SystemExit(2) from None

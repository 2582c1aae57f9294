"""Training jobs: one engine that runs many seeded trainings (and their evaluations) as parallel
worker processes, resumable run by run. Used by ``hsbinet sweep`` (:func:`sweep`: estimator x seed x
hidden width on one prepared data folder) and by ``benchmarks/accuracy.py`` (the paper's Table 1).

A *job spec* is a JSON-safe dict (it travels to worker processes over a pipe)::

    {'name': 'atiste/C64/seed0',          # names the run in progress lines and errors
     'model': {...},                      # HSBiNetConfig.to_dict() (bands and ratio included)
     'train': {...},                      # asdict(TrainConfig), ``threads`` = the engine's threads
     'data_dir': '.../data',              # train.h5, val.h5 (and test.h5 when evaluated)
     'run_dir': '.../atiste/C64/seed0',   # checkpoints, eval/, result.json
     'evaluate': True,                    # score the best checkpoint on data_dir/test.h5 (default true)
     ...}                                 # anything else the caller wants back (seed, row, ...)

:func:`run_job` trains one spec, evaluates its best-validation checkpoint (PSNR, CC, SSIM, SAM, ERGAS
of HS-BiNet and of the evaluation's classical baselines) and writes ``run_dir/result.json``
atomically, last: a run with a result.json is finished. A result.json whose spec has the same
setting (:data:`SETTING_KEYS`) is reused instead of training again (resumable); one of another
setting is refused, so a folder never mixes settings.

:func:`run_jobs` runs many specs: in this process (``jobs`` 1) or in ``jobs`` worker processes
(fresh interpreters ``python -m quant_models.jobs --worker``, each taking the next pending spec when
it is free, the worker-pool idea of sim/parallel.py), with a tqdm bar over the jobs. Every job is
seeded (training seed; data order and augmentation from (seed, epoch)), so its result does not depend
on ``jobs``, on the order of the jobs or on which worker ran it. It does depend on the number of
torch threads: torch's CPU convolutions sum in a thread-count-dependent order, and a binary network
turns the last-bit differences into sign flips (1 and 2 threads give different validation losses from
the first epoch on). Hence every job runs with ``threads`` torch threads (``train.threads``, and
OMP/MKL/OPENBLAS_NUM_THREADS in the workers), 1 by default in the callers, not cores // jobs. A failed
job stops the others and raises :class:`HsbinetError` naming the run and the log with its traceback;
finished runs keep their result.json, so running the same specs again resumes.
"""

from __future__ import annotations

import json
import math
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Callable

from quant_models.common import HsbinetError, atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
KEYS = ('psnr', 'cc', 'ssim', 'sam', 'ergas')
#: The spec keys that decide a run's result (with their value when a spec lacks the key): a stored
#: result.json is reused when its spec agrees on all of them.
SETTING_KEYS = {'model': None, 'train': None, 'evaluate': True, 'data_sha256': None}
ESTIMATOR_LABELS = {'atiste': 'ATISTE', 'ste': 'sign-STE', 'reste': 'ReSTE'}
CLASSICAL_LABELS = {'bicubic': 'bicubic (LMS)', 'bilinear': 'bilinear', 'gsa': 'GSA', 'mtf_glp': 'MTF-GLP'}

OnDone = Callable[[dict, dict], None]


# --------------------------------------------------------------------------------------------- jobs

def job_spec(name: str, model, train, data_dir, run_dir, evaluate: bool = True, **extra) -> dict:
    """A JSON-safe job spec from an HSBiNetConfig (or dict), a TrainConfig (or dict) and two folders."""
    m = model.to_dict() if hasattr(model, 'to_dict') else dict(model)
    t = asdict(train) if is_dataclass(train) else dict(train)
    return {'name': name, **extra, 'data_dir': str(data_dir), 'run_dir': str(run_dir), 'model': m, 'train': t,
            'evaluate': bool(evaluate)}


def setting(spec: dict) -> dict:
    return {k: spec.get(k, default) for k, default in SETTING_KEYS.items()}


def stored_result(spec: dict) -> dict | None:
    """The result.json of ``spec``'s run folder when it holds the same setting; None when there is
    none; a folder holding another setting is refused (one paragraph naming the file)."""
    res = Path(spec['run_dir']) / 'result.json'
    if not res.is_file():
        return None
    try:
        old = json.loads(res.read_text())
        old_setting = setting(old['spec'])
    except (ValueError, KeyError, TypeError):
        raise HsbinetError('Unreadable result of a finished run', file=str(res),
                           hint='delete it to run that training again') from None
    new_setting = setting(spec)
    if old_setting != new_setting:
        want, found = _differences(new_setting, old_setting), _differences(old_setting, new_setting)
        raise HsbinetError('The output folder holds a result of another setting', file=str(res),
                           key=', '.join(sorted(set(want) | set(found))), expected=json.dumps(want),
                           found=json.dumps(found), hint='Use another --out, or the setting it was run with')
    return old


def _differences(a: dict, b: dict, prefix: str = '') -> dict:
    """The dotted keys of ``a`` whose values differ in ``b``, with ``a``'s values (one level of sections)."""
    out = {}
    for k, v in a.items():
        w = b.get(k) if isinstance(b, dict) else None
        if v == w:
            continue
        if isinstance(v, dict) and isinstance(w, dict) and not prefix:
            out.update(_differences(v, w, f'{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


def run_job(spec: dict) -> dict:
    """Train one spec, evaluate its best checkpoint on data_dir/test.h5 (``evaluate``), write
    run_dir/result.json; a finished run of the same setting is returned as stored, not retrained."""
    old = stored_result(spec)
    if old is not None:
        return old
    import torch

    from quant_models.archs import model_config_from_dict
    from quant_models.train import TrainConfig, train

    quiet = lambda _m: None  # noqa: E731
    run_dir = Path(spec['run_dir'])
    model = model_config_from_dict(spec['model'])  # validated: the JSON lists become tuples
    t0, c0 = time.perf_counter(), time.process_time()
    r = train(model, TrainConfig(**spec['train']), spec['data_dir'], run_dir, progress=False, log=quiet)
    t1, c1 = time.perf_counter(), time.process_time()
    metrics = classical = eval_s = eval_cpu_s = None
    if spec.get('evaluate', True):
        from quant_models.evaluate import evaluate
        rep = evaluate(r['best'], Path(spec['data_dir']) / 'test.h5', run_dir / 'eval', log=quiet)
        t2, c2 = time.perf_counter(), time.process_time()
        metrics = {k: rep['methods']['hsbinet'][k] for k in KEYS}
        classical = {m: {k: v[k] for k in KEYS} for m, v in rep['methods'].items() if m != 'hsbinet'}
        eval_s, eval_cpu_s = round(t2 - t1, 2), round(c2 - c1, 2)
    best_epoch = min(r['history'], key=lambda h: h['val_loss'])['epoch'] if r['history'] else None
    result = {
        'spec': spec, 'metrics': metrics, 'classical': classical,
        'epochs_completed': r['epochs_completed'], 'best_epoch': best_epoch, 'best_val_loss': r['best_val_loss'],
        'stopped_by': r['stopped_by'], 'steps_per_epoch': r['steps_per_epoch'], 'checkpoint': r['best'],
        'train_s': round(t1 - t0, 2), 'eval_s': eval_s, 'torch_threads': torch.get_num_threads(),
        # CPU seconds of this process: on a shared machine, the wall time an idle core would take (1 thread)
        'train_cpu_s': round(c1 - c0, 2), 'eval_cpu_s': eval_cpu_s,
        'pid': os.getpid(),
    }
    last = Path(r['last'])
    if last.is_file() and last != Path(r['best']):
        last.unlink()  # best.pt (the evaluated one) is kept; last.pt only served resuming mid-training
    atomic_write_json(run_dir / 'result.json', result, indent=1)
    return result


def _message(e: BaseException) -> str:
    return e.paragraph() if isinstance(e, HsbinetError) else f'{type(e).__name__}: {e}'.replace('\n', ' ')


def _serve() -> None:
    """A worker process (``python -m quant_models.jobs --worker``): one JSON job spec per line on
    stdin, one JSON reply ``{"ok": bool, "result" | "error", "message"}`` per line on the stdout it
    was started with; everything else (and a failed job's traceback) goes to stderr, the worker's log."""
    reply = os.fdopen(os.dup(1), 'w')
    os.dup2(2, 1)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out = {'ok': True, 'result': run_job(json.loads(line))}
        except BaseException as e:  # noqa: BLE001 - every failure goes back to the parent
            tb = traceback.format_exc()
            print(tb, file=sys.stderr, flush=True)
            out = {'ok': False, 'error': tb, 'message': _message(e)}
        reply.write(json.dumps(out) + '\n')
        reply.flush()


def _failed(name: str, message: str, log: Path, where: str = '') -> HsbinetError:
    return HsbinetError(f'Training job {name} failed{where}', file=str(log), found=message,
                        hint='The log holds the traceback; finished runs keep their result.json, so running the '
                             'same command again resumes')


def run_jobs(specs: list[dict], jobs: int, threads: int, log_dir: str | Path, on_done: OnDone | None = None,
             progress: bool = True) -> dict:
    """Run every spec with ``threads`` torch threads each: in this process (``jobs`` 1, or a single
    pending spec) or in ``jobs`` worker processes, each taking the next pending spec when it is free.
    Specs already finished with the same setting are not run again. ``on_done(spec, result)`` is
    called for every spec (the finished ones first, then in order of completion, serialised). A
    failed job stops the others and raises :class:`HsbinetError` naming the run and its log (worker
    logs: ``log_dir/worker<i>.log``; in this process: ``log_dir/jobs.log``). Returns
    ``{'ran': [names], 'skipped': [names]}``."""
    log_dir = Path(log_dir)
    for s in specs:
        if s['train'].get('threads') != threads:
            raise ValueError(f'job {s["name"]}: train.threads {s["train"].get("threads")} != threads {threads}')
    on_done = on_done or (lambda _s, _r: None)
    pending, skipped = [], []
    for s in specs:
        old = stored_result(s)
        if old is None:
            pending.append(s)
        else:
            skipped.append(s['name'])
            on_done(s, old)
    from tqdm import tqdm
    bar = tqdm(total=len(pending), desc='trainings', unit='job', disable=not pending or not progress)

    def done(s: dict, result: dict) -> None:
        on_done(s, result)
        bar.update(1)
        psnr = f' {result["metrics"]["psnr"]:.2f} dB' if result.get('metrics') else ''
        bar.set_postfix_str(f'{s["name"]}{psnr} {result["train_s"]:.0f} s')

    try:
        if jobs <= 1 or len(pending) <= 1:
            _in_process(pending, log_dir, done)
        else:
            _in_workers(pending, jobs, threads, log_dir, done)
    finally:
        bar.close()
    return {'ran': [s['name'] for s in pending], 'skipped': skipped}


def _in_process(specs: list[dict], log_dir: Path, done: OnDone) -> None:
    import torch
    before = torch.get_num_threads()  # train() sets the job's thread count in this process
    try:
        for s in specs:
            try:
                result = run_job(s)
            except Exception as e:  # noqa: BLE001 - reported as one paragraph, traceback in the log
                log_dir.mkdir(parents=True, exist_ok=True)
                log = log_dir / 'jobs.log'
                with open(log, 'a') as f:
                    f.write(f'{s["name"]}:\n{traceback.format_exc()}\n')
                raise _failed(s['name'], _message(e), log) from None
            done(s, result)
    finally:
        torch.set_num_threads(before)


def _in_workers(specs: list[dict], jobs: int, threads: int, log_dir: Path, done: OnDone) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    pending: queue.Queue = queue.Queue()
    for s in specs:
        pending.put(s)
    lock, errors = threading.Lock(), []
    n = str(threads)
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(p for p in (str(ROOT), os.environ.get('PYTHONPATH')) if p),
           'OMP_NUM_THREADS': n, 'OPENBLAS_NUM_THREADS': n, 'MKL_NUM_THREADS': n}

    def worker(i: int) -> None:
        log = log_dir / f'worker{i}.log'
        with open(log, 'a') as err:
            proc = subprocess.Popen([sys.executable, '-m', 'quant_models.jobs', '--worker'], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=err, env=env, text=True)
            try:
                while not errors:
                    try:
                        s = pending.get_nowait()
                    except queue.Empty:
                        break
                    try:
                        proc.stdin.write(json.dumps(s) + '\n')
                        proc.stdin.flush()
                        line = proc.stdout.readline()
                    except BrokenPipeError:
                        line = ''
                    if not line:
                        errors.append(_failed(s['name'], f'the worker died (exit status {proc.poll()})', log,
                                              f' in worker {i}'))
                        break
                    rep = json.loads(line)
                    if not rep['ok']:
                        errors.append(_failed(s['name'], rep['message'], log, f' in worker {i}'))
                        break
                    with lock:
                        done(s, rep['result'])
            finally:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
                if errors and proc.poll() is None:
                    proc.kill()
                proc.wait()
                proc.stdout.close()

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(min(jobs, len(specs)))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]


def cores() -> int:
    """CPU cores this process may run on (the affinity mask, e.g. a container's share)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------- statistics

def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1; 0 for one value)."""
    n = len(values)
    m = sum(values) / n
    return m, (math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0)


def aggregate(runs: list[dict]) -> dict:
    """Mean, std (n - 1) and the per-seed values of every metric over ``runs`` (results of one setting)."""
    out = {'n': len(runs), 'seeds': [r['spec']['seed'] for r in runs], 'mean': {}, 'std': {}, 'values': {}}
    for k in KEYS:
        vals = [float(r['metrics'][k]) for r in runs]
        out['mean'][k], out['std'][k] = mean_std(vals)
        out['values'][k] = vals
    return out


# -------------------------------------------------------------------------------------------- sweep

def _items(value, key: str, cast, what: str) -> list:
    """A comma-separated string (or a sequence) -> distinct, non-empty list of ``cast`` values."""
    text = value if isinstance(value, str) else ','.join(map(str, value))
    parts = [p.strip() for p in text.split(',') if p.strip()]
    try:
        items = [cast(p) for p in parts]
    except ValueError:
        raise HsbinetError(f'Sweep {what} must be integers', key=key, found=text) from None
    if not items or len(set(items)) != len(items):
        raise HsbinetError(f'Sweep {what} must be a non-empty list without repeats', key=key, found=text or 'none')
    return items


def sweep_axes(estimators, seeds, hidden) -> tuple[list[str], list[int], list[int]]:
    """Checked sweep axes (comma-separated strings or sequences): estimators of
    quant_models.estimators.ESTIMATORS, integer seeds, hidden widths >= 1."""
    from quant_models.estimators import ESTIMATORS
    est = _items(estimators, '--estimators', str, 'estimators')
    unknown = [e for e in est if e not in ESTIMATORS]
    if unknown:
        raise HsbinetError('Unknown estimator', key='--estimators', expected='some of ' + ', '.join(ESTIMATORS),
                           found=', '.join(unknown))
    sd = _items(seeds, '--seeds', int, 'seeds')
    hd = _items(hidden, '--hidden', int, 'hidden widths')
    bad = [c for c in hd if c < 1]
    if bad:
        raise HsbinetError('Hidden width must be positive', key='--hidden', expected='integers >= 1',
                           found=', '.join(map(str, bad)))
    return est, sd, hd


def check_data_dir(data_dir: str | Path) -> Path:
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise HsbinetError('Data folder not found', file=str(data_dir),
                           hint='run `hsbinet data --scene FILE --out DIR` first and pass --data DIR')
    missing = [f'{s}.h5' for s in ('train', 'val', 'test') if not (data_dir / f'{s}.h5').is_file()]
    if missing:
        raise HsbinetError('The data folder lacks a split', file=str(data_dir), expected='train.h5, val.h5, test.h5',
                           found='missing ' + ', '.join(missing),
                           hint='prepare it with `hsbinet data --scene FILE --out DIR`')
    return data_dir


def sweep(model_cfg, train_cfg, data_dir: str | Path, out: str | Path, estimators, seeds, hidden,
          jobs: int | None = None, threads: int = 1, log: Callable[[str], None] = print, progress: bool = True,
          source: str | None = None) -> dict:
    """Train and evaluate every (estimator, hidden width, seed) on one prepared data folder.

    ``model_cfg`` (HSBiNetConfig with the data's bands and ratio) and ``train_cfg`` (TrainConfig)
    give every other setting; the runs differ only in ``model.estimator``, ``model.hidden`` and
    ``train.seed``. Trainings go through :func:`run_jobs` (``jobs`` workers, default one per core;
    ``threads`` torch threads each) into ``out/<estimator>/C<hidden>/seed<seed>/`` (each with its
    result.json: the resumable state); ``out/sweep.json`` (every run's spec, metrics, best epoch,
    wall and CPU times, threads; the rows' mean and std; the classical baselines) and
    ``out/sweep.md`` (the table) are written once, at the end. ``train.time_budget_min`` is not used:
    a sweep's budget is its epochs, so that no result depends on machine load or on ``jobs``.
    """
    from dataclasses import replace
    est, sd, hd = sweep_axes(estimators, seeds, hidden)
    for k, v in (('--jobs', jobs), ('--threads', threads)):
        if v is not None and (not isinstance(v, int) or v < 1):
            raise HsbinetError('Sweep setting must be >= 1', key=k, found=repr(v))
    data_dir = check_data_dir(data_dir).resolve()
    out = Path(out).resolve()
    from quant_models.common import atomic_write_text, file_sha256
    data_sha = {s: file_sha256(data_dir / f'{s}.h5') for s in ('train', 'val', 'test')}
    tcfg_base = replace(train_cfg, threads=threads, time_budget_min=None).validate()
    specs = []
    for e in est:
        for c in hd:
            mcfg = replace(model_cfg, estimator=e, hidden=c).validate()
            for seed in sd:
                name = f'{e}/C{c}/seed{seed}'
                specs.append(job_spec(name, mcfg, replace(tcfg_base, seed=seed), data_dir, out / name, evaluate=True,
                                      estimator=e, hidden=c, seed=seed, data_sha256=data_sha))
    finished = [s['name'] for s in specs if stored_result(s) is not None]  # refuses another setting, before any run
    n_pending = len(specs) - len(finished)
    jobs = min(jobs or cores(), max(n_pending, 1))
    if train_cfg.time_budget_min is not None:
        log(f'train.time_budget_min = {train_cfg.time_budget_min} is not used by a sweep (budget: epochs)')
    log(f'{len(specs)} trainings ({len(finished)} already done) of {tcfg_base.epochs} epochs: {len(est)} estimators x '
        f'{len(hd)} hidden widths x {len(sd)} seeds; {jobs} parallel job(s) x {threads} torch thread(s) on {cores()} '
        f'cores; out {out}')
    results: dict[str, dict] = {}
    t0 = time.perf_counter()
    ran = run_jobs(specs, jobs, threads, out / 'workers', lambda s, r: results.__setitem__(s['name'], r),
                   progress=progress)
    wall = time.perf_counter() - t0

    runs = []
    for s in specs:
        r = results[s['name']]
        runs.append({'name': s['name'], 'estimator': s['estimator'], 'hidden': s['hidden'], 'seed': s['seed'],
                     **{k: r.get(k) for k in ('metrics', 'epochs_completed', 'best_epoch', 'best_val_loss',
                                              'stopped_by', 'train_s', 'eval_s', 'train_cpu_s', 'eval_cpu_s',
                                              'torch_threads', 'checkpoint')},
                     'run_dir': s['run_dir'], 'spec': r['spec']})
    rows = []
    for e in est:
        for c in hd:
            rr = [results[f'{e}/C{c}/seed{seed}'] for seed in sd]
            rows.append({'estimator': e, 'label': ESTIMATOR_LABELS.get(e, e), 'hidden': c, **aggregate(rr),
                         'best_epoch': [r['best_epoch'] for r in rr],
                         'train_s_mean': mean_std([r['train_s'] for r in rr])[0],
                         'train_cpu_s_mean': mean_std([r['train_cpu_s'] for r in rr])[0]})
    first = results[specs[0]['name']]['classical'] or {}
    classical = {m: {'label': CLASSICAL_LABELS.get(m, m), 'metrics': v} for m, v in first.items()}
    report = {
        'setting': {'data_dir': str(data_dir), 'data_sha256': data_sha, 'estimators': est, 'hidden': hd, 'seeds': sd,
                    'epochs': tcfg_base.epochs, 'jobs': jobs, 'threads_per_job': threads, 'cores': cores(),
                    'model': {k: v for k, v in model_cfg.to_dict().items() if k not in ('estimator', 'hidden')},
                    'train': {k: v for k, v in asdict(tcfg_base).items() if k not in ('seed', 'threads')},
                    'config': source, 'std': 'sample standard deviation over seeds (n - 1)',
                    'checkpoint_scored': 'best validation loss'},
        'runs': runs, 'rows': rows, 'classical': classical,
        'classical_identical_in_every_run': all(results[s['name']]['classical'] == first for s in specs),
        'wall_s': {'trainings_this_call': round(wall, 1), 'trainings_run_this_call': len(ran['ran'])},
    }
    text = sweep_table(report)
    log(text)
    atomic_write_text(out / 'sweep.md', text + '\n')
    atomic_write_json(out / 'sweep.json', report, indent=1)  # once, at the end: never a partial sweep
    log(f'wrote {out / "sweep.md"} and {out / "sweep.json"}')
    return report


def _cell(mean: float, std: float, n: int) -> str:
    return f'{mean:.3f} ± {std:.3f}' if n > 1 else f'{mean:.3f}'


def sweep_table(report: dict) -> str:
    """The sweep's Markdown: one row per (estimator, hidden) with mean ± std over the seeds, then the
    classical baselines of the same test split (deterministic)."""
    st = report['setting']
    m = st['model']
    head = (f'Sweep on {st["data_dir"]}: {st["epochs"]} epochs per training, seeds {",".join(map(str, st["seeds"]))}, '
            f'{m["profile"]} profile, {m["blocks"]} blocks, {"binary" if m.get("binary", True) else "full-precision"}; '
            f'{st["jobs"]} job(s) x {st["threads_per_job"]} thread(s). Learned rows: mean ± std over the seeds '
            '(best-validation checkpoint on the test split); classical rows: deterministic.')
    lines = [head, '', '| Method | C | Seeds | PSNR | CC | SSIM | SAM | ERGAS | Train s |',
             '|---|---|---|---|---|---|---|---|---|']
    for r in report['rows']:
        cells = ' | '.join(_cell(r['mean'][k], r['std'][k], r['n']) for k in KEYS)
        lines.append(f'| {r["label"]} | {r["hidden"]} | {r["n"]} | {cells} | {r["train_s_mean"]:.1f} |')
    for c in report['classical'].values():
        lines.append(f'| {c["label"]} | - | - | ' + ' | '.join(f'{c["metrics"][k]:.3f}' for k in KEYS) + ' | - |')
    return '\n'.join(lines)


if __name__ == '__main__':
    if sys.argv[1:] == ['--worker']:
        _serve()
    else:
        raise SystemExit('usage: python -m quant_models.jobs --worker  (a worker of quant_models.jobs.run_jobs)')

"""Stages of the HS-BiNet flow as Python functions (the CLI is a thin layer over these).

    data -> train -> evaluate            (hsbinet data / train / evaluate)
    run = all of the above in one build folder with a manifest

Build-folder layout written by :func:`run`::

    <out>/manifest.json         config, input hashes, versions, artifacts, stage results
    <out>/config.yaml           the merged configuration actually used
    <out>/data/{train,val,test}.h5   HyperPanCollection-format splits (Wald's protocol)
    <out>/train/{last,best}.pt  checkpoints
    <out>/eval/metrics.json + *.png
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Callable

import yaml

from build_flows.config import load_config, model_config, train_config
from build_flows.manifest import Manifest
from hw.design import write_design
from hw.parts import DEFAULT_PART
from quant_models.data.hpc_format import read_hpc
from quant_models.data.prepare import prepare_dataset
from quant_models.errors import HsbinetError
from quant_models.evaluate import evaluate
from quant_models.hsbinet import build_model, model_summary
from quant_models.train import train

Log = Callable[[str], None]


def data_stage(scene: str, out_dir: str | Path, data_cfg: dict | None = None, seed: int = 0,
               log: Log = print) -> dict:
    """Simulate a pan-sharpening set from ``scene`` (Wald's protocol) into out_dir/{train,val,test}.h5."""
    return prepare_dataset(scene, out_dir, seed=seed, log=log, **(data_cfg or {}))


def _bands_of(data_dir: Path) -> int:
    """Band count of data_dir/train.h5 from the HDF5 metadata (train() validates the whole file)."""
    import h5py
    train_h5 = data_dir / 'train.h5'
    if not train_h5.is_file():
        raise HsbinetError('Training data not found', file=str(train_h5),
                           hint='run `hsbinet data --scene FILE --out DIR` first and pass --data DIR')
    try:
        with h5py.File(train_h5, 'r') as f:
            return int(f['MS'].shape[1])
    except (OSError, KeyError, IndexError, TypeError):
        return read_hpc(train_h5).ms.shape[1]  # raises the paragraph that names what is wrong


def train_stage(cfg: dict, data_dir: str | Path, out_dir: str | Path, resume: bool = False, log: Log = print,
                progress: bool = True) -> dict:
    """Train the model described by ``cfg`` on data_dir/train.h5; checkpoints go to out_dir."""
    data_dir = Path(data_dir)
    mcfg = model_config(cfg, _bands_of(data_dir))
    summary = model_summary(build_model(mcfg))
    log(f'HS-BiNet ({mcfg.profile} profile): B={mcfg.bands} C={mcfg.hidden} blocks={mcfg.blocks} '
        f'estimator={mcfg.estimator}: {summary["parameters"]:,} parameters, '
        f'{summary["weight_memory_bits"]:,} bits of weight memory')
    result = train(mcfg, train_config(cfg), data_dir, out_dir, resume=resume, log=log, progress=progress)
    result['model_summary'] = summary
    return result


def evaluate_stage(checkpoint: str | Path, test_h5: str | Path, out_dir: str | Path, log: Log = print) -> dict:
    """Metrics (vs bicubic/bilinear) and PNGs for ``checkpoint`` on ``test_h5``."""
    return evaluate(checkpoint, test_h5, out_dir, log=log)


def export_stage(checkpoint: str | Path, out_dir: str | Path, patch: int = 32, seed: int = 0,
                 log: Log = print) -> dict:
    """QONNX export (raw + final channels-last graph) verified against PyTorch on random grid inputs."""
    import torch

    from hw.export import export_and_verify
    from quant_models.layers import fixed_point_act
    from quant_models.train import model_from_checkpoint
    model = model_from_checkpoint(checkpoint)
    cfg = model.cfg
    g = torch.Generator().manual_seed(seed)
    q = fixed_point_act(*cfg.io_bits).eval()
    h = patch // cfg.ratio
    ms, pan = q(torch.rand(2, cfg.bands, h, h, generator=g)), q(torch.rand(2, 1, patch, patch, generator=g))
    return export_and_verify(model, out_dir, ms, pan, log=log)


def lower_stage(final_onnx: str | Path, out_dir: str | Path, backend: str = 'Vitis', log: Log = print) -> dict:
    """hls4ml io_stream project from a final QONNX graph; writes precisions.json beside it."""
    from hw.hls4ml_lower import lower_hls4ml
    out_dir = Path(out_dir)
    hm, table = lower_hls4ml(final_onnx, out_dir / 'hls4ml_prj', backend=backend)
    hm.write()
    (out_dir / 'precisions.json').write_text(json.dumps(table, indent=1))
    write_design(hm, out_dir / 'design.json')
    log(f'{len(table)} layers, every precision derived from worst-case bounds -> {out_dir / "precisions.json"}')
    return {'project': str(out_dir / 'hls4ml_prj'), 'precisions': str(out_dir / 'precisions.json'),
            'design': str(out_dir / 'design.json')}


def report_stage(build_dir: str | Path, part: str = DEFAULT_PART, clock_mhz: float = 200.0, finn: bool = False,
                 out_dir: str | Path | None = None, log: Log = print) -> dict:
    """Resource/latency report of the design in build_dir against the FPGA parts (hw.report)."""
    from hw.report import build_report
    return build_report(build_dir, part=part, clock_mhz=clock_mhz, finn=finn, out_dir=out_dir, log=log)


def explore_stage(build_dir: str | Path, part: str = DEFAULT_PART, clock_mhz: float = 200.0,
                  hidden: list[int] | None = None, out_dir: str | Path | None = None, log: Log = print) -> dict:
    """Reuse-factor / hidden-width sweep of the design in build_dir (hw.explore)."""
    from hw.explore import explore
    return explore(build_dir, part=part, clock_mhz=clock_mhz, hidden=hidden, out_dir=out_dir, log=log)


def _prepare_out(out: Path) -> None:
    """A build folder is replaced only if it is one of ours (has a manifest); never a user folder."""
    if out.exists() and any(out.iterdir()):
        if not (out / 'manifest.json').is_file():
            raise HsbinetError('Output folder exists and is not an hsbinet build folder', file=str(out),
                               hint='choose another --out or empty it')
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def run(scene: str | None = None, config: str | Path | None = None, out: str | Path | None = None,
        overrides: dict | None = None, log: Log = print, progress: bool = True) -> dict:
    """The whole chain on one scene in one build folder; returns the manifest dict."""
    cfg = load_config(config, overrides)
    if scene is not None:
        cfg['scene'] = str(scene)
    name = Path(str(cfg['scene'])).stem if cfg['scene'] else 'scene'
    out = Path(out) if out is not None else Path('runs') / name
    _prepare_out(out)
    (out / 'config.yaml').write_text(yaml.safe_dump({k: v for k, v in cfg.items() if not k.startswith('_')},
                                                    sort_keys=False))
    man = Manifest(out, cfg)
    stage = 'data'
    try:
        t = time.time()
        log(f'[1/5] data: {cfg["scene"]} -> {out / "data"}')
        summary = data_stage(cfg['scene'], out / 'data', cfg['data'], cfg.get('seed', 0), log)
        man.input('scene', str(cfg['scene']), summary.get('source_sha256'))
        for split in ('train', 'val', 'test'):
            man.artifact(f'data_{split}', out / 'data' / f'{split}.h5')
        man.stage('data', time.time() - t, summary=summary)

        stage = 'train'
        t = time.time()
        log(f'[2/5] train -> {out / "train"}')
        result = train_stage(cfg, out / 'data', out / 'train', log=log, progress=progress)
        man.artifact('checkpoint', result['best'])
        man.stage('train', time.time() - t, epochs=result['epochs_completed'], best_val_loss=result['best_val_loss'],
                  train_patches_per_s=result['train_patches_per_s'], model=result['model_summary'])

        stage = 'evaluate'
        t = time.time()
        log(f'[3/5] evaluate -> {out / "eval"}')
        report = evaluate_stage(result['best'], out / 'data' / 'test.h5', out / 'eval', log=log)
        man.artifact('metrics', out / 'eval' / 'metrics.json')
        for fig, path in report['figures'].items():
            man.artifact(f'figure_{fig}', path)
        man.data['metrics'] = report['methods']
        man.data['verdicts']['beats_bicubic'] = report['beats_bicubic']
        man.stage('evaluate', time.time() - t, patches=report['patches'])

        stage = 'csim'
        t = time.time()
        log(f'[4/5] export -> lower (hls4ml) -> C-simulation -> {out / "hw"}')
        from sim.csim import run_csim
        v = run_csim(result['best'], out / 'data' / 'test.h5', out / 'hw', patches=4, log=log)
        for name, path in v['artifacts'].items():
            p = Path(path)
            if p.is_file():
                man.artifact(name, p)
        man.artifact('verdict', out / 'hw' / 'verdict.json')
        man.data['verdicts']['bit_exact'] = v['bit_exact']
        man.data['verdicts']['csim'] = {k: v[k] for k in ('bit_exact', 'patches', 'elements', 'mismatches',
                                                          'first_mismatch')}
        man.stage('csim', time.time() - t, timings=v['timings'])
        if not v['bit_exact']:
            raise HsbinetError('C-simulation is not bit-exact', file=str(out / 'hw' / 'verdict.json'),
                               key='mismatches', expected='0', found=str(v['mismatches']))

        stage = 'report'
        t = time.time()
        hw_cfg = cfg.get('hw', {})
        log(f'[5/5] resource/latency report -> {out / "hw"}')
        rep = report_stage(out / 'hw', part=hw_cfg.get('part', DEFAULT_PART), clock_mhz=float(hw_cfg.get('clock_mhz', 200.0)),
                           log=log)
        for kind, path in rep['files'].items():
            man.artifact(f'report_{kind}', path)
        man.data['verdicts']['fits'] = {k: f['fits'] for k, f in rep['parts'].items()}
        man.stage('report', time.time() - t, part=rep['part'], performance=rep['performance'],
                  total=rep['total'])
    except HsbinetError as e:
        man.fail(stage, e.paragraph())
        raise
    except BaseException as e:
        man.fail(stage, f'{type(e).__name__}: {e}')
        raise
    man.complete()
    log(f'build folder: {out}  (manifest: {out / "manifest.json"})')
    log(json.dumps({'psnr_db': {k: round(v['psnr'], 3) for k, v in report['methods'].items()},
                    'sam_deg': {k: round(v['sam'], 3) for k, v in report['methods'].items()},
                    'beats_bicubic': report['beats_bicubic'], 'bit_exact': v['bit_exact'],
                    'csim_mismatches': v['mismatches'], 'csim_elements': v['elements']}))
    return man.data

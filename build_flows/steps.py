"""The build flow: named steps of one signature over one build folder, in the style of FINN's
``build_dataflow_steps`` (``step_x(model, cfg) -> model``, a lookup table, start/stop steps).

Every step is ``step_<name>(build: Build) -> dict`` (a summary recorded in the manifest). A step
reads its inputs from the build folder (or from the paths a CLI subcommand points it to) and
writes its outputs there; no step redoes another's work: export and lowering happen once, and
``csim``, ``report`` and ``vendor`` work on the lowered project they find. Folder layout::

    <out>/manifest.json, config.yaml      record of the build (status running/complete/failed)
    <out>/data/{train,val,test}.h5        data       (Wald's protocol, HyperPanCollection format)
    <out>/train/{last,best}.pt            train
    <out>/eval/metrics.json + *.png       evaluate
    <out>/hw/{raw,final}.onnx             export, then verify_qonnx (torch == qonnx)
    <out>/hw/hls4ml_prj, design.json,     lower      (the design that ships, identified by its hash)
             precisions.json
    <out>/hw/verdict.json, golden.npz     csim       (verifies hw/hls4ml_prj as it is on disk)
    <out>/hw/report.{json,md,png}         report;    explore.* (explore); finn/ (finn); vendor/ (vendor)
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from build_flows.config import BuildConfig, model_config
from build_flows.manifest import Manifest
from quant_models.common import HsbinetError, atomic_write_json, atomic_write_text

Log = Callable[[str], None]
PATHS = {'data': 'data', 'train': 'train', 'eval': 'eval', 'hw': 'hw'}


class NotBitExact(HsbinetError):
    """A verification found mismatches (the CLI exits 1, as for a failed check, not 2 as for bad input)."""


@dataclass
class Build:
    """One build: its folder, its config and where each step's files are (``paths`` override the
    default layout; a CLI subcommand points them at the user's folders)."""
    root: Path
    cfg: BuildConfig
    paths: dict[str, Path] = field(default_factory=dict)
    checkpoint: Path | None = None
    test_h5: Path | None = None
    options: dict = field(default_factory=dict)  # per-invocation options of single steps (CLI flags)
    manifest: Manifest | None = None
    log: Log = print
    progress: bool = True

    def dir(self, key: str) -> Path:
        return Path(self.paths.get(key, self.root / PATHS[key]))

    @property
    def best_checkpoint(self) -> Path:
        return Path(self.checkpoint) if self.checkpoint else self.dir('train') / 'best.pt'

    @property
    def test_file(self) -> Path:
        return Path(self.test_h5) if self.test_h5 else self.dir('data') / 'test.h5'

    def record(self, name: str, path) -> None:
        if self.manifest is not None and Path(path).is_file():
            self.manifest.artifact(name, path)


def _bands_of(data_dir: Path) -> int:
    import h5py

    from quant_models.data.hpc_format import read_hpc
    train_h5 = data_dir / 'train.h5'
    if not train_h5.is_file():
        raise HsbinetError('Training data not found', file=str(train_h5),
                           hint='run `hsbinet data --scene FILE --out DIR` first and pass --data DIR')
    try:
        with h5py.File(train_h5, 'r') as f:
            return int(f['MS'].shape[1])
    except (OSError, KeyError, IndexError, TypeError):
        return read_hpc(train_h5).ms.shape[1]  # raises the paragraph that names what is wrong


def step_data(b: Build) -> dict:
    """Wald's protocol on ``cfg.scene`` -> data/{train,val,test}.h5."""
    from dataclasses import asdict

    from quant_models.data.prepare import prepare_dataset
    out = b.dir('data')
    s = prepare_dataset(b.cfg.scene, out, seed=b.cfg.seed, log=b.log, **asdict(b.cfg.data))
    if b.manifest is not None:
        b.manifest.input('scene', b.cfg.scene, s.get('source_sha256'))
    for split in ('train', 'val', 'test'):
        b.record(f'data_{split}', out / f'{split}.h5')
    return {'summary': s}


def step_train(b: Build) -> dict:
    """Train the configured model on data/train.h5 -> train/{last,best}.pt."""
    from quant_models.archs import build_model, display_name
    from quant_models.hsbinet import model_summary
    from quant_models.train import train
    mcfg = model_config(b.cfg, _bands_of(b.dir('data')))
    summary = model_summary(build_model(mcfg))
    b.log(f'{display_name(mcfg)} ({mcfg.profile} profile): B={mcfg.bands} C={mcfg.hidden} blocks={mcfg.blocks} '
          f'estimator={mcfg.estimator}: {summary["parameters"]:,} parameters, '
          f'{summary["weight_memory_bits"]:,} bits of weight memory')
    r = train(mcfg, b.cfg.train, b.dir('data'), b.dir('train'), resume=b.options.get('resume', False), log=b.log,
              progress=b.progress)
    b.record('checkpoint', r['best'])
    return {'epochs': r['epochs_completed'], 'best_val_loss': r['best_val_loss'], 'last': r['last'], 'best': r['best'],
            'train_patches_per_s': r['train_patches_per_s'], 'model': summary,
            **{k: r[k] for k in ('stopped_by', 'epochs_budget', 'steps_per_epoch', 'augment')}}


def step_evaluate(b: Build) -> dict:
    """Metrics (vs bicubic, bilinear, GSA, MTF-GLP) and PNGs of the checkpoint on the test split -> eval/."""
    from quant_models.evaluate import evaluate
    r = evaluate(b.best_checkpoint, b.test_file, b.dir('eval'), log=b.log)
    b.record('metrics', b.dir('eval') / 'metrics.json')
    for fig, path in r['figures'].items():
        b.record(f'figure_{fig}', path)
    if b.manifest is not None:
        b.manifest.data['metrics'] = r['methods']
        b.manifest.data['verdicts']['beats_bicubic'] = r['beats_bicubic']
        b.manifest.data['verdicts']['beats'] = r['beats']
    return {'patches': r['patches'], 'methods': r['methods'], 'beats_bicubic': r['beats_bicubic'], 'beats': r['beats'],
            'figures': r['figures']}


def _export_frame(b: Build) -> tuple[int, int]:
    """(lines, columns) of the PAN frame the accelerator is built for: --patch, else hw.frame, else
    the test patches' size, else data.test_patch."""
    if b.options.get('patch'):
        return int(b.options['patch']), int(b.options['patch'])
    if b.cfg.hw.frame:
        return tuple(int(v) for v in b.cfg.hw.frame)
    if b.test_file.is_file():
        import h5py
        with h5py.File(b.test_file, 'r') as f:
            return int(f['PAN'].shape[2]), int(f['PAN'].shape[3])
    return b.cfg.data.test_patch, b.cfg.data.test_patch


def step_export(b: Build) -> dict:
    """Checkpoint -> hw/raw.onnx (Brevitas QONNX) -> hw/final.onnx (channels-last, 0 Transpose)."""
    from hw.export import build_final_qonnx, export_qonnx
    from quant_models.train import model_from_checkpoint
    model = model_from_checkpoint(b.best_checkpoint)
    p = _export_frame(b)
    raw = export_qonnx(model, b.dir('hw') / 'raw.onnx', patch=p, log=b.log)
    final = build_final_qonnx(raw, b.dir('hw') / 'final.onnx')
    b.record('raw_qonnx', raw)
    b.record('final_qonnx', final)
    return {'raw': str(raw), 'final': str(final), 'patch': list(p)}


def step_verify_qonnx(b: Build) -> dict:
    """torch == qonnx on the final graph (random inputs on the io grid); error if not bit-exact."""
    import torch

    from quant_models.train import model_from_checkpoint
    from sim.golden import on_io_grid
    from sim.qonnx_check import verify_qonnx
    model = model_from_checkpoint(b.best_checkpoint)
    final = b.dir('hw') / 'final.onnx'
    (H, W), r = _export_frame(b), model.cfg.ratio
    g = torch.Generator().manual_seed(b.cfg.seed)
    ms, pan = on_io_grid(model, torch.rand(2, model.cfg.bands, H // r, W // r, generator=g),
                         torch.rand(2, 1, H, W, generator=g))
    r = verify_qonnx(model, final, ms, pan, log=b.log)
    if not r['bit_exact']:
        raise NotBitExact('The final QONNX graph is not bit-exact to PyTorch', file=str(final), key='mismatches',
                           expected='0', found=str(r['mismatches']))
    return {k: r[k] for k in ('bit_exact', 'mismatches', 'n_elements', 'transposes', 'inputs', 'output')}


def step_lower(b: Build) -> dict:
    """hw/final.onnx -> hw/hls4ml_prj + precisions.json + design.json (hls4ml io_stream)."""
    from hw.estimates.folding import folding_from_file, plan_folding, replan_fifos, unfolded
    from hw.estimates.swath import folding_target
    from hw.hls.lower import lower_project
    h = b.cfg.hw
    final = Path(b.options.get('onnx') or b.dir('hw') / 'final.onnx')
    policies = {'fit': lambda d: plan_folding(d, h.part, h.clock_mhz,
                                              folding_target(d, h.target_mpx, h.swath_width, h.line_rate_hz),
                                              h.multipliers),
                'none': lambda d: unfolded(d, h.clock_mhz, h.multipliers)}
    folding = policies.get(h.folding, lambda d: folding_from_file(d, h.folding, h.clock_mhz))
    d = lower_project(final, b.dir('hw'), backend=h.backend, folding=folding, replan=replan_fifos,
                      band_multiple=h.band_multiple, tdata_bits=h.tdata_bits, tlast=h.tlast,
                      residual_delay=h.residual_delay, log=b.log)
    f = d['folding']
    b.log(f'folding: {f["policy"]}: reuse up to {max(f["reuse"].values())}, '
          f'{len(f.get("mult_impl") or {})} layers\' products bound to DSP48, '
          f'{f["performance"]["mpixel_per_s"]:.3f} Mpixel/s (analytical), FIFO depths written for '
          f'{len(f["fifo_depths"])} streams')
    for name in ('design', 'precisions', 'folding'):
        b.record(name, b.dir('hw') / f'{name}.json')
    return {'design_sha256': d['sha256'], 'backend': d['backend'], 'layers': len(d['layers']),
            'folding': {k: f.get(k) for k in ('policy', 'target_cycles_per_px', 'reuse', 'mult_impl')}}


def step_csim(b: Build) -> dict:
    """C-simulation of the lowered project vs torch and qonnx; error if not bit-exact."""
    from sim.csim import run_csim
    out = Path(b.options.get('csim_out') or b.dir('hw'))
    v = run_csim(b.dir('hw'), b.best_checkpoint, b.test_file, out, patches=b.cfg.hw.patches,
                 inject_fault=b.options.get('inject_fault', False), workers=b.cfg.hw.workers,
                 cluster=b.options.get('csim_cluster'), log=b.log)
    b.record('verdict', out / 'verdict.json')
    if b.manifest is not None:
        b.manifest.data['verdicts']['bit_exact'] = v['bit_exact']
        b.manifest.data['verdicts']['csim'] = {k: v[k] for k in ('bit_exact', 'patches', 'elements', 'mismatches',
                                                                 'first_mismatch', 'design_sha256')}
    if not v['bit_exact']:
        raise NotBitExact('C-simulation is not bit-exact', file=str(out / 'verdict.json'), key='mismatches',
                           expected='0', found=str(v['mismatches']))
    return {k: v[k] for k in ('bit_exact', 'patches', 'elements', 'mismatches', 'design_sha256', 'timings')}


def step_report(b: Build) -> dict:
    """Resource/latency report of the lowered design against the FPGA parts -> report.{json,md,png}."""
    from hw.estimates.report import build_report
    rep = build_report(b.dir('hw'), part=b.cfg.hw.part, clock_mhz=b.cfg.hw.clock_mhz,
                       out_dir=b.options.get('report_out'), log=b.log, swath_width=b.cfg.hw.swath_width,
                       line_rate_hz=b.cfg.hw.line_rate_hz)
    for kind, path in rep['files'].items():
        b.record(f'report_{kind}', path)
    if b.manifest is not None:
        b.manifest.data['verdicts']['fits'] = {k: f['fits'] for k, f in rep['parts'].items()}
    return {'part': rep['part'], 'design_sha256': rep['design_sha256'], 'fits': rep['parts'][rep['part']]['fits'],
            'performance': rep['performance'], 'total': rep['total'], 'swath': rep['swath']}


def design_of(model, patch: tuple[int, int], backend: str = 'Vitis', folding=None, out_dir=None) -> dict:
    """design.json of ``model`` exported and lowered for a PAN ``patch`` (H, W): the export and lower
    steps' functions, for designs that are explored or benchmarked. ``folding``: a plan function
    as the lower step takes (None: reuse 1); ``out_dir``: keep the lowered folder there (default:
    a temporary folder, removed)."""
    from hw.estimates.folding import replan_fifos
    from hw.export import build_final_qonnx, export_qonnx
    from hw.hls.lower import lower_project
    with tempfile.TemporaryDirectory(prefix='hsbinet_design_') as tmp:
        where = Path(out_dir or tmp)
        where.mkdir(parents=True, exist_ok=True)
        raw = export_qonnx(model, where / 'raw.onnx', patch=patch, log=lambda s: None)
        return lower_project(build_final_qonnx(raw, where / 'final.onnx'), where, backend=backend, folding=folding,
                             replan=replan_fifos if folding else None, log=lambda s: None)


def step_explore(b: Build) -> dict:
    """Folding (and hidden-width) sweep of the lowered design; other widths come from an untrained
    model of the same configuration (:func:`design_of`)."""
    from dataclasses import replace

    import torch

    from hw.design import load_design
    from hw.estimates.explore import explore
    from quant_models.archs import build_model, model_config_from_dict
    design, _ = load_design(b.dir('hw'))
    own = model_config_from_dict(design['model'])  # validated: the JSON lists become tuples
    designs = {own.hidden: design}
    for c in sorted(set(b.options.get('hidden') or [])):
        if c < 1:
            raise HsbinetError('Bad hidden width', key='--hidden', expected='integers >= 1', found=str(c))
        if c not in designs:
            torch.manual_seed(0)
            designs[c] = design_of(build_model(replace(own, hidden=c)).eval(),
                                   (design['frame']['height'], design['frame']['width']), design['backend'])
    res = explore(designs, b.options.get('explore_out') or b.dir('hw'), part=b.cfg.hw.part,
                  clock_mhz=b.cfg.hw.clock_mhz, log=b.log)
    return {'points': len(res['points']), 'best': res['best']}


def step_finn(b: Build) -> dict:
    """FINN (finn-plus) lowering of hw/final.onnx with FINN's estimates -> hw/finn/."""
    from hw.finn.lower import lower_finn
    final = Path(b.options.get('onnx') or b.dir('hw') / 'final.onnx')
    out = Path(b.options.get('finn_out') or b.dir('hw') / 'finn')
    r = lower_finn(final, out, target_cycles_per_frame=b.options.get('target_cycles'),
                   folding_file=b.options.get('folding'), clock_mhz=b.cfg.hw.clock_mhz, part=b.cfg.hw.part, log=b.log)
    return {'files': r['files']}


def _fit_or_refuse(design: dict, part, clock_mhz: float, force: bool) -> dict:
    """The analytical fit of the lowered design on ``part``; a design that does not fit is not
    packaged (unless ``force``): the error names the limiting resource and the folding that fits."""
    from hw.estimates.analytical import estimate
    from hw.estimates.folding import plan_folding
    from hw.parts import part_fit
    fit = part_fit(estimate(design, None, clock_mhz)['total'], part)
    if not fit['fits'] and not force:
        lim = fit['limiting']
        plan = plan_folding(design, part.key, clock_mhz)
        would = (f'the fastest folding that fits is {plan["target_cycles_per_px"]} cycles/px (reuse up to '
                 f'{max(plan["reuse"].values())}, {plan["performance"]["mpixel_per_s"]:.3f} Mpixel/s): lower again with '
                 f'`hsbinet lower --folding fit --part {part.key}`') if plan['fits'].get(part.key) else \
            f'no folding of this design fits {part.key}'
        raise HsbinetError('The lowered design does not fit the part, so it is not packaged', key=f'{part.key} {lim}',
                           expected='<= 100 % of every resource (analytical report)',
                           found=f'{lim} {fit["utilization_pct"][lim]:.1f} %', hint=f'{would}; or --force to package it anyway')
    return fit


def step_vendor(b: Build) -> dict:
    """Vitis HLS + Vivado project of the lowered design -> vendor/; the bitstream when asked and the
    tools are on PATH (raises hw.vendor_flow.tools.VendorToolsMissing otherwise, after writing it)."""
    from hw.design import check_unchanged, load_design
    from hw.parts import resolve_target
    from hw.vendor_flow.hls_project import find_hls_project
    from hw.vendor_flow.project import write_vendor_project
    from hw.vendor_flow.tools import run_vendor_flow
    o = b.options
    target, board = resolve_target(o.get('part') or (None if o.get('board') else b.cfg.hw.part), o.get('board'))
    clock = o.get('clock') or target.default_clock_mhz
    prj = find_hls_project(b.dir('hw'))
    design, design_path = load_design(b.dir('hw'))
    check_unchanged(design, design_path)
    fit = _fit_or_refuse(design, target, clock, force=o.get('force', False))
    out = Path(o.get('vendor_out') or b.root)
    manifest = write_vendor_project(prj, out, target, clock_mhz=clock, board=board)
    vendor = Path(manifest['path'])
    b.log(f'vendor project for {target.key} ({target.vendor_part}{", " + board if board else ""}) at '
          f'{clock:g} MHz: {vendor} (from {prj})')
    result = {'vendor_dir': str(vendor), 'manifest': manifest, 'ran': False, 'flow': None, 'fits': fit['fits']}
    if not o.get('bitstream'):
        b.log(f'to build the bitstream: hsbinet build --bitstream ..., or cd {vendor} && bash run_all.sh')
        return result
    flow = run_vendor_flow(vendor, log=b.log)
    result.update(ran=True, flow=flow)
    atomic_write_json(vendor / 'build_result.json', flow, indent=2)
    rep = flow.get('reports')
    if rep:
        t = rep['total']
        timing = t.get('timing') or {}
        b.log(f'bitstream: {flow["bitstream"]}; {rep["source"]}: LUT {t["resources"].get("LUT")}, '
              f'FF {t["resources"].get("FF")}, DSP {t["resources"].get("DSP")}'
              + (f', WNS {timing.get("wns_ns")} ns ({"met" if timing.get("met") else "NOT met"})' if timing else ''))
    return result


def step_infer(b: Build) -> dict:
    """A whole scene through the checkpoint tile by tile, in the accelerator's frame geometry, with
    the torch, qonnx or csim engine (:mod:`quant_models.infer`, :mod:`sim.infer`) -> the fused cube
    (.h5, GeoTIFF/ENVI, PNG) and infer.json in ``options['infer_out']`` (default: <root>/infer)."""
    from quant_models.infer import infer, training_data_gnyq
    from quant_models.train import load_checkpoint, model_from_checkpoint
    from sim.infer import make_engine
    o = b.options
    ckpt = load_checkpoint(b.best_checkpoint)
    model = model_from_checkpoint(ckpt)
    engine_name = o.get('engine') or 'torch'
    build = o.get('build') or (b.dir('hw') if b.manifest is not None and engine_name != 'torch' else None)
    gnyq, gnyq_source = (float(o['gnyq']), '--gnyq') if o.get('gnyq') is not None else training_data_gnyq(ckpt)
    engine, frame, record = make_engine(engine_name, model, build=build, tile=o.get('tile'),
                                        checkpoint=b.best_checkpoint, log=b.log)
    out = Path(o.get('infer_out') or b.root / 'infer')
    r = infer(model, o.get('scene') or b.cfg.scene, out, engine, frame=frame, reduced=bool(o.get('reduced')),
              pan=o.get('pan'), fmt=o.get('format'), gnyq=gnyq, log=b.log, progress=b.progress,
              record={'checkpoint': str(b.best_checkpoint), 'gnyq_source': gnyq_source, **record})
    for name, path in r['files'].items():
        b.record(f'infer_{name}', path)
    return {'engine': r['engine'], 'mode': r['mode'], 'tiles': r['tiling']['tiles'], 'files': r['files'],
            'metrics': {k: v for k, v in r['metrics']['hsbinet'].items()}, 'timings': r['timings'],
            'design_sha256': r.get('design_sha256')}


def step_sweep(b: Build) -> dict:
    """Estimator x seed x hidden-width sweep on the data folder: every run trained and evaluated
    through quant_models.jobs as parallel jobs -> sweep.json, sweep.md in ``options['sweep_out']``."""
    from quant_models.jobs import check_data_dir, sweep, sweep_axes
    o = b.options
    axes = sweep_axes(o.get('estimators') or 'atiste,ste,reste', o.get('seeds') or '0,1,2',
                      o.get('hidden') or [b.cfg.model.hidden])  # bad axes are refused before the data are read
    data = check_data_dir(b.dir('data'))
    r = sweep(model_config(b.cfg, _bands_of(data)), b.cfg.train, data, o.get('sweep_out') or b.root / 'sweep', *axes,
              jobs=o.get('jobs'), threads=o.get('threads', 1), log=b.log, progress=b.progress, source=b.cfg.source)
    return {'runs': len(r['runs']), 'trainings_run': r['wall_s']['trainings_run_this_call'],
            'rows': [{k: row[k] for k in ('estimator', 'hidden', 'n', 'mean', 'std')} for row in r['rows']]}


STEPS: dict[str, Callable[[Build], dict]] = {
    'data': step_data, 'train': step_train, 'evaluate': step_evaluate, 'export': step_export,
    'verify_qonnx': step_verify_qonnx, 'lower': step_lower, 'csim': step_csim, 'report': step_report,
    'explore': step_explore, 'finn': step_finn, 'vendor': step_vendor, 'infer': step_infer, 'sweep': step_sweep,
}
RUN_STEPS = ('data', 'train', 'evaluate', 'export', 'verify_qonnx', 'lower', 'csim', 'report')


def select_steps(steps=None, start: str | None = None, stop: str | None = None) -> list[str]:
    """The steps to run: ``steps`` (default :data:`RUN_STEPS`) from ``start`` to ``stop`` inclusive."""
    names = list(steps or RUN_STEPS)
    for key, s in (('steps', n) for n in names):
        if s not in STEPS:
            raise HsbinetError('Unknown build step', key=key, expected=', '.join(STEPS), found=repr(s))
    for key, s in (('--from', start), ('--to', stop)):
        if s is not None and s not in names:
            raise HsbinetError('Unknown build step', key=key, expected=', '.join(names), found=repr(s))
    return names[names.index(start) if start else 0: names.index(stop) + 1 if stop else len(names)]


def run_steps(build: Build, names: list[str]) -> dict[str, dict]:
    """Run ``names`` in order on ``build``; each result goes into the manifest as it finishes."""
    results = {}
    for i, name in enumerate(names):
        t = time.time()
        build.log(f'[{i + 1}/{len(names)}] {name}')
        try:
            results[name] = STEPS[name](build)
        except BaseException as e:
            if build.manifest is not None:
                build.manifest.fail(name, e.paragraph() if isinstance(e, HsbinetError) else f'{type(e).__name__}: {e}')
            raise
        if build.manifest is not None:
            build.manifest.stage(name, time.time() - t, **{k: v for k, v in results[name].items()
                                                            if k not in ('figures', 'methods', 'manifest', 'flow')})
    return results


def _prepare_out(out: Path, fresh: bool) -> None:
    """A build folder is replaced only if it is one of ours (has a manifest); never a user folder."""
    if out.exists() and any(out.iterdir()):
        if not (out / 'manifest.json').is_file():
            raise HsbinetError('Output folder exists and is not an hsbinet build folder', file=str(out),
                               hint='choose another --out or empty it')
        if fresh:
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def run(cfg: BuildConfig, out: str | Path | None = None, steps=None, start: str | None = None,
        stop: str | None = None, log: Log = print, progress: bool = True) -> dict:
    """Run the flow (default :data:`RUN_STEPS`) in one build folder; ``start`` resumes an existing
    folder at that step (its earlier steps' files are reused). Returns the manifest dict."""
    names = select_steps(steps, start, stop)
    out = Path(out) if out is not None else Path('runs') / (Path(cfg.scene).stem or 'scene')
    resume = start is not None and names[0] != (steps or RUN_STEPS)[0]
    _prepare_out(out, fresh=not resume)
    atomic_write_text(out / 'config.yaml', yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    man = Manifest(out, {**cfg.to_dict(), '_source': cfg.source}, resume=resume)
    build = Build(out, cfg, manifest=man, log=log, progress=progress)
    results = run_steps(build, names)
    man.complete()
    log(f'build folder: {out}  (manifest: {out / "manifest.json"})')
    ev, cs, rp = results.get('evaluate'), results.get('csim'), results.get('report')
    if ev and cs and rp:
        import json
        log(json.dumps({'psnr_db': {k: round(v['psnr'], 3) for k, v in ev['methods'].items()},
                        'sam_deg': {k: round(v['sam'], 3) for k, v in ev['methods'].items()},
                        'beats': {k: v['psnr'] and v['sam'] for k, v in ev['beats'].items()}, 'bit_exact': cs['bit_exact'],
                        'csim_mismatches': cs['mismatches'], 'csim_elements': cs['elements'],
                        'fits': {rp['part']: rp['fits']}, 'mpixel_per_s': round(rp['performance']['mpixel_per_s'], 3),
                        'design_sha256': cs['design_sha256'], 'report_design_sha256': rp['design_sha256']}))
    return man.data

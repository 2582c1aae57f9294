"""``hsbinet`` command line: one subcommand per stage plus ``run`` for the whole chain.

Input errors (:class:`HsbinetError`) print one paragraph and exit with status 2, no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from quant_models.common import HsbinetError

EXIT_USER_ERROR = 2
EXIT_MISMATCH = 1  # a verification found mismatches


def _quiet_libraries() -> None:
    # Brevitas warns about an optional CUDA kernel package at import; torch.onnx about torchvision.
    warnings.filterwarnings('ignore', message='.*fast_hadamard_transform.*')
    warnings.filterwarnings('ignore', category=DeprecationWarning)
    os.environ.setdefault('TORCH_CPP_LOG_LEVEL', 'ERROR')


FLAGS = {'hw.folding': '--folding', 'hw.target_mpx': '--target-mpx', 'hw.part': '--part', 'hw.clock_mhz': '--clock',
         'hw.patches': '--patches', 'hw.backend': '--backend', 'hw.tdata_bits': '--tdata-bits', 'hw.tlast': '--tlast',
         'hw.workers': '--workers',
         'train.epochs': '--epochs', 'train.time_budget_min': '--time-budget', 'scene': '--scene', 'seed': '--seed',
         'data.ratio': '--ratio', 'data.gnyq': '--gnyq', 'data.patch': '--patch', 'data.test_patch': '--test-patch'}


def _single(a, steps, config=None, overrides=None, root=None, **kw):
    """Run ``steps`` of the flow for one subcommand, on the folders its flags name."""
    from build_flows.config import load_config
    from build_flows.steps import Build, run_steps
    cfg = load_config(config, overrides, FLAGS)
    build = Build(Path(root or '.'), cfg, **kw)
    return run_steps(build, steps)


def _cmd_data(a) -> None:
    given = (('ratio', a.ratio), ('gnyq', a.gnyq), ('patch', a.patch), ('test_patch', a.test_patch),
             ('sensor', a.sensor))
    over = {'scene': a.scene, 'seed': a.seed, 'data': {k: v for k, v in given if v is not None}}
    s = _single(a, ['data'], overrides=over, paths={'data': Path(a.out)})['data']['summary']
    print(f'wrote {a.out}/train.h5 ({s["patch_counts"]["train"]} patches), val.h5 ({s["patch_counts"]["val"]}), '
          f'test.h5 ({s["patch_counts"]["test"]})')


def _cmd_train(a) -> None:
    """Also the command torchrun starts N times (``torchrun --nproc_per_node N -m build_flows.cli train``):
    the ranks train together (quant_models/distributed.py); rank 0 alone logs, prints and reports errors."""
    over = {'train': {k: v for k, v in (('epochs', a.epochs), ('time_budget_min', a.time_budget)) if v is not None}}
    rank = int(os.environ.get('RANK', '0') or 0)
    quiet = {} if rank == 0 else {'log': lambda _m: None, 'progress': False}
    try:
        r = _single(a, ['train'], a.config, over, paths={'data': Path(a.data), 'train': Path(a.out)},
                    options={'resume': a.resume}, **quiet)['train']
    except HsbinetError as e:
        if rank == 0:
            raise
        # An error every rank meets (a bad config, batch size): rank 0 prints it, exits, and torchrun
        # stops this rank during the pause. One of this rank alone (e.g. no GPU for its LOCAL_RANK)
        # is printed after it.
        import time
        time.sleep(3)
        print(f'hsbinet train (rank {rank}): error: {e.paragraph()}', file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None
    if rank == 0:
        print(f'{r["epochs"]} epochs, best val loss {r["best_val_loss"]:.5f}; checkpoints: {r["last"]}, {r["best"]}')


def _cmd_evaluate(a) -> None:
    r = _single(a, ['evaluate'], checkpoint=Path(a.checkpoint), test_h5=Path(a.test),
                paths={'eval': Path(a.out)})['evaluate']
    print(f'wrote {Path(a.out) / "metrics.json"} and {len(r["figures"])} figures')


def _cmd_export(a) -> None:
    r = _single(a, ['export', 'verify_qonnx'], checkpoint=Path(a.checkpoint), paths={'hw': Path(a.out)},
                options={'patch': a.patch})
    print(f'final QONNX: {r["export"]["final"]} ({r["verify_qonnx"]["transposes"]} Transpose nodes; torch vs qonnx '
          'bit-exact)')


def _cmd_lower(a) -> None:
    out = Path(a.out)
    if a.backend == 'finn':
        r = _single(a, ['finn'], a.config, options={'onnx': a.onnx, 'finn_out': out, 'target_cycles': a.target_cycles,
                                                    'folding': a.folding})['finn']
        print(f'FINN dataflow graph: {r["files"]["lowered"]}; estimates: {r["files"]["estimates"]}; '
              f'folding: {r["files"]["folding"]}')
        return
    hw = {'backend': a.backend, **({'folding': a.folding} if a.folding else {}),
          **({'target_mpx': a.target_mpx} if a.target_mpx is not None else {}),
          **({'part': a.part} if a.part else {}), **({'tdata_bits': a.tdata_bits} if a.tdata_bits else {}),
          **({'tlast': a.tlast} if a.tlast else {})}
    r = _single(a, ['lower'], a.config, {'hw': hw}, paths={'hw': out}, options={'onnx': a.onnx})['lower']
    print(f'hls4ml io_stream project ({a.backend}): {out / "hls4ml_prj"}; design {r["design_sha256"][:16]}; '
          f'precision table: {out / "precisions.json"}')


def _hw_over(a) -> dict:
    return {'hw': {k: v for k, v in (('part', getattr(a, 'part', None)), ('clock_mhz', getattr(a, 'clock', None)),
                                      ('patches', getattr(a, 'patches', None)),
                                      ('swath_width', getattr(a, 'swath_width', None)),
                                      ('line_rate_hz', getattr(a, 'line_rate', None))) if v is not None}}


def _cmd_report(a) -> None:
    steps = ['finn', 'report'] if a.finn else ['report']
    _single(a, steps, a.config, _hw_over(a), paths={'hw': Path(a.build)}, options={'report_out': a.out})


def _cmd_explore(a) -> None:
    hidden = [int(x) for x in a.hidden.split(',')] if a.hidden else None
    _single(a, ['explore'], a.config, _hw_over(a), paths={'hw': Path(a.build)},
            options={'hidden': hidden, 'explore_out': a.out})


def _cmd_csim(a) -> None:
    """Verifies the lowered project in --build; --checkpoint/--test default to the build folder's."""
    from hw.design import load_design
    _, design_path = load_design(a.build)
    # the build folder is the one with the manifest above the design (--build may name hw/ itself)
    root = next((d for d in design_path.parents if (d / 'manifest.json').is_file()), Path(a.build))
    over = _hw_over(a)
    if a.workers is not None:
        over['hw']['workers'] = a.workers
    _single(a, ['csim'], a.config, over, root=root,
            checkpoint=Path(a.checkpoint) if a.checkpoint else None, test_h5=Path(a.test) if a.test else None,
            paths={'hw': design_path.parent},
            options={'inject_fault': a.inject_fault, 'csim_out': a.out, 'csim_cluster': a.cluster})


def _cmd_infer(a) -> None:
    r = _single(a, ['infer'], a.config, checkpoint=Path(a.checkpoint), progress=not a.no_progress,
                options={'scene': a.scene, 'pan': a.pan, 'engine': a.engine, 'build': a.build, 'reduced': a.reduced,
                         'tile': a.tile, 'format': a.format, 'gnyq': a.gnyq, 'infer_out': Path(a.out)})['infer']
    print(f'{r["engine"]}: {r["tiles"]} tiles in {r["timings"]["tiles_s"]:.2f} s; fused cube {r["files"]["cube"]}, '
          f'{r["files"]["h5"]}, {r["files"]["png"]}; summary {r["files"]["summary"]}')


def _cmd_sweep(a) -> None:
    """The cross product of --estimators x --hidden x --seeds on one data folder, as parallel jobs."""
    over = {'train': {'epochs': a.epochs}} if a.epochs is not None else {}
    _single(a, ['sweep'], a.config, over, paths={'data': Path(a.data)},
            options={'estimators': a.estimators, 'seeds': a.seeds, 'hidden': a.hidden, 'jobs': a.jobs,
                     'threads': a.threads, 'sweep_out': Path(a.out)})


def _cmd_run(a) -> None:
    from build_flows.config import load_config
    from build_flows.steps import run
    over = {'train': {'time_budget_min': a.time_budget}} if a.time_budget is not None else {}
    if a.scene is not None:
        over['scene'] = a.scene
    run(load_config(a.config, over, FLAGS), out=a.out, start=a.start, stop=a.stop)


def _cmd_build(a) -> None:
    from hw.vendor_flow.tools import EXIT_TOOLS_MISSING, VendorFlowError, VendorToolsMissing
    try:
        _single(a, ['vendor'], root=Path(a.build), paths={'hw': Path(a.build)},
                options={'part': a.part, 'board': a.board, 'clock': a.clock, 'vendor_out': a.out,
                         'bitstream': a.bitstream, 'force': a.force})
    except VendorToolsMissing as e:
        print(f'hsbinet build: {e.message}', file=sys.stderr)
        raise SystemExit(EXIT_TOOLS_MISSING) from None
    except VendorFlowError as e:
        print(f'hsbinet build: vendor flow failed: {e}', file=sys.stderr)
        raise SystemExit(1) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='hsbinet', description='HS-BiNet: binary hyperspectral pan-sharpening, '
                                'from PyTorch/Brevitas to a bit-exact streaming FPGA accelerator.')
    sub = p.add_subparsers(dest='command', required=True)

    d = sub.add_parser('data', help="simulate a pan-sharpening set from a cube (Wald's protocol)")
    d.add_argument('--scene', default='indian_pines', help='cube file (.mat v5/v7.3, .npy/.npz, ENVI .hdr, '
                   'GeoTIFF; FILE:KEY picks a variable) or an embedded scene name (default: indian_pines)')
    d.add_argument('--ratio', type=int, help='PAN/MS scale factor (default: data.ratio, 4)')
    d.add_argument('--gnyq', type=float, help='MTF gain at Nyquist (default: data.gnyq, 0.3)')
    d.add_argument('--patch', type=int, help='train/val patch size in PAN pixels (default: data.patch, 32)')
    d.add_argument('--test-patch', type=int, help='test patch size in PAN pixels (default: data.test_patch, 32)')
    d.add_argument('--sensor', help='multispectral setting: worldview3 (8 bands) or quickbird (4), synthesised '
                   'from the cube\'s spectra with the sensor\'s band passes (default: data.sensor, none)')
    d.add_argument('--seed', type=int, default=0)
    d.add_argument('--out', required=True, help='folder for train.h5, val.h5, test.h5')
    d.set_defaults(func=_cmd_data)

    t = sub.add_parser('train', help='train HS-BiNet (paper recipe) on a data folder; on N processes (DDP): '
                       'torchrun --nproc_per_node N -m build_flows.cli train ...')
    t.add_argument('--data', required=True, help='folder with train.h5 and val.h5')
    t.add_argument('--config', help='YAML config (default: configs/default.yaml)')
    t.add_argument('--out', required=True, help='checkpoint folder (last.pt, best.pt)')
    t.add_argument('--epochs', type=int, help='override train.epochs')
    t.add_argument('--time-budget', type=float, help='stop after this many minutes (override)')
    t.add_argument('--resume', action='store_true', help='continue from OUT/last.pt')
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser('evaluate', help='metrics.json and PNGs for a checkpoint on a test file')
    e.add_argument('--checkpoint', required=True)
    e.add_argument('--test', required=True, help='HyperPanCollection .h5 with GT (e.g. DIR/test.h5)')
    e.add_argument('--out', required=True)
    e.set_defaults(func=_cmd_evaluate)

    x = sub.add_parser('export', help='QONNX export of a checkpoint (channels-last, no Transpose), verified vs torch')
    x.add_argument('--checkpoint', required=True)
    x.add_argument('--out', required=True, help='folder for raw.onnx and final.onnx')
    x.add_argument('--patch', type=int, default=32, help='PAN patch size the accelerator is built for')
    x.set_defaults(func=_cmd_export)

    lo = sub.add_parser('lower', help='final QONNX -> hls4ml io_stream project with bounds-derived precisions')
    lo.add_argument('--onnx', required=True, help='final.onnx written by `hsbinet export`')
    lo.add_argument('--out', required=True)
    lo.add_argument('--backend', default='Vitis', choices=['Vitis', 'Vivado', 'finn'])
    lo.add_argument('--config', help='YAML config')
    lo.add_argument('--target-cycles', type=int, help='finn: FINN SetFolding target, clock cycles per frame')
    lo.add_argument('--folding', metavar='FILE|fit|none', help='hls4ml: fit (default: fastest that fits --part), none '
                    '(reuse 1) or a folding file (folding.json, explore.json); finn: FINN folding JSON')
    lo.add_argument('--target-mpx', type=float, help='hls4ml: the cheapest folding reaching this many Mpixel/s of PAN')
    lo.add_argument('--part', help='hls4ml: the part the folding must fit (default hw.part, XQRKU060)')
    lo.add_argument('--tdata-bits', type=int, help='hls4ml: AXI4-Stream TDATA width of the adapter (default 512)')
    lo.add_argument('--tlast', choices=['line', 'frame'], help='hls4ml: TLAST per row or per frame (default line)')
    lo.set_defaults(func=_cmd_lower)

    c = sub.add_parser('csim', help='C-simulation of a lowered project vs PyTorch and QONNX on .h5 patches; '
                       'exit 1 on any mismatch')
    c.add_argument('--build', required=True, help='folder with the lowered project (design.json; e.g. runs/<scene>)')
    c.add_argument('--checkpoint', help='the model it was lowered from (default: BUILD/train/best.pt)')
    c.add_argument('--test', help='HyperPanCollection .h5 (MS, PAN; default: BUILD/data/test.h5)')
    c.add_argument('--out', help='folder for verdict.json and golden.npz (default: the lowered folder)')
    c.add_argument('--patches', type=int, help='test patches to simulate (default: hw.patches, 4)')
    c.add_argument('--config', help='YAML config')
    c.add_argument('--inject-fault', action='store_true', help='flip one binary weight bit in the generated design')
    c.add_argument('--workers', type=int, metavar='N', help='worker processes simulating the patches on this machine '
                   '(default hw.workers: every core)')
    c.add_argument('--cluster', metavar='ADDRESS', help='Dask scheduler (tcp://host:8786) to distribute the patches to '
                   'instead; the workers need this environment and the build folder at the same path')
    c.set_defaults(func=_cmd_csim)

    inf = sub.add_parser('infer', help='pan-sharpen a whole scene tile by tile in the accelerator\'s frame geometry '
                         '(torch, qonnx or csim engine) -> fused .h5, GeoTIFF/ENVI, PNG, infer.json')
    inf.add_argument('--checkpoint', required=True, help='the model (best.pt / last.pt)')
    inf.add_argument('--scene', required=True, help='cube file (any format the loaders read): with --reduced the '
                     'reference, else the LR-HS input')
    inf.add_argument('--out', required=True, help='output folder')
    inf.add_argument('--engine', default='torch', choices=['torch', 'qonnx', 'csim'])
    inf.add_argument('--build', help='lowered design (design.json; needed for qonnx/csim): tiles are its frame')
    inf.add_argument('--reduced', action='store_true', help="evaluation: degrade the scene by Wald's protocol and "
                     'compare with it (metrics in infer.json)')
    inf.add_argument('--pan', help='full resolution: a real PAN image, ratio x the scene\'s size (.tif, ENVI, .npy, .mat)')
    inf.add_argument('--tile', type=int, help='torch without --build: tile size in PAN pixels (default 32)')
    inf.add_argument('--format', choices=['tif', 'envi'], help='cube file format (default: ENVI for an ENVI input, else tif)')
    inf.add_argument('--gnyq', type=float, help='--reduced: MTF gain at Nyquist (default: the training data\'s, else 0.3)')
    inf.add_argument('--config', help='YAML config')
    inf.add_argument('--no-progress', action='store_true', help='no progress bar')
    inf.set_defaults(func=_cmd_infer)

    rp = sub.add_parser('report', help='per-layer and total II, latency, throughput, LUT/FF/BRAM/DSP, buffers; '
                        'fit/no-fit on FPGA parts (report.json/.md/.png)')
    rp.add_argument('--build', required=True, help='build folder with design.json (from lower/csim/run) or final.onnx')
    rp.add_argument('--part', help='main part: XQRKU060 (default), ZU9EG (ZCU102), XC7Z020 (all are listed)')
    rp.add_argument('--clock', type=float, help='clock in MHz (default hw.clock_mhz, 200)')
    rp.add_argument('--config', help='YAML config')
    rp.add_argument('--finn', action='store_true', help='run the finn step first and cross-check its estimates')
    rp.add_argument('--swath-width', type=int, help='cover a pushbroom swath of this many PAN columns with the frame '
                    'as column tiles (hw.swath_width)')
    rp.add_argument('--line-rate', type=float, help='lines/s the swath needs: the verdict (hw.line_rate_hz)')
    rp.add_argument('--out', help='folder for report.* (default: the build folder)')
    rp.set_defaults(func=_cmd_report)

    ex = sub.add_parser('explore', help='sweep reuse factor (and hidden width C): throughput vs LUT/BRAM per part; '
                        'picks the fastest design that fits')
    ex.add_argument('--build', required=True, help='build folder with design.json (from lower/csim/run)')
    ex.add_argument('--part', help='XQRKU060 (default), ZU9EG, XC7Z020')
    ex.add_argument('--clock', type=float, help='clock in MHz (default hw.clock_mhz, 200)')
    ex.add_argument('--config', help='YAML config')
    ex.add_argument('--hidden', help='comma-separated hidden widths C to sweep (default: the build\'s own C)')
    ex.add_argument('--out', help='folder for explore.* (default: the build folder)')
    ex.set_defaults(func=_cmd_explore)

    sw = sub.add_parser('sweep', help='train and evaluate estimator x seed x hidden width on one data folder as '
                        'parallel jobs (resumable) -> sweep.json, sweep.md (mean +- std over seeds)')
    sw.add_argument('--data', required=True, help='folder with train.h5, val.h5, test.h5 (from `hsbinet data`)')
    sw.add_argument('--out', required=True, help='sweep folder: one run folder per (estimator, C, seed), sweep.json, '
                    'sweep.md')
    sw.add_argument('--config', help='YAML config: the model/train settings of every run (default: '
                    'configs/default.yaml)')
    sw.add_argument('--estimators', default='atiste,ste,reste', help='comma-separated (default: atiste,ste,reste)')
    sw.add_argument('--seeds', default='0,1,2', help='comma-separated training seeds (default: 0,1,2)')
    sw.add_argument('--hidden', help="comma-separated hidden widths C (default: the config's model.hidden)")
    sw.add_argument('--epochs', type=int, help='override train.epochs')
    sw.add_argument('--jobs', type=int, help='parallel training processes (default: one per core); 1 = in this process')
    sw.add_argument('--threads', type=int, default=1, help='torch threads per job (default 1; results are identical '
                    'for equal --threads, whatever --jobs)')
    sw.set_defaults(func=_cmd_sweep)

    r = sub.add_parser('run', help='the whole chain on one scene, in one build folder with a manifest')
    r.add_argument('--scene', help='cube file or embedded name (default: the config\'s scene, indian_pines)')
    r.add_argument('--config', help='YAML config overlaid on configs/default.yaml')
    r.add_argument('--out', help='build folder (default: runs/<scene>)')
    r.add_argument('--time-budget', type=float, help='training time budget in minutes (override)')
    r.add_argument('--from', dest='start', metavar='STEP', help='resume the build folder at STEP (earlier steps\' files reused)')
    r.add_argument('--to', dest='stop', metavar='STEP', help='stop after STEP')
    r.set_defaults(func=_cmd_run)

    b = sub.add_parser('build', help='Vitis HLS + Vivado project for the hls4ml design; --bitstream runs the '
                       'vendor tools (exit 3 if they are not on PATH)')
    b.add_argument('--build', required=True, help='folder holding the hls4ml project (e.g. runs/<scene>)')
    b.add_argument('--bitstream', action='store_true', help='run Vitis HLS and Vivado through to the bitstream')
    b.add_argument('--part', help='XQRKU060 (default), ZU9EG, XC7Z020 (or a vendor part string)')
    b.add_argument('--board', help='ZCU102 or PYNQ-Z2 (implies the part; not with --part)')
    b.add_argument('--clock', type=float, help='accelerator clock in MHz (default 200; 100 for XC7Z020)')
    b.add_argument('--out', help='where to write vendor/ (default: the --build folder)')
    b.add_argument('--force', action='store_true', help='package a design the report says does not fit the part')
    b.set_defaults(func=_cmd_build)
    return p


def main(argv: list[str] | None = None) -> int:
    _quiet_libraries()
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except HsbinetError as e:
        from build_flows.steps import NotBitExact
        print(f'hsbinet {args.command}: error: {e.paragraph()}', file=sys.stderr)
        return EXIT_MISMATCH if isinstance(e, NotBitExact) else EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f'hsbinet {args.command}: interrupted (training checkpoints are written every epoch; '
              'use --resume to continue)', file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())

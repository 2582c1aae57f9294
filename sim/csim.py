"""C-simulation of a lowered hls4ml project against PyTorch and QONNX, on .h5 patches.

:func:`run_csim` verifies the project the lower step wrote (the one that ships), without
exporting or lowering again. For each patch of a HyperPanCollection file (MS (N,B,h,w),
PAN (N,1,H,W)):
  1. the inputs are put on the sensor's fixed-point grid fixed<io_bits> (round half to even,
     saturate: what the LR-HS and PAN streams carry);
  2. golden vectors: the eval-mode PyTorch model (the checkpoint) and the final QONNX graph the
     project was lowered from, run by qonnx (:mod:`sim.golden`);
  3. the project on disk is compiled with g++ through hls4ml's ``link_existing_project`` (no
     vendor tool; its build script also compiles the AXI4-Stream adapter, :mod:`hw.hls.axis`), and
     each patch runs through the adapter's top ``<project>_axis``: packed into TDATA beats with
     TLAST, unpacked (and band-padded) by the adapter, through the core, packed again. The
     patches run in parallel (:mod:`sim.parallel`): ``workers`` processes on this machine (default
     every core), each loading the compiled library once and running its patches in sequence, or
     the workers of a Dask cluster (``cluster``); outputs are merged in patch order, so the verdict
     is the serial one;
  4. the three NHWC outputs are compared element for element on the output's fixed-point grid,
     and the TLAST of every output beat with the adapter's specification.
The verdict JSON has ``bit_exact``, ``patches``, ``elements``, ``mismatches``, the first mismatch
(with the first differing layer from :mod:`sim.layer_trace`) and ``design_sha256``: the content
hash of the project that was compiled, the identity the report and the vendor project carry too.
``inject_fault=True`` compiles a copy of the project with one weight bit flipped
(:mod:`sim.fault`): the check must be able to fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from hw.design import BUILD_PRODUCTS, check_unchanged, load_design, project_dir, project_sha256
from hw.hls.axis import expected_out_last, geometry_of
from quant_models.common import HsbinetError, atomic_write_json, tree_sha256
from quant_models.data.hpc_format import read_hpc
from quant_models.train import model_from_checkpoint
from sim.compare import compare_exact, format_summary, to_fixed_ints, verdict, write_verdict
from sim.fault import inject_weight_fault
from sim.golden import golden_vectors, save_golden
from sim.layer_trace import first_mismatching_layer, trace_layers
from sim.parallel import CsimLibrary, run_frames


def _checked_model(checkpoint, design: dict, design_path: Path):
    model = model_from_checkpoint(checkpoint)
    lowered = design.get('model') or {}
    ours = model.cfg.to_dict()
    differ = sorted(k for k in lowered if k in ours and json.dumps(lowered[k]) != json.dumps(ours[k]))
    if differ:
        k = differ[0]
        raise HsbinetError('The checkpoint is not the model this design was lowered from', file=str(checkpoint),
                           key=f'model.{k}', expected=f'{lowered[k]!r} (from {design_path})', found=repr(ours[k]))
    return model


def _patches(test_h5, model, design: dict, patches: int):
    cfg = model.cfg
    data = read_hpc(test_h5, require_gt=False, expected_bands=cfg.bands, expected_ratio=cfg.ratio)
    n = min(patches, data.ms.shape[0])
    if n < 1:
        raise HsbinetError('No patches to simulate', file=str(test_h5), key='MS', expected='N >= 1', found='N = 0')
    frame = design['frame']
    if list(data.pan.shape[2:]) != [frame['height'], frame['width']]:
        raise HsbinetError('Test patches do not have the size the design was lowered for', file=str(test_h5),
                           key='PAN', expected=f'{frame["height"]} x {frame["width"]} PAN pixels',
                           found=f'{data.pan.shape[2]} x {data.pan.shape[3]}',
                           hint='export and lower for this patch size (`hsbinet export --patch`)')
    return data.ms[:n], data.pan[:n]


_COMPILED: dict[str, tuple[str, str, object]] = {}  # project folder -> (files sha256, library sha256, linked)


def _library_file_sha256(linked) -> str | None:
    lib = getattr(linked, '_top_function_lib', None)
    path = Path(getattr(lib, '_name', '') or '')
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def compile_project(prj: Path):
    """The hls4ml project in ``prj``, as written on disk, compiled with g++ and linked (predict() ready).

    Compiled once per process and content: a later call for the same folder whose files (every
    file but the build products, build script included) and compiled library are unchanged gets
    the same linked project back (serial and parallel runs, or repeated runs, share one compile)."""
    import yaml
    from hls4ml.converters import link_existing_project
    prj = Path(prj).resolve()
    hit = _COMPILED.get(str(prj))
    if hit is not None and hit[0] == tree_sha256(prj, ['.'], BUILD_PRODUCTS) and hit[1] == _library_file_sha256(hit[2]):
        return hit[2]
    # hls4ml writes the qonnx ModelWrapper into hls4ml_config.yml as a Python object tag, and its
    # link_existing_project ignores only Keras models' tags: ignore that one too (not needed to compile)
    yaml.add_multi_constructor('tag:yaml.org,2002:python/object', lambda loader, suffix, node: None,
                               Loader=yaml.SafeLoader)
    linked = link_existing_project(str(prj))
    linked.config.config['OutputDir'] = str(prj)  # the config names the folder it was written to, not a copy
    with contextlib.redirect_stdout(io.StringIO()):
        linked.compile()
    _COMPILED[str(prj)] = (tree_sha256(prj, ['.'], BUILD_PRODUCTS), _library_file_sha256(linked), linked)
    return linked


def _pad_bands(ms_nhwc: np.ndarray, design: dict) -> np.ndarray:
    """MS with the core's zero bands appended (what the adapter feeds the core)."""
    pad = design['frame']['core_bands'] - ms_nhwc.shape[-1]
    return np.pad(ms_nhwc, [(0, 0)] * 3 + [(0, pad)]) if pad else ms_nhwc


def _run_axis(linked, design: dict, ms_nhwc: np.ndarray, pan_nhwc: np.ndarray, frac: int, workers: int | None = 1,
              cluster=None):
    """Every patch through the compiled adapter + core (:mod:`sim.parallel`: in this process, in
    worker processes or on a Dask cluster): (NHWC outputs, (expected, got) TLAST of all beats, info)."""
    geo = geometry_of(design, design['axis']['tdata_bits'], design['axis']['tlast'])
    lib = linked._top_function_lib
    ms_int = np.stack([to_fixed_ints(m, frac, 'ms') for m in ms_nhwc])
    pan_int = np.stack([to_fixed_ints(p[..., 0], frac, 'pan') for p in pan_nhwc])
    y, last, info = run_frames(CsimLibrary.of(lib._name, design['project']), geo, ms_int, pan_int, workers=workers,
                               cluster=cluster, cdll=lib)
    want = np.tile(expected_out_last(geo), ms_nhwc.shape[0])
    return (y / float(2 ** frac)).astype(np.float64), (want, last.reshape(-1)), info


def run_csim(lowered_dir, checkpoint, test_h5, out_dir, patches: int = 4, inject_fault: bool = False,
             log: Callable[[str], None] = print, workers: int | None = None, cluster=None) -> dict:
    """Verify the lowered project in ``lowered_dir`` (design.json there or below); writes
    out_dir/verdict.json, golden.npz (and layer_trace.json on a mismatch); returns the verdict.

    ``workers``: processes simulating the patches on this machine (None: every core, 1: in this
    process); ``cluster``: a Dask scheduler address (or Client) to distribute them to instead
    (:mod:`sim.parallel`). The verdict does not depend on either; ``timings`` records them."""
    design, design_path = load_design(lowered_dir)
    prj = project_dir(design, design_path)
    final = design_path.parent / design.get('final_onnx', 'final.onnx')
    check_unchanged(design, design_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = _checked_model(checkpoint, design, design_path)
    ms, pan = _patches(test_h5, model, design, patches)
    n = ms.shape[0]
    timings = {}
    t = time.time()
    g = golden_vectors(model, final, ms, pan)
    timings['golden_s'] = time.time() - t
    save_golden(out_dir / 'golden.npz', g)

    t = time.time()
    fault = inject_weight_fault(prj, design, out_dir / 'fault_prj') if inject_fault else None
    sim_prj = Path(fault['project']) if fault else prj
    linked = compile_project(sim_prj)
    timings['compile_s'] = time.time() - t
    frac = design['io_bits'][0] - design['io_bits'][1]
    y_hls, tlast, run = _run_axis(linked, design, g['ms_nhwc'], g['pan_nhwc'], frac, workers, cluster)
    timings['csim_wall_s'] = run['wall_s']
    timings['csim_s_per_patch'] = run['wall_s'] / n  # wall time: what the workers bring
    timings['csim_frame_s'] = float(np.mean(run['frame_s']))  # one frame in one worker (mean)

    y_torch, y_qonnx = g['torch_nhwc'], g['qonnx_nhwc']
    comps = [compare_exact(y_torch, y_qonnx, frac, 'torch', 'qonnx'), compare_exact(y_torch, y_hls, frac, 'torch', 'csim'),
             compare_exact(y_qonnx, y_hls, frac, 'qonnx', 'csim'),
             compare_exact(tlast[0], tlast[1], 0, 'TLAST spec', 'csim TLAST')]
    first_layer = None
    if comps[2].exact and not comps[0].exact:
        # The accelerator computes what the QONNX graph computes on every patch; the float32 PyTorch
        # golden model is the one that departs (an integer sum beyond 2^24 or a tie rounded
        # differently in float32): no layer of the accelerator to trace.
        log('C-simulation == QONNX on every patch; PyTorch (float32) differs from both: the golden '
            'model is not exact in float32 for these weights and inputs (see comparisons in the verdict)')
    elif not all(c.exact for c in comps[1:3]):  # the accelerator departs: find the first layer that does
        t = time.time()
        bad = next(i for i in range(n) if not np.array_equal(y_hls[i], y_qonnx[i]))
        core = design_path.parent / design['core_onnx']
        rows = trace_layers(linked, design, sim_prj, core, _pad_bands(g['ms_nhwc'][bad:bad + 1], design),
                            g['pan_nhwc'][bad:bad + 1])
        atomic_write_json(out_dir / 'layer_trace.json', {'patch': bad, 'layers': rows})
        first_layer = first_mismatching_layer(rows)
        if first_layer is not None:
            f = first_layer
            log(f'layer trace (patch {bad}): first differing layer {f["layer"]} (ONNX {f["onnx_node"]}, '
                f'PyTorch {f["module"]}): {f["mismatches"]:,} of {f["elements"]:,} elements')
        timings['trace_s'] = time.time() - t
    v = verdict(comps, patches=n, layout='NHWC', frac_bits=frac, first_layer=first_layer)
    v.update({'design_sha256': design['sha256'] if fault is None else project_sha256(sim_prj),
              'lowered_sha256': design['sha256'], 'design': str(design_path), 'checkpoint': str(checkpoint),
              'test_file': str(test_h5), 'backend': design['backend'], 'patch_pan_hw': list(pan.shape[2:]),
              'bands': model.cfg.bands, 'core_bands': design['frame']['core_bands'],
              'hidden': model.cfg.hidden, 'axis': design.get('axis'), 'fault_injected': fault,
              'golden_float32': design.get('golden_float32'),  # None for a design lowered before the check
              'timings': {**{k: round(x, 3) for k, x in timings.items()}, 'csim_mode': run['mode'],
                          'csim_workers': run['workers']},
              'artifacts': {'final_qonnx': str(final), 'hls4ml_project': str(sim_prj), 'design': str(design_path),
                            'golden': str(out_dir / 'golden.npz')}})
    write_verdict(out_dir / 'verdict.json', v)
    log(format_summary(v) + f'\n  design {v["design_sha256"][:16]}; C-simulation: {n} patches, {run["mode"]} '
        f'({run["workers"]} worker{"s" * (run["workers"] != 1)}), {run["wall_s"]:.1f} s')
    return v

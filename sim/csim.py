"""C-simulation of a lowered hls4ml project against PyTorch and QONNX, on .h5 patches.

:func:`run_csim` verifies the project the lower step wrote (the one that ships), without
exporting or lowering again. For each patch of a HyperPanCollection file (MS (N,B,h,w),
PAN (N,1,H,W)):
  1. the inputs are put on the sensor's fixed-point grid fixed<io_bits> (round half to even,
     saturate: what the LR-HS and PAN streams carry);
  2. golden vectors: the eval-mode PyTorch model (the checkpoint) and the final QONNX graph the
     project was lowered from, run by qonnx (:mod:`sim.golden`);
  3. the project on disk is compiled with g++ through hls4ml's ``link_existing_project`` (no
     vendor tool) and runs the same inputs;
  4. the three NHWC outputs are compared element for element on the output's fixed-point grid.
The verdict JSON has ``bit_exact``, ``patches``, ``elements``, ``mismatches``, the first mismatch
(with the first differing layer from :mod:`sim.layer_trace`) and ``design_sha256``: the content
hash of the project that was compiled, the identity the report and the vendor project carry too.
``inject_fault=True`` compiles a copy of the project with one weight bit flipped
(:mod:`sim.fault`): the check must be able to fail.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from hw.design import check_unchanged, load_design, project_dir, project_sha256
from quant_models.common import HsbinetError, atomic_write_json
from quant_models.data.hpc_format import read_hpc
from quant_models.train import model_from_checkpoint
from sim.compare import compare_exact, format_summary, verdict, write_verdict
from sim.fault import inject_weight_fault
from sim.golden import golden_vectors, save_golden
from sim.layer_trace import first_mismatching_layer, trace_layers


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


def compile_project(prj: Path):
    """The hls4ml project in ``prj``, as written on disk, compiled with g++ and linked (predict() ready)."""
    import yaml
    from hls4ml.converters import link_existing_project
    # hls4ml writes the qonnx ModelWrapper into hls4ml_config.yml as a Python object tag, and its
    # link_existing_project ignores only Keras models' tags: ignore that one too (not needed to compile)
    yaml.add_multi_constructor('tag:yaml.org,2002:python/object', lambda loader, suffix, node: None,
                               Loader=yaml.SafeLoader)
    linked = link_existing_project(str(prj))
    linked.config.config['OutputDir'] = str(prj)  # the config names the folder it was written to, not a copy
    with contextlib.redirect_stdout(io.StringIO()):
        linked.compile()
    return linked


def run_csim(lowered_dir, checkpoint, test_h5, out_dir, patches: int = 4, inject_fault: bool = False,
             log: Callable[[str], None] = print) -> dict:
    """Verify the lowered project in ``lowered_dir`` (design.json there or below); writes
    out_dir/verdict.json, golden.npz (and layer_trace.json on a mismatch); returns the verdict."""
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
    t = time.time()
    y_hls = np.concatenate([np.asarray(linked.predict([g['ms_nhwc'][i:i + 1], g['pan_nhwc'][i:i + 1]]))
                            .reshape(g['torch_nhwc'][i:i + 1].shape) for i in range(n)], axis=0)
    timings['csim_s_per_patch'] = (time.time() - t) / n

    frac = design['io_bits'][0] - design['io_bits'][1]
    y_torch, y_qonnx = g['torch_nhwc'], g['qonnx_nhwc']
    comps = [compare_exact(y_torch, y_qonnx, frac, 'torch', 'qonnx'), compare_exact(y_torch, y_hls, frac, 'torch', 'csim'),
             compare_exact(y_qonnx, y_hls, frac, 'qonnx', 'csim')]
    first_layer = None
    if not all(c.exact for c in comps[1:]):  # the accelerator departs: find the first layer that does
        t = time.time()
        bad = next(i for i in range(n) if not np.array_equal(y_hls[i], y_qonnx[i]))
        rows = trace_layers(linked, design, sim_prj, final, g['ms_nhwc'][bad:bad + 1], g['pan_nhwc'][bad:bad + 1])
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
              'bands': model.cfg.bands, 'hidden': model.cfg.hidden, 'fault_injected': fault,
              'timings': {k: round(x, 3) for k, x in timings.items()},
              'artifacts': {'final_qonnx': str(final), 'hls4ml_project': str(sim_prj), 'design': str(design_path),
                            'golden': str(out_dir / 'golden.npz')}})
    write_verdict(out_dir / 'verdict.json', v)
    log(format_summary(v) + f'\n  design {v["design_sha256"][:16]}')
    return v

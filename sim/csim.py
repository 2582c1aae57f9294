"""C-simulation of the lowered accelerator against PyTorch and QONNX, on .h5 patches.

For each patch of a HyperPanCollection file (MS (N,B,h,w), PAN (N,1,H,W)):
  1. the inputs are put on the sensor's fixed-point grid fixed<io_bits> (round half to even,
     saturate: what the LR-HS and PAN streams carry);
  2. golden vectors: the eval-mode PyTorch model and the final QONNX graph run by qonnx;
  3. the hls4ml project (g++ ``compile()`` + ``predict()``, no vendor tool) runs the same inputs;
  4. the three NHWC outputs are compared element for element on the output's fixed-point grid.
The verdict JSON has ``bit_exact``, ``patches``, ``elements``, ``mismatches`` and the first
mismatch. ``inject_fault=True`` flips one bit of one binary weight in the generated firmware
(the check must be able to fail).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from hw.export import build_final_qonnx, execute_final, export_qonnx, nhwc
from hw.design import write_design
from hw.hls4ml_lower import lower_hls4ml
from quant_models.data.hpc_format import read_hpc
from quant_models.errors import HsbinetError
from quant_models.layers import fixed_point_act
from quant_models.train import model_from_checkpoint
from sim.compare import compare_exact, format_summary, verdict, write_verdict
from sim.layer_trace import first_mismatching_layer, trace_layers


def inject_weight_fault(hls_model, layer_name: str | None = None) -> dict:
    """Flip the least-significant bit of one weight of the output projection in the generated design.

    ``layer_name`` picks another layer with fixed-point weights instead (tests of the layer trace).

    The last conv before the output (the decoder's int8 C -> B projection) reaches every output
    pixel linearly, so the flip cannot hide behind a later binarisation. The flip is made in the
    hls4ml model's weight array and the project is rewritten and recompiled, so the generated
    firmware (``firmware/weights/<w>.txt`` read by the C-simulation and the ``.h`` read by
    synthesis) carries it, and so does any later recompilation (e.g. the layer trace).
    """
    from hls4ml.model.types import FixedPrecisionType
    for layer in reversed(list(hls_model.get_layers())):
        w = layer.weights.get('weight')
        if w is None or not isinstance(w.type.precision, FixedPrecisionType):
            continue
        if layer_name is not None and layer.name != layer_name:
            continue
        p = w.type.precision
        lsb = 2.0 ** -(p.width - p.integer)
        old = float(w.data.flat[0])
        new = (round(old / lsb) ^ 1) * lsb  # flip bit 0 of the stored integer
        data = np.array(w.data)  # hls4ml may hand out a read-only view of the ONNX initialiser
        data.flat[0] = new
        w.data = data
        hls_model.compile()
        txt = Path(hls_model.config.get_output_dir()) / 'firmware' / 'weights' / f'{w.name}.txt'
        written = float(txt.read_text().split(',')[0])
        if written != new:
            raise RuntimeError(f'fault injection did not reach {txt}: first value {written!r}, expected {new!r}')
        return {'layer': layer.name, 'weight': w.name, 'index': 0, 'from': old, 'to': new, 'bit': 0,
                'precision': str(p)}
    raise HsbinetError('No fixed-point weight found to inject a fault into', key='hls4ml model')


def run_csim(checkpoint, test_h5, out_dir, patches: int = 4, backend: str = 'Vitis', inject_fault: bool = False,
             log: Callable[[str], None] = print) -> dict:
    """Golden vectors, lowering, C-simulation and the verdict (written to out_dir/verdict.json)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model_from_checkpoint(checkpoint)
    cfg = model.cfg
    if cfg.profile != 'hardware':
        raise HsbinetError('Only the hardware profile can be lowered', key='model.profile', expected='hardware',
                           found=cfg.profile)
    data = read_hpc(test_h5, require_gt=False, expected_bands=cfg.bands, expected_ratio=cfg.ratio)
    n = min(patches, data.ms.shape[0])
    if n < 1:
        raise HsbinetError('No patches to simulate', file=str(test_h5), key='MS', expected='N >= 1', found='N = 0')
    quant = fixed_point_act(*cfg.io_bits).eval()
    with torch.no_grad():
        ms = quant(torch.from_numpy(data.ms[:n]))
        pan = quant(torch.from_numpy(data.pan[:n]))
        y_torch = nhwc(model(ms, pan).numpy())
    timings = {}
    t = time.time()
    raw = export_qonnx(model, out_dir / 'raw.onnx', patch=tuple(pan.shape[2:]), log=log)
    final = build_final_qonnx(raw, out_dir / 'final.onnx')
    timings['export_s'] = time.time() - t
    t = time.time()
    y_qonnx = execute_final(str(final), nhwc(ms.numpy()), nhwc(pan.numpy()))
    timings['qonnx_s'] = time.time() - t
    np.savez_compressed(out_dir / 'golden.npz', ms_nhwc=nhwc(ms.numpy()), pan_nhwc=nhwc(pan.numpy()),
                        torch_nhwc=y_torch, qonnx_nhwc=y_qonnx)

    t = time.time()
    hm, table = lower_hls4ml(final, out_dir / 'hls4ml_prj', backend=backend, io_bits=cfg.io_bits)
    (out_dir / 'precisions.json').write_text(json.dumps(table, indent=1))
    write_design(hm, out_dir / 'design.json')
    timings['convert_s'] = time.time() - t
    t = time.time()
    if inject_fault:
        fault = inject_weight_fault(hm)  # flips the bit, then writes and compiles the project
    else:
        fault = None
        hm.compile()
    timings['compile_s'] = time.time() - t
    t = time.time()
    outs = [np.asarray(hm.predict([nhwc(ms[i:i + 1].numpy()), nhwc(pan[i:i + 1].numpy())])).reshape(y_torch[i:i + 1].shape)
            for i in range(n)]
    y_hls = np.concatenate(outs, axis=0)
    timings['csim_s_per_patch'] = (time.time() - t) / n

    frac = cfg.io_bits[0] - cfg.io_bits[1]
    comps = [compare_exact(y_torch, y_qonnx, frac, 'torch', 'qonnx'), compare_exact(y_torch, y_hls, frac, 'torch', 'csim'),
             compare_exact(y_qonnx, y_hls, frac, 'qonnx', 'csim')]
    first_layer = None
    if not all(c.exact for c in comps[1:]):  # the accelerator departs: find the first layer that does
        t = time.time()
        bad = next(i for i in range(n) if not np.array_equal(y_hls[i], y_qonnx[i]))
        rows = trace_layers(hm, final, nhwc(ms[bad:bad + 1].numpy()), nhwc(pan[bad:bad + 1].numpy()))
        (out_dir / 'layer_trace.json').write_text(json.dumps({'patch': bad, 'layers': rows}, indent=1))
        first_layer = first_mismatching_layer(rows)
        if first_layer is not None:
            f = first_layer
            log(f'layer trace (patch {bad}): first differing layer {f["layer"]} (ONNX {f["onnx_node"]}, '
                f'PyTorch {f["module"]}): {f["mismatches"]:,} of {f["elements"]:,} elements')
        timings['trace_s'] = time.time() - t
    v = verdict(comps, patches=n, layout='NHWC', frac_bits=frac, first_layer=first_layer)
    v.update({'checkpoint': str(checkpoint), 'test_file': str(test_h5), 'backend': backend,
              'patch_pan_hw': list(pan.shape[2:]), 'bands': cfg.bands, 'hidden': cfg.hidden,
              'fault_injected': fault, 'timings': {k: round(x, 3) for k, x in timings.items()},
              'artifacts': {'raw_qonnx': str(raw), 'final_qonnx': str(final), 'hls4ml_project': str(out_dir / 'hls4ml_prj'),
                            'precisions': str(out_dir / 'precisions.json'),
                            'design': str(out_dir / 'design.json'), 'golden': str(out_dir / 'golden.npz')}})
    write_verdict(out_dir / 'verdict.json', v)
    log(format_summary(v))
    return v

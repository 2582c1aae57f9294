"""The first half of the bit-exact contract: eval-mode PyTorch == qonnx ``execute_onnx`` of the
final graph, element for element on the output's fixed-point grid (``np.array_equal`` on integers,
no tolerance), plus a description of the graph that was checked (op histogram, Transposes, I/O)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from qonnx.core.modelwrapper import ModelWrapper

from hw.export.graph import op_histogram
from quant_models.common import HsbinetError
from sim.compare import compare_exact
from sim.golden import execute_final, nhwc, torch_golden


def check_inputs(cfg, ms: torch.Tensor, pan: torch.Tensor) -> None:
    if ms.ndim != 4 or pan.ndim != 4 or pan.shape[1] != 1 or ms.shape[1] != cfg.bands or ms.shape[0] != pan.shape[0] \
            or tuple(pan.shape[2:]) != (ms.shape[2] * cfg.ratio, ms.shape[3] * cfg.ratio):
        raise HsbinetError('Input shapes do not fit the model', key='ms/pan',
                           expected=f'ms (N, {cfg.bands}, h, w) and pan (N, 1, {cfg.ratio}h, {cfg.ratio}w)',
                           found=f'ms {list(ms.shape)}, pan {list(pan.shape)}')


def verify_qonnx(model, final_onnx: str | Path, ms, pan, log: Callable[[str], None] = print) -> dict:
    """Check ``model`` (eval mode) against ``final_onnx`` on NCHW ``ms`` (N, B, h, w), ``pan`` (N, 1, H, W).

    Returns ``{'bit_exact', 'mismatches', 'n_elements', 'max_abs_diff', 'first_mismatch', 'ops',
    'transposes', 'inputs', 'output', 'final'}``.
    """
    ms_t = torch.as_tensor(np.asarray(ms, dtype=np.float32))
    pan_t = torch.as_tensor(np.asarray(pan, dtype=np.float32))
    cfg = model.cfg
    check_inputs(cfg, ms_t, pan_t)
    qmodel = ModelWrapper(str(final_onnx))
    y_torch = torch_golden(model, ms_t, pan_t)
    y_qonnx = execute_final(qmodel, nhwc(ms_t.numpy()), nhwc(pan_t.numpy()))
    cmp = compare_exact(y_torch, y_qonnx, cfg.io_bits[0] - cfg.io_bits[1], 'torch', 'qonnx')
    ops = op_histogram(qmodel)
    result = {'bit_exact': cmp.exact, 'mismatches': cmp.mismatches, 'n_elements': cmp.elements,
              'max_abs_diff': cmp.max_abs_diff, 'first_mismatch': None if cmp.exact else {
                  'index': cmp.first_index, 'reference': cmp.reference_value, 'candidate': cmp.candidate_value},
              'ops': ops, 'transposes': ops.get('Transpose', 0),
              'inputs': {i.name: list(qmodel.get_tensor_shape(i.name)) for i in qmodel.graph.input},
              'output': list(qmodel.get_tensor_shape(qmodel.graph.output[0].name)), 'final': str(final_onnx)}
    log(f'torch vs qonnx: {"bit-exact" if result["bit_exact"] else "MISMATCH"} '
        f'({result["mismatches"]}/{result["n_elements"]} elements differ, max |diff| {result["max_abs_diff"]:.3g})')
    return result

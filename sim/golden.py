"""Golden vectors: what the eval-mode PyTorch model and the final QONNX graph compute.

Both references of the bit-exact contract, on the same inputs and in the accelerator's layout:
inputs on the sensor's fixed-point grid ``fixed<io_bits>`` (round half to even, saturate: what the
LR-HS and PAN streams carry), outputs NHWC (N, H, W, B) float arrays whose values lie on the
output grid (2^-(W-I) of ``fixed<io_bits>``). ``golden.npz`` holds ``ms_nhwc``, ``pan_nhwc``,
``torch_nhwc``, ``qonnx_nhwc``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import torch
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx

from quant_models.common import atomic_write
from quant_models.layers import fixed_point_act

onnxruntime.set_default_logger_severity(3)  # qonnx runs one node per session: silence per-node opset warnings


def nhwc(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> contiguous (N, H, W, C)."""
    return np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))


def on_io_grid(model, ms, pan) -> tuple[torch.Tensor, torch.Tensor]:
    """NCHW ``ms`` (N, B, h, w) and ``pan`` (N, 1, H, W) put on the model's fixed<io_bits> input grid."""
    quant = fixed_point_act(*model.cfg.io_bits).eval()
    with torch.no_grad():
        return (quant(torch.as_tensor(np.asarray(ms, dtype=np.float32))),
                quant(torch.as_tensor(np.asarray(pan, dtype=np.float32))))


def torch_golden(model, ms: torch.Tensor, pan: torch.Tensor) -> np.ndarray:
    """Eval-mode PyTorch output, NHWC; the model's training mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            y = model(ms, pan)
    finally:
        model.train(was_training)
    return nhwc(y.detach().numpy())


def execute_final(model_or_path, ms_nhwc: np.ndarray, pan_nhwc: np.ndarray) -> np.ndarray:
    """Run the final graph with qonnx ``execute_onnx``, one sample at a time (the export fixes
    batch 1); inputs and output are NHWC float32."""
    model = model_or_path if isinstance(model_or_path, ModelWrapper) else ModelWrapper(str(model_or_path))
    in_ms, in_pan = (i.name for i in model.graph.input)
    out = model.graph.output[0].name
    ys = []
    for n in range(ms_nhwc.shape[0]):
        feed = {in_ms: np.ascontiguousarray(ms_nhwc[n:n + 1], dtype=np.float32),
                in_pan: np.ascontiguousarray(pan_nhwc[n:n + 1], dtype=np.float32)}
        ys.append(execute_onnx(model, feed)[out])
    return np.concatenate(ys, axis=0)


def golden_vectors(model, final_onnx, ms, pan) -> dict[str, np.ndarray]:
    """Inputs on the io grid and both references, NHWC: ``ms_nhwc``, ``pan_nhwc``, ``torch_nhwc``,
    ``qonnx_nhwc`` (``ms``/``pan`` NCHW, any float values)."""
    ms_q, pan_q = on_io_grid(model, ms, pan)
    ms_n, pan_n = nhwc(ms_q.numpy()), nhwc(pan_q.numpy())
    return {'ms_nhwc': ms_n, 'pan_nhwc': pan_n, 'torch_nhwc': torch_golden(model, ms_q, pan_q),
            'qonnx_nhwc': execute_final(final_onnx, ms_n, pan_n)}


def save_golden(path: str | Path, vectors: dict[str, np.ndarray]) -> Path:
    return atomic_write(path, lambda p: np.savez_compressed(p, **vectors))  # the temporary name ends in .npz

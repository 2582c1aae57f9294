"""Raw Brevitas QONNX export of the hardware-profile HS-BiNet (NCHW, batch 1).

:func:`export_qonnx` exports an ``HSBiNet`` (or a checkpoint) for a PAN patch (H, W); the MS input
is (H/ratio, W/ratio). The raw graph is NCHW, as PyTorch; :mod:`hw.export.final_graph` turns it
into the channels-last graph hls4ml lowers. The model's configuration (``HSBiNetConfig.to_dict()``)
travels with the graph as the metadata entry :data:`MODEL_CONFIG_KEY`, so lowering records it in
design.json instead of guessing it back (:func:`model_config_of`).
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path
from typing import Callable

import torch

from qonnx.core.modelwrapper import ModelWrapper

from quant_models.common import HsbinetError

MODEL_CONFIG_KEY = 'hsbinet.model_config'


def _load_model(model_or_checkpoint) -> torch.nn.Module:
    if isinstance(model_or_checkpoint, torch.nn.Module):
        model = model_or_checkpoint
    else:
        from quant_models.train import model_from_checkpoint
        model = model_from_checkpoint(model_or_checkpoint)
    cfg = getattr(model, 'cfg', None)
    if cfg is None or not hasattr(cfg, 'ratio') or not hasattr(cfg, 'bands'):
        raise HsbinetError('Not a model of this toolchain', key='model', expected='a model of quant_models.archs '
                           'or a checkpoint written by `hsbinet train`', found=type(model).__name__)
    if cfg.profile != 'hardware':
        raise HsbinetError('Only the hardware profile can be exported to hardware', key='model.profile',
                           expected="'hardware'", found=repr(cfg.profile),
                           hint='the paper profile has a deformable upsampler and float layers')
    if not getattr(cfg, 'binary', True):
        raise HsbinetError('The full-precision twin cannot be exported to hardware', key='model.binary',
                           expected='true (a binary network)', found='false',
                           hint='model.binary: false replaces every binary conv by a float conv, which the '
                                'binary (XNOR-popcount) hardware cannot compute; it exists for accuracy comparisons '
                                '(benchmarks/accuracy.py)')
    return model


def _check_patch(patch, ratio: int) -> tuple[int, int]:
    try:
        H, W = (int(v) for v in patch)
    except (TypeError, ValueError):
        raise HsbinetError('Bad patch size', key='patch', expected='(H, W) of the PAN patch',
                           found=repr(patch)) from None
    if H < ratio or W < ratio or H % ratio or W % ratio:
        raise HsbinetError('PAN patch size must be a positive multiple of the ratio', key='patch',
                           expected=f'H and W multiples of {ratio}', found=f'({H}, {W})')
    return H, W


def _default_opset_first(model: ModelWrapper) -> None:
    """Put the default ONNX domain first in ``opset_import`` (in place).

    Why: qonnx's FoldConstants executes each foldable node with ``opset_import[0].version`` as the
    ONNX opset, and the Brevitas export lists qonnx's own domain (version 2) first, so a standard
    node to fold runs as opset 2 ("Could not find an implementation for Mul(1)"). HS-BiNet's graph
    has no such node; S2BNet-style's Gabor modulation W * G is one when torch does not fold it
    itself (from C = 64).
    """
    imports = sorted(model.model.opset_import, key=lambda o: o.domain not in ('', 'ai.onnx'))
    del model.model.opset_import[:]
    model.model.opset_import.extend(imports)


def export_qonnx(model_or_checkpoint, out_path, patch=(64, 64), log: Callable[[str], None] = print) -> Path:
    """Raw Brevitas QONNX export (NCHW, batch 1) of a hardware-profile model (any ``model.arch``).

    ``model_or_checkpoint``: an ``HSBiNet`` module or a checkpoint (path or loaded dict).
    ``patch``: (H, W) of the PAN input; MS is (H/ratio, W/ratio). The model is exported in eval
    mode and put back into its previous mode afterwards.
    """
    model = _load_model(model_or_checkpoint)
    cfg = model.cfg
    H, W = _check_patch(patch, cfg.ratio)
    if getattr(cfg, 'attention_rows', 0) and H % cfg.attention_rows:
        raise HsbinetError('The attention block does not divide the frame', key='model.attention_rows',
                           expected=f'a divisor of the PAN frame height {H}', found=str(cfg.attention_rows))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    ms = torch.rand(1, cfg.bands, H // cfg.ratio, W // cfg.ratio, generator=gen)
    pan = torch.rand(1, 1, H, W, generator=gen)
    from brevitas.export import export_qonnx as brevitas_export_qonnx

    was_training = model.training
    model.eval()
    # H8 (block-pooled attention): the traced graph keeps the frame's GAP pattern, which
    # FuseChannelGate turns into a ChannelGate with block_rows from the model configuration carried
    # below; the final graph is then checked against this model (block-pooled) bit for bit.
    decoder = getattr(model, 'decoder', None)  # HS-BiNet's; other architectures have no channel attention
    if decoder is not None:
        decoder.export_frame_pool = True
    try:  # torch.onnx prints its progress to stdout and warns about unrelated ops: keep it quiet
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter('ignore')
            brevitas_export_qonnx(model, args=(ms, pan), export_path=str(out_path))
    finally:
        if decoder is not None:
            decoder.export_frame_pool = False
        model.train(was_training)
    raw = ModelWrapper(str(out_path))
    _default_opset_first(raw)
    raw.set_metadata_prop(MODEL_CONFIG_KEY, json.dumps(cfg.to_dict()))
    raw.save(str(out_path))
    log(f'exported raw QONNX (B={cfg.bands}, C={cfg.hidden}, PAN {H}x{W}) -> {out_path}')
    return out_path


def model_config_of(model_or_path) -> dict | None:
    """The model configuration an exported graph carries (raw or final QONNX), or None."""
    m = model_or_path if isinstance(model_or_path, ModelWrapper) else ModelWrapper(str(model_or_path))
    text = m.get_metadata_prop(MODEL_CONFIG_KEY)
    return json.loads(text) if text else None

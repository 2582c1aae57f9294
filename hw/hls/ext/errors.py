"""Error raised by the hls4ml extension (conversion-time validation of the custom nodes)."""

from __future__ import annotations

from quant_models.common import HsbinetError


class HlsExtensionError(HsbinetError, ValueError):
    """A custom ONNX node (BilinearResize / ChannelGate) that cannot be lowered exactly.

    Raised during ``hls4ml.converters.convert_from_onnx_model`` (or ``config_from_onnx_model``)
    with one paragraph naming the node, the attribute / tensor and what was expected vs. found.
    It is an :class:`HsbinetError` (the CLI prints it without a traceback) and a ``ValueError``.
    """

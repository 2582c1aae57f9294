"""hls4ml 1.3.0 extension layers: ``BilinearResize``, ``ChannelGate``, ``HaarDWT``, ``HaarIDWT`` (io_stream).

Call :func:`register_extensions` once before ``hls4ml.utils.config_from_onnx_model`` /
``hls4ml.converters.convert_from_onnx_model``; it is idempotent. It registers, through hls4ml's
extension API:

- the IR layers (``hls4ml.model.layers.register_layer``): :class:`BilinearResize`,
  :class:`ChannelGate`, :class:`HaarDWT`, :class:`HaarIDWT` (``layers.py``);
- the ONNX handlers (``hls4ml.converters.register_onnx_layer_handler``), keyed on the node's
  ``op_type`` whatever its domain (``onnx_handlers.py``);
- two backend-independent optimizer passes, inserted into hls4ml's ``parse_qonnx`` and
  ``convert`` flows (``passes.py``);
- config and function-call templates on the Vivado and Vitis backends
  (``backend.register_template``, ``templates.py``);
- the HLS implementation ``nnet_hsbinet_ext_stream.h`` (``backend.register_source``; copied to
  ``firmware/nnet_utils/`` of every generated project).

Custom ONNX node contract (NHWC, batch 1; see hw/custom_ops.py for the reference semantics):
``BilinearResize(X) {ratio}``, ``ChannelGate(X, W, K) {channels, gate_frac_bits}`` with W, K
graph initializers, ``HaarDWT(X)`` and ``HaarIDWT(X)``. hls4ml needs a shape for every node input in ``graph.value_info`` (or the
graph inputs/outputs): run qonnx ``InferShapes`` (it knows both ops when ``hw.custom_ops`` is
importable) or :func:`annotate_shapes`, which adds the value_info of the custom nodes' outputs and
of their initializer inputs.
"""

from __future__ import annotations

from pathlib import Path

from .errors import HlsExtensionError
from .layers import BilinearResize, ChannelGate, HaarDWT, HaarIDWT
from .onnx_shapes import annotate_shapes
from .precision import bilinear_result_precision, gate_result_precision

__all__ = [
    'BilinearResize',
    'ChannelGate',
    'HEADER_PATH',
    'HaarDWT',
    'HaarIDWT',
    'HlsExtensionError',
    'annotate_shapes',
    'bilinear_result_precision',
    'gate_result_precision',
    'register_extensions',
]

HEADER_PATH = Path(__file__).resolve().with_name('nnet_hsbinet_ext_stream.h')
BACKENDS = ('Vivado', 'Vitis')

PASS_GATE_CONSTANTS = 'hsbinet_ext_channel_gate_constants'
PASS_INFER_PRECISION = 'hsbinet_ext_infer_precision'
PASS_PER_CHANNEL_SCALE = 'hsbinet_per_channel_scale'


def _insert_into_flow(flow_name: str, opt_name: str, before: str | None = None) -> None:
    from hls4ml.model.flow import get_flow

    flow = get_flow(flow_name)
    opts = flow.optimizers  # the flow's own list for a static Flow
    if opt_name in opts:
        return
    if before is not None and before in opts:
        opts.insert(opts.index(before), opt_name)
    else:
        opts.append(opt_name)


def register_extensions(backends=BACKENDS) -> None:
    """Register the extension layers with hls4ml (layers, ONNX handlers, passes, templates, C++ header).

    Safe to call any number of times. ``backends``: hls4ml backend names to register templates and
    the header on (Vivado and Vitis by default; Vitis also runs the Vivado templates).
    """
    import hls4ml  # noqa: F401  (populates the registries first)
    from hls4ml.backends import get_backend
    from hls4ml.converters.onnx_to_hls import layer_handlers, register_onnx_layer_handler
    from hls4ml.model.layers import layer_map, register_layer
    from hls4ml.model.optimizer import get_available_passes, register_pass

    from . import passes
    from .onnx_handlers import HANDLERS
    from .templates import TEMPLATES

    if not HEADER_PATH.is_file():
        raise HlsExtensionError(f'the HLS header of the extension is missing: {HEADER_PATH} (install the package '
                                'with its *.h data files)')

    def fqn(obj):
        return f'{obj.__module__}.{obj.__qualname__}'

    for cls in (BilinearResize, ChannelGate, HaarDWT, HaarIDWT):
        existing = layer_map.get(cls.__name__)
        if existing is not None and fqn(existing) != fqn(cls):
            raise HlsExtensionError(f'hls4ml already has a different layer named {cls.__name__}: {fqn(existing)}')
        register_layer(cls.__name__, cls)

    for op_type, handler in HANDLERS.items():
        existing = layer_handlers.get(op_type)
        if existing is None:
            register_onnx_layer_handler(op_type, handler)
        elif existing is not handler:
            if fqn(existing) != fqn(handler):
                raise HlsExtensionError(f'hls4ml already has an ONNX handler for op_type {op_type}: {fqn(existing)}')
            layer_handlers[op_type] = handler  # same function re-imported (e.g. importlib.reload)

    available = set(get_available_passes())
    if PASS_GATE_CONSTANTS not in available:
        register_pass(PASS_GATE_CONSTANTS, passes.ChannelGateRemoveConstants)
    if PASS_INFER_PRECISION not in available:
        register_pass(PASS_INFER_PRECISION, passes.HsbinetExtInferPrecision)
    if PASS_PER_CHANNEL_SCALE not in available:
        register_pass(PASS_PER_CHANNEL_SCALE, passes.PerChannelScale)
    _insert_into_flow('parse_qonnx', PASS_GATE_CONSTANTS)
    _insert_into_flow('parse_qonnx', PASS_PER_CHANNEL_SCALE)
    _insert_into_flow('convert', PASS_PER_CHANNEL_SCALE, before='fuse_consecutive_batch_normalization')
    _insert_into_flow('convert', PASS_INFER_PRECISION, before='infer_precision_types')

    for backend_name in backends:
        backend = get_backend(backend_name)
        prefix = backend.name.lower() + ':'
        for template_cls in TEMPLATES:
            if prefix + template_cls().get_name() not in available:
                backend.register_template(template_cls)
        backend.register_source(HEADER_PATH)  # a dict keyed by destination: idempotent

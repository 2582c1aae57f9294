"""Optimizer passes of the extension (backend independent, added to hls4ml's generic flows).

- ``hsbinet_ext_channel_gate_constants`` (flow ``parse_qonnx``): removes the Constant layers of
  the ChannelGate's W and K (already read by the ONNX handler) and keeps X as its only input.
- ``hsbinet_ext_infer_precision`` (flow ``convert``, placed before ``infer_precision_types`` so
  that hls4ml never gives these layers the model default): once the input precision is known,
  sets BilinearResize's exact result / accumulator / weight types and HaarDWT/HaarIDWT's exact
  result type, and checks io_stream and the input precision of the layers.
- ``hsbinet_per_channel_scale`` (flow ``parse_qonnx``, last): hls4ml turns every Quant with a
  non-unit scale into ApplyAlpha layers whose scale and bias are the scalar broadcast to the
  whole tensor (``QuantToAlphaMultiplyAdd``: ``np.broadcast_to(scale, inshape)``, n_filt = -1), and
  keeps such arrays when it fuses them into a BatchNormalization. The kernel then indexes one
  scale per pixel and channel, completely partitioned: a register file the size of the frame per
  layer (1 M entries each at 128 x 128 x 64, 36 M at a 544 x 1,032 swath tile), hundreds of MB
  of weight text, and a conversion that takes minutes. When the values are the same at every
  pixel (always, for a per-tensor or per-channel Quant scale) this keeps one value per channel
  (n_filt = C: the kernel indexes ``j % n_filt``), the same arithmetic; other layers are left
  as they are.
"""

from __future__ import annotations

import warnings

import numpy as np
from hls4ml.model.layers import BatchNormalization, Constant
from hls4ml.model.optimizer import OptimizerPass
from hls4ml.model.types import NamedType, UnspecifiedPrecisionType, XnorPrecisionType

from .errors import HlsExtensionError
from .precision import (
    bilinear_accum_precision,
    bilinear_result_precision,
    bilinear_weight_precision,
    haar_accum_precision,
    haar_result_precision,
    holds_exactly,
)


class ChannelGateRemoveConstants(OptimizerPass):
    def match(self, node):
        return node.class_name == 'ChannelGate' and len(node.inputs) > 1

    def transform(self, model, node):
        for inp in node.inputs[1:]:
            const = node.get_input_node(inp)
            if const is None:
                continue
            if not isinstance(const, Constant):
                raise HlsExtensionError(f'ChannelGate {node.name}: input {inp!r} must be a constant (W or K), found '
                                        f'layer {const.name} ({const.class_name})')
            other_users = [n for n in model.graph.values() if n is not node and inp in n.inputs]
            if not other_users:
                model.remove_node(const)
        node.inputs = node.inputs[:1]
        return True


def check_io_stream(node) -> None:
    io_type = node.model.config.get_config_value('IOType')
    if io_type != 'io_stream':
        raise HlsExtensionError(f'{node.class_name} {node.name}: only io_type="io_stream" is implemented; '
                                f'found {io_type!r}')


def check_gate_input(node) -> bool:
    """True if the ChannelGate input is hls4ml's 1-bit XNOR encoding; error if it cannot hold +-1."""
    p = node.get_input_variable().type.precision
    if isinstance(p, XnorPrecisionType):
        return True
    if isinstance(p, UnspecifiedPrecisionType) or not getattr(p, 'signed', False):
        raise HlsExtensionError(f'ChannelGate {node.name}: the input must hold +-1: a 1-bit XNOR type (e.g. after a '
                                f'BipolarQuant) or a signed type such as ap_int<2>; found {p}')
    return False


class HsbinetExtInferPrecision(OptimizerPass):
    def match(self, node):
        if node.class_name not in EXT_CLASSES or node.get_attr('hsbinet_ext_typed', False):
            return False
        inp = node.get_input_variable()
        return inp is not None and not isinstance(inp.type.precision, UnspecifiedPrecisionType)

    def transform(self, model, node):
        check_io_stream(node)
        if node.class_name == 'ChannelGate':
            check_gate_input(node)
        elif node.class_name == 'BilinearResize':
            set_bilinear_types(node)
        else:
            set_haar_types(node)
        node.set_attr('hsbinet_ext_typed', True)
        return False


EXT_CLASSES = ('BilinearResize', 'ChannelGate', 'HaarDWT', 'HaarIDWT')


def _set_exact_output(node, in_p, exact) -> None:
    """The derived output type is ``exact``; a configured one that cannot hold it only warns."""
    node.set_attr('exact_result_precision', str(exact))
    out_type = node.get_output_variable().type
    if node.get_attr('result_precision_source') == 'derived':
        out_type.precision = exact
    elif not holds_exactly(out_type.precision, exact):
        warnings.warn(f'{node.class_name} {node.name}: the configured result precision {out_type.precision} does not '
                      f'hold the exact output {exact} of input {in_p}: the output is rounded/wrapped by that type',
                      UserWarning, stacklevel=3)


def set_haar_types(node) -> None:
    """HaarDWT / HaarIDWT: the exact output type and the accumulator of the sums of four."""
    in_p = node.get_input_variable().type.precision
    try:
        exact, accum = haar_result_precision(in_p), haar_accum_precision(in_p)
    except HlsExtensionError as err:
        raise HlsExtensionError(f'{node.class_name} {node.name}: input precision {in_p}: {err}') from None
    node.set_attr('haar_accum_t', NamedType(f'{node.name}_accum_t', accum))
    _set_exact_output(node, in_p, exact)


def set_bilinear_types(node) -> None:
    in_p = node.get_input_variable().type.precision
    ratio = node.get_attr('ratio')
    try:
        exact = bilinear_result_precision(in_p, ratio)
        accum = bilinear_accum_precision(in_p, ratio)
    except HlsExtensionError as err:
        raise HlsExtensionError(f'BilinearResize {node.name}: input precision {in_p}: {err}') from None
    node.set_attr('bilinear_accum_t', NamedType(f'{node.name}_accum_t', accum))
    node.set_attr('bilinear_weight_t', NamedType(f'{node.name}_weight_t', bilinear_weight_precision(ratio)))
    _set_exact_output(node, in_p, exact)


class PerChannelScale(OptimizerPass):
    """Frame-sized BatchNormalization/ApplyAlpha scale and bias arrays -> one value per channel
    (module docstring, ``hsbinet_per_channel_scale``)."""

    @staticmethod
    def _per_channel(node):
        shape = list(node.get_input_variable().shape)
        if len(shape) != 3:
            return None
        c = int(shape[-1])
        out = {}
        for name in ('scale', 'bias'):
            w = node.weights.get(name)
            if w is None:
                return None
            data = np.asarray(w.data_unquantized if getattr(w, 'data_unquantized', None) is not None else w.data)
            if data.size == c:
                out[name] = None  # already per channel
                continue
            if data.size != int(np.prod(shape)):
                return None
            rows = data.reshape(-1, c)
            if not np.all(rows == rows[0]):
                return None  # a real per-pixel scale: leave it
            out[name] = np.array(rows[0])
        return c, out

    @staticmethod
    def _sizes(node):
        """(C, sizes of scale and bias) of a BatchNormalization on an (H, W, C) tensor, else None."""
        shape = list(node.get_input_variable().shape)
        if len(shape) != 3 or any(node.weights.get(n) is None for n in ('scale', 'bias')):
            return None
        return int(shape[-1]), [int(node.weights[n].data_length) for n in ('scale', 'bias')]

    def match(self, node):
        # sizes only: the pass runs on every node each time any pass changes the graph
        if not isinstance(node, BatchNormalization) or node.get_attr('hsbinet_per_pixel_scale', False):
            return False
        got = self._sizes(node)
        return got is not None and (node.get_attr('n_filt', -1) != got[0] or max(got[1]) > got[0])

    def transform(self, model, node):
        got = self._per_channel(node)
        if got is None:  # a real per-pixel scale (or an unexpected size): left as hls4ml made it
            node.set_attr('hsbinet_per_pixel_scale', True)
            return False
        c, data = got
        node.set_attr('n_filt', c)
        for name, quantizer in (('scale', 'scale_quantizer'), ('bias', 'bias_quantizer')):
            if data[name] is None:
                continue
            w = node.weights[name]
            node.add_weights_variable(name=name, var_name=f'{name[0]}{{index}}', data=data[name],
                                      quantizer=node.get_attr(quantizer), precision=w.type.precision)
        return False  # the graph is unchanged

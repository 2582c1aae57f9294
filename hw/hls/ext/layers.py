"""hls4ml IR layers of the extension: BilinearResize and ChannelGate (io_stream, NHWC, batch 1)."""

from __future__ import annotations

import numpy as np
from hls4ml.model.attributes import Attribute, WeightAttribute
from hls4ml.model.layers import Layer
from hls4ml.model.types import (
    IntegerPrecisionType,
    NamedType,
    UnspecifiedPrecisionType,
    XnorPrecisionType,
)

from .errors import HlsExtensionError
from .precision import clog2, gate_result_precision, signed_width


def explicit_result_precision(layer: Layer):
    """The result precision the user set for this layer by name or by type, else None.

    Looked up in the order hls4ml's ``get_precision`` uses (LayerName result, LayerName default,
    LayerType result, LayerType default); the model-wide default does not count (a layer at the
    default precision is what the design contract forbids), and neither does ``'auto'``.
    """
    cfg = layer.model.config
    name, cls = layer.name.lower(), layer.class_name.lower()
    for table, key in ((cfg.layer_name_precision, f'{name}_result'), (cfg.layer_name_precision, f'{name}_default'),
                       (cfg.layer_type_precision, f'{cls}_result'), (cfg.layer_type_precision, f'{cls}_default')):
        value = table.get(key)
        if value is not None:
            precision = cfg.backend.convert_precision_string(value)
            return None if isinstance(precision, UnspecifiedPrecisionType) else precision
    return None


def _check_input_shape(layer: Layer, expected: list[int]) -> None:
    inp = layer.get_input_variable()
    if inp is None:
        raise HlsExtensionError(f'{layer.class_name} {layer.name}: input tensor {layer.inputs[0]!r} not found')
    if list(inp.shape) != list(expected):
        raise HlsExtensionError(f'{layer.class_name} {layer.name}: input tensor has shape {list(inp.shape)} '
                                f'(H, W, C after the batch), the ONNX node said {list(expected)}')


class BilinearResize(Layer):
    """x ``ratio`` bilinear upsampling, torch ``align_corners=False`` semantics, exact in fixed point.

    Output precision: the layer's ``result`` precision when the user sets it by name or type
    (``hls_config['LayerName'][name]['Precision']``), else the exact type derived from the input
    precision by :func:`hw.hls.ext.precision.bilinear_result_precision` (pass
    ``hsbinet_ext_infer_precision``). Streaming: a line buffer of 2 input rows.
    """

    _expected_attributes = [
        Attribute('in_height'),
        Attribute('in_width'),
        Attribute('n_chan'),
        Attribute('out_height'),
        Attribute('out_width'),
        Attribute('ratio'),
        Attribute('log2_ratio'),
    ]

    def initialize(self):
        _check_input_shape(self, [self.get_attr('in_height'), self.get_attr('in_width'), self.get_attr('n_chan')])
        shape = [self.get_attr('out_height'), self.get_attr('out_width'), self.get_attr('n_chan')]
        explicit = explicit_result_precision(self)
        self.set_attr('result_precision_source', 'config' if explicit is not None else 'derived')
        # 'derived': filled in once the input precision is final (passes.HsbinetExtInferPrecision)
        self.add_output_variable(shape, precision=explicit if explicit is not None else UnspecifiedPrecisionType())

    def line_buffer_bits(self) -> int:
        """Bits of the 2-row line buffer (2 * in_width * n_chan * input width)."""
        width = self.get_input_variable().type.precision.width
        return 2 * self.get_attr('in_width') * self.get_attr('n_chan') * width


class ChannelGate(Layer):
    """Binarised channel attention: GAP -> sign -> binary 1x1 (x 2^K) -> hard sigmoid -> multiply.

    Weights (hls4ml weight variables, written to ``firmware/weights/``):
      - ``gate_w``: C++ array ``cg_w<index>`` of ``ap_uint<1>`` (1 means +1, 0 means -1), length
        C*C, row-major ``W[o, c]`` at ``o * C + c``;
      - ``gate_k``: C++ array ``cg_k<index>`` of ``ap_int<b>`` (b the smallest width holding K),
        length C.
    Frame buffer: ``block_rows * width * n_chan`` bits (1 bit per +-1 value), twice (ping-pong);
    ``block_rows`` = ``height`` (one gate per frame) or, H8, a divisor of it (one gate per block).
    Output precision: the user's ``result`` precision if set by name/type, else ap_fixed<f+1, 1>
    (exact: |Y| <= 1 - 2^-f).
    """

    _expected_attributes = [
        Attribute('height'),
        Attribute('width'),
        Attribute('n_chan'),
        Attribute('gate_frac_bits'),
        Attribute('block_rows'),
        WeightAttribute('gate_w'),
        WeightAttribute('gate_k'),
    ]

    def initialize(self):
        h, w, c = self.get_attr('height'), self.get_attr('width'), self.get_attr('n_chan')
        f = self.get_attr('gate_frac_bits')
        _check_input_shape(self, [h, w, c])

        w_pm1 = np.asarray(self.get_attr('gate_w_data'))
        k_int = np.asarray(self.get_attr('gate_k_data')).astype(np.int64)
        self.add_weights_variable(name='gate_w', var_name='cg_w{index}', precision=XnorPrecisionType(),
                                  data=(w_pm1 > 0).astype(np.int64))
        k_width = signed_width(int(k_int.min()), int(k_int.max()))
        self.add_weights_variable(name='gate_k', var_name='cg_k{index}',
                                  precision=IntegerPrecisionType(k_width, True), data=k_int)

        # integer internals of the gate computation (see nnet_hsbinet_ext_stream.h)
        max_down_shift = clog2(c) + 2
        self.set_attr('max_down_shift', max_down_shift)
        L = int(self.get_attr('block_rows') or h)
        self.set_attr('block_rows', L)
        self.set_attr('frame_bits', L * w * c)
        self.set_attr('cg_count_t', NamedType('cg_count{index}_t', IntegerPrecisionType(clog2(L * w + 1) + 1, True),
                                              index=self.index))
        self.set_attr('cg_wide_t', NamedType('cg_wide{index}_t',
                                             IntegerPrecisionType(clog2(c + 1) + f + max_down_shift + 2, True),
                                             index=self.index))

        explicit = explicit_result_precision(self)
        self.set_attr('result_precision_source', 'config' if explicit is not None else 'derived')
        self.add_output_variable([h, w, c], precision=explicit if explicit is not None else gate_result_precision(f))

    def frame_buffer_bits(self) -> int:
        """Bits of one half of the ping-pong buffer: block_rows * width * n_chan (1 bit per +-1 value)."""
        return int(self.get_attr('frame_bits'))


class _Haar(Layer):
    """Common part of HaarDWT / HaarIDWT: input (in_height, in_width, in_chan), output (out_height,
    out_width, out_chan); output precision the user's ``result`` precision if set by name or type,
    else the exact ap_fixed<W+2, I+1> of the input (:func:`hw.hls.ext.precision.haar_result_precision`,
    pass ``hsbinet_ext_infer_precision``)."""

    _expected_attributes = [
        Attribute('in_height'),
        Attribute('in_width'),
        Attribute('in_chan'),
        Attribute('out_height'),
        Attribute('out_width'),
        Attribute('out_chan'),
    ]

    def initialize(self):
        _check_input_shape(self, [self.get_attr('in_height'), self.get_attr('in_width'), self.get_attr('in_chan')])
        shape = [self.get_attr('out_height'), self.get_attr('out_width'), self.get_attr('out_chan')]
        explicit = explicit_result_precision(self)
        self.set_attr('result_precision_source', 'config' if explicit is not None else 'derived')
        self.add_output_variable(shape, precision=explicit if explicit is not None else UnspecifiedPrecisionType())


class HaarDWT(_Haar):
    """One-level Haar DWT, (H, W, C) -> (H/2, W/2, 4C), output channel 4c + k = sub-band k
    (LL, LH, HL, HH) of channel c. Streaming: a line buffer of one input row (W x C values); an
    output pixel after every second pixel of every odd row."""

    def line_buffer_bits(self) -> int:
        return self.get_attr('in_width') * self.get_attr('in_chan') * self.get_input_variable().type.precision.width


class HaarIDWT(_Haar):
    """Inverse one-level Haar DWT, (h, w, 4C) -> (2h, 2w, C). Streaming: reads an input row into a
    line buffer (w x 4C values), then writes the two output rows it determines."""

    def line_buffer_bits(self) -> int:
        return self.get_attr('in_width') * self.get_attr('in_chan') * self.get_input_variable().type.precision.width

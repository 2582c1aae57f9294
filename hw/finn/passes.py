"""Graph passes between the project's final channels-last QONNX graph and FINN's transformations.

FINN (finn-plus 1.6.1) assumes ONNX-standard layouts: ``ConvertQONNXtoFINN`` folds weight
quantisers and puts the weight scale as a ``(1, C, 1, 1)`` Mul after a Conv, ``BatchNormToAffine``
makes ``(1, C, 1, 1)`` constants and ``LowerConvsToMatMul`` expects NCHW Conv with OIHW weights.
The final graph (hw/export.py) instead holds qonnx' *channels-last* Conv/BatchNormalization ops
(domain ``qonnx.custom_op.channels_last``, NHWC data, OHWI weights), which FINN does not know
(first symptom: ``[ShapeInferenceError] Incompatible dimensions`` on the inserted bias Add, then
``cannot reshape array of size 8 into shape (16,16)`` in LowerConvsToMatMul). Neither qonnx nor
FINN has the inverse of ``ConvertToChannelsLastAndClean``, so :class:`UnwrapChannelsLastOps` does
it: each such op becomes Transpose(NHWC->NCHW) -> standard op -> Transpose(NCHW->NHWC); after
FINN's lowering the transposes cancel (qonnx ``MoveChanFirstDownstream`` + FINN
``AbsorbConsecutiveTransposes``), leaving an NHWC graph without Transpose again.

The other passes are small layout fixes FINN needs on an NHWC graph (see each docstring).
Every pass is exact: it only moves data, never changes arithmetic.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

CHANNELS_LAST_DOMAIN = 'qonnx.custom_op.channels_last'
OHWI_TO_OIHW = (0, 3, 1, 2)


class UnwrapChannelsLastOps(Transformation):
    """qonnx channels-last Conv / BatchNormalization -> Transpose, standard NCHW op, Transpose.

    Conv weights of the channels-last op are OHWI; they are transposed to OIHW at their source:
    the initializer itself, or the 4-D initializer inputs (latent weights; per-channel scales of
    shape (O, 1, 1, 1) are unaffected) of the Quant/BipolarQuant node that produces them, so that
    FINN's ``FoldQuantWeights`` still sees ``Quant -> Conv``.
    """

    def apply(self, model: ModelWrapper):
        g = model.graph
        for n in list(g.node):
            if n.domain != CHANNELS_LAST_DOMAIN or n.op_type not in ('Conv', 'BatchNormalization'):
                continue
            x, y = n.input[0], n.output[0]
            xs, ys = model.get_tensor_shape(x), model.get_tensor_shape(y)
            if xs is None or ys is None or len(xs) != 4 or len(ys) != 4:
                continue
            if n.op_type == 'Conv':
                self._weights_to_oihw(model, n)
            xt, yt = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            model.set_tensor_shape(xt, [xs[0], xs[3], xs[1], xs[2]])
            model.set_tensor_shape(yt, [ys[0], ys[3], ys[1], ys[2]])
            t_in = helper.make_node('Transpose', [x], [xt], perm=[0, 3, 1, 2], name=f'{n.name}_to_nchw')
            t_out = helper.make_node('Transpose', [yt], [y], perm=[0, 2, 3, 1], name=f'{n.name}_to_nhwc')
            n.input[0], n.output[0], n.domain = xt, yt, ''
            idx = list(g.node).index(n)
            g.node.insert(idx, t_in)
            g.node.insert(idx + 2, t_out)
        return model, False

    @staticmethod
    def _weights_to_oihw(model: ModelWrapper, conv) -> None:
        w = conv.input[1]
        init = model.get_initializer(w)
        if init is not None:
            model.set_initializer(w, np.ascontiguousarray(np.transpose(init, OHWI_TO_OIHW)))
        else:
            q = model.find_producer(w)
            if q is None or q.op_type not in ('Quant', 'BipolarQuant'):
                raise ValueError(f'{conv.name}: weights from {None if q is None else q.op_type}, expected an '
                                 'initializer or Quant/BipolarQuant of an initializer')
            for i in q.input:
                v = model.get_initializer(i)
                if v is not None and v.ndim == 4:
                    model.set_initializer(i, np.ascontiguousarray(np.transpose(v, OHWI_TO_OIHW)))
        s = model.get_tensor_shape(w)
        model.set_tensor_shape(w, [s[i] for i in OHWI_TO_OIHW])


class AnnotateNHWC(Transformation):
    """Make FINN's channel-dimension guesses right on an NHWC graph.

    - ``MultiThreshold`` defaults to ``data_layout='NCHW'`` (per-channel thresholds would be
      applied along H); set ``NHWC`` on every 4-D MultiThreshold.
    - FINN's ``AbsorbAdd/MulIntoMultiThreshold`` guess the channel axis of an unannotated 4-D
      constant as axis 1 (NCHW) and then refuse to absorb a ``(1, 1, 1, C)`` per-channel constant.
      Such constants of Mul/Add are reshaped to ``(C,)``: the same broadcast on an NHWC tensor.
    """

    def apply(self, model: ModelWrapper):
        for n in model.graph.node:
            if n.op_type == 'MultiThreshold':
                shape = model.get_tensor_shape(n.input[0])
                inst = getCustomOp(n)
                if shape is not None and len(shape) == 4 and inst.get_nodeattr('data_layout') != 'NHWC':
                    inst.set_nodeattr('data_layout', 'NHWC')
            elif n.op_type in ('Mul', 'Add') and len(n.input) == 2:
                v = model.get_initializer(n.input[1])
                if v is not None and v.ndim == 4 and v.shape[:3] == (1, 1, 1) and v.shape[3] > 1:
                    model.set_initializer(n.input[1], np.ascontiguousarray(v.reshape(-1)))
        return model, False


class SpatialPadToAxes(Transformation):
    """ONNX ``Pad(x, pads[8])`` that pads only H and W of an NHWC tensor with constant 0 ->
    ``Pad(x, pads[4], 0.0, axes=[1, 2])`` (identical ONNX semantics, opset >= 18).

    finn-plus' ``InferFMPadding`` reads ``node.input[3]`` (axes) and ``node.input[2]`` without
    checking they exist, so a Pad without the optional inputs raises ``IndexError: list index out
    of range`` (finn/transformation/fpgadataflow/convert_to_hw/fm_padding.py, line 72).
    """

    def apply(self, model: ModelWrapper):
        opset = {o.domain: o.version for o in model.model.opset_import}.get('', 0)
        if opset < 18:
            return model, False
        for n in model.graph.node:
            if n.op_type != 'Pad' or len(n.input) != 2:
                continue
            mode = [a.s for a in n.attribute if a.name == 'mode']
            if mode and mode[0] not in (b'constant',):
                continue
            pads = model.get_initializer(n.input[1])
            if pads is None or pads.size != 8:
                continue
            pads = [int(p) for p in pads]
            if pads[0] or pads[3] or pads[4] or pads[7]:
                continue  # pads N or C: not a spatial padding
            pads_name, cval_name, axes_name = (model.make_new_valueinfo_name() for _ in range(3))
            model.set_initializer(pads_name, np.asarray([pads[1], pads[2], pads[5], pads[6]], dtype=np.int64))
            model.set_initializer(cval_name, np.asarray(0.0, dtype=np.float32))
            model.set_initializer(axes_name, np.asarray([1, 2], dtype=np.int64))
            n.input[1] = pads_name
            n.input.append(cval_name)
            n.input.append(axes_name)
        return model, False

"""FINN's transformations on the final graph: streamlining and conversion to HW layers.

Every transformation runs through :func:`hw.finn.provenance.carry`, so each node of the result
still names the final-graph nodes it implements (:mod:`hw.finn.provenance`).

1. :func:`streamline`: layout adaptation (:mod:`hw.finn.passes`: qonnx channels-last Conv/BN ->
   standard ops between Transposes, because FINN only knows NCHW Conv/BN); ``ConvertQONNXtoFINN``
   (Quant/BipolarQuant activations of <= 8 bits -> MultiThreshold, weight quantisers folded),
   tidy-up, ``BatchNormToAffine``, ``LowerConvsToMatMul`` (Im2Col + MatMul), transpose clean-up
   (all cancel), streamlining with ``ConvertBipolarMatMulToXnorPopcount``.
2. :func:`convert_to_hw`: conversion to HW layers (MVAU, ConvolutionInputGenerator, Thresholding,
   FMPadding, StreamingConcat, ElementwiseAdd/Mul, DuplicateStreams, ...) and
   ``SpecializeLayers``.

Data stays NHWC throughout; the result has no Transpose.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

from hw.finn.provenance import carry

FINN_DOMAIN = 'finn.custom_op.fpgadataflow'


def is_hw(node) -> bool:
    """True for a FINN HW layer (generic or specialised ``*_hls`` / ``*_rtl``)."""
    return node.domain.startswith(FINN_DOMAIN)


def _carry_all(model, steps):
    for t in steps:
        model = carry(model, t)
    return model


def _cancel_transposes(model, transforms, rounds: int = 200):
    """Apply ``transforms`` in turn until no Transpose is left or the graph stops changing (qonnx'
    MoveChanFirstDownstream moves one Transpose per call)."""
    for _ in range(rounds):
        if not model.get_nodes_by_op_type('Transpose'):
            break
        before = model.model.SerializeToString()
        model = _carry_all(model, transforms)
        if model.model.SerializeToString() == before:
            break
    return model


def streamline(model, log: Callable[[str], None]):
    """QONNX -> FINN-ONNX, tidy-up, conv lowering and streamlining; returns an NHWC graph with no
    Transpose, binary MatMuls as XnorPopcountMatMul and thresholds absorbed where FINN can."""
    from qonnx.transformation.batchnorm_to_affine import BatchNormToAffine
    from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
    from qonnx.transformation.channels_last import MoveChanFirstDownstream
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (GiveReadableTensorNames, GiveUniqueNodeNames,
                                              RemoveStaticGraphInputs, RemoveUnusedTensors, SortGraph)
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul
    from qonnx.util.cleanup import cleanup_model

    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.remove import RemoveIdentityTranspose

    from hw.finn.passes import AnnotateNHWC, UnwrapChannelsLastOps

    model = _carry_all(model, [UnwrapChannelsLastOps(), SortGraph(), cleanup_model, ConvertQONNXtoFINN(),
                               InferShapes(), FoldConstants(), GiveUniqueNodeNames(), GiveReadableTensorNames(),
                               InferDataTypes(), RemoveStaticGraphInputs(), BatchNormToAffine(),
                               LowerConvsToMatMul()])
    # FINN's lowering wraps each Im2Col/MatMul in NHWC<->NCHW Transposes; with the Transposes of
    # UnwrapChannelsLastOps they cancel once the per-channel Mul/Add between them are moved.
    model = _cancel_transposes(model, [MoveChanFirstDownstream(), absorb.AbsorbConsecutiveTransposes(),
                                        RemoveIdentityTranspose()], rounds=200)
    # binary MatMuls -> XnorPopcountMatMul (+ Mul 2 / Add -K); FINN's only exact binary MVAU path
    # (the python model of a BIPOLAR x BIPOLAR MVAU without xnor mode is wrong, see docs/finn.md)
    model = _carry_all(model, [SortGraph(), AnnotateNHWC(), absorb.AbsorbScalarBiasIntoMultiThreshold(),
                               Streamline(), ConvertBipolarMatMulToXnorPopcount(), AnnotateNHWC(), Streamline(),
                               InferDataLayouts(), RemoveUnusedTensors()])
    left = [n.name for n in model.graph.node if n.op_type == 'Transpose']
    if left:
        raise RuntimeError(f'FINN streamlining left Transpose nodes {left}: every Transpose would be a '
                           'whole-frame buffer')
    log(f'  streamlined: {dict(Counter(n.op_type for n in model.graph.node))}')
    return model


def convert_to_hw(model, vendor_part: str, log: Callable[[str], None]):
    """FINN's convert-to-HW transformations (the subset that applies to HS-BiNet) and
    ``SpecializeLayers`` for ``vendor_part`` (e.g. ``xqrku060-cna1509-1-b``). A transformation
    that raises is reported and skipped: the nodes it would have converted stay and show up in
    ``not_converted``. Returns (model, list of skipped transformations with the error)."""
    from qonnx.transformation.general import GiveUniqueNodeNames, SortGraph
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    from finn.transformation.fpgadataflow.convert_to_hw.binary_matrix_vector_activation import \
        InferBinaryMatrixVectorActivation
    from finn.transformation.fpgadataflow.convert_to_hw.concat import InferConcatLayer
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.duplicate_streams import InferDuplicateStreamsLayer
    from finn.transformation.fpgadataflow.convert_to_hw.elementwise_binary_operation import \
        InferElementwiseBinaryOperation
    from finn.transformation.fpgadataflow.convert_to_hw.fm_padding import InferFMPadding
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import \
        InferQuantizedMatrixVectorActivation
    from finn.transformation.fpgadataflow.convert_to_hw.thresholding import InferThresholdingLayer
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    from hw.finn.passes import SpatialPadToAxes

    skipped = []
    steps = [InferBinaryMatrixVectorActivation(), InferQuantizedMatrixVectorActivation(), InferThresholdingLayer(),
             SpatialPadToAxes(), InferFMPadding(), InferConvInpGen(), InferConcatLayer(),
             InferElementwiseBinaryOperation(), InferDuplicateStreamsLayer()]
    for t in steps:
        try:
            model = carry(model, t)
        except Exception as e:  # noqa: BLE001  (FINN raises FINNUserError/AssertionError per node)
            skipped.append(f'{type(t).__name__}: {type(e).__name__}: {str(e).splitlines()[0][:200]}')
            log(f'  {type(t).__name__} skipped: {skipped[-1]}')
    model = _carry_all(model, [SortGraph(), GiveUniqueNodeNames(), InferDataLayouts(), InferShapes(), InferDataTypes(),
                               SpecializeLayers(vendor_part), GiveUniqueNodeNames(), InferShapes(), InferDataTypes()])
    log(f'  HW layers: {dict(Counter(n.op_type for n in model.graph.node if is_hw(n)))}')
    return model, skipped

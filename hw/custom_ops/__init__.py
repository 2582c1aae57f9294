"""QONNX custom ops of this project: the layers stock hls4ml cannot lower, one op (or one pair) per
module (like qonnx ``custom_op/general/``): :mod:`hw.custom_ops.bilinear_resize` (``BilinearResize``),
:mod:`hw.custom_ops.channel_gate` (``ChannelGate``) and :mod:`hw.custom_ops.haar` (``HaarDWT``,
``HaarIDWT``: BNNPan-style's wavelet transform), each module holding the op's contract, its numpy
reference, the ``CustomOp`` and the node constructor.

All ops live in the ONNX domain ``hw.custom_ops`` (:data:`DOMAIN`). qonnx 1.0.0 resolves a
custom node by importing the Python module named by the node's domain and looking up a
``CustomOp`` subclass named like the op type in that module's ``__all__``
(``qonnx.custom_op.registry.getCustomOp``), so naming the domain after this package and listing
the classes in ``__all__`` below is all the registration needed: ``qonnx.core.onnx_exec.execute_onnx``
and qonnx's ``InferShapes`` find them as long as the ``hw`` package is importable. qonnx' installed
files are not touched.

All ops are NHWC (channels last) and batch 1 in the exported graph (the python execution also
accepts N > 1). Their ``execute_node`` computes exactly (integers / float64 / exact rationals)
and casts the result to float32; the hls4ml extension layers (hw/hls/ext/) implement the same
contract in fixed point.
"""

# defined before the op modules are imported: their node constructors read DOMAIN from here
DOMAIN = 'hw.custom_ops'
OPSET_VERSION = 1

from hw.custom_ops.bilinear_resize import BilinearResize, bilinear_resize_nhwc, make_bilinear_resize_node  # noqa: E402
from hw.custom_ops.channel_gate import ChannelGate, channel_gate_nhwc, make_channel_gate_node  # noqa: E402
from hw.custom_ops.haar import HaarDWT, HaarIDWT, haar_dwt_nhwc, haar_idwt_nhwc, make_haar_node  # noqa: E402

__all__ = ['BilinearResize', 'ChannelGate', 'DOMAIN', 'HaarDWT', 'HaarIDWT', 'OPSET_VERSION', 'bilinear_resize_nhwc',
           'channel_gate_nhwc', 'haar_dwt_nhwc', 'haar_idwt_nhwc', 'make_bilinear_resize_node',
           'make_channel_gate_node', 'make_haar_node']

"""Give the global residual its own upsampler: the skip branch buffers LR pixels, not HR ones (exact).

Why (issue 9, "every buffer counted"): HS-BiNet adds the upsampled cube F0 = bilinear(MS) to the
decoder's output. In a stream, F0 must wait on the skip branch for as long as the decoder path
takes, which includes the channel attention's whole frame: a FIFO of (path delay) HR pixels x B x
16 bit (6 Mbit at 32 x 32, 200 bands; 50 Mbit at 128 x 128). Delaying the LR-HS stream instead and
upsampling it a second time right before the add holds the same information in ratio^2 fewer
words. The two upsamplers compute the same deterministic function of the same stream, so the
result is bit-identical. qonnx has no transformation for this; hls4ml then clones the LR stream.

Rewrite: a ``BilinearResize`` whose output feeds an ``Add`` and something else gets a second
``BilinearResize`` (same input, same ratio) that feeds only the ``Add``. The FIFO plan then puts the
path skew on the LR stream into the second upsampler (:mod:`hw.estimates.analytical`).
"""

from __future__ import annotations

from qonnx.transformation.base import Transformation

from hw.custom_ops import make_bilinear_resize_node
from hw.export.graph import attr


class UpsampleSkipAgain(Transformation):
    """``y = BilinearResize(x); a = Add(y, d); b = f(y)`` -> ``a = Add(BilinearResize'(x), d); b = f(y)``."""

    def apply(self, model):
        for n in model.graph.node:
            if n.op_type != 'BilinearResize':
                continue
            consumers = model.find_consumers(n.output[0]) or []
            adds = [c for c in consumers if c.op_type == 'Add']
            if len(consumers) < 2 or not adds:
                continue
            add = adds[0]
            y2 = model.make_new_valueinfo_name()
            twin = make_bilinear_resize_node(n.input[0], y2, attr(n, 'ratio'), name=f'{n.name}_skip')
            model.graph.node.insert(model.get_node_index(add), twin)
            model.set_tensor_shape(y2, model.get_tensor_shape(n.output[0]))
            add.input[list(add.input).index(n.output[0])] = y2
            return model, True
        return model, False

"""Concat of n > 2 tensors -> a left-to-right chain of 2-input Concats (same result).

hls4ml shortcoming: its ONNX Concat handler accepts exactly two inputs ("Merging more than two
tensors is not yet supported"); HS-BiNet's MSFE concatenates three branches.
"""

from __future__ import annotations

from onnx import helper
from qonnx.transformation.base import Transformation

from hw.export.graph import attr


class SplitWideConcat(Transformation):
    """``Concat(a, b, c, axis)`` -> ``Concat(Concat(a, b, axis), c, axis)`` (any layout; in the
    final NHWC graph the axis is the channel axis 3). One split per ``apply``; qonnx repeats it
    until nothing changes."""

    def apply(self, model):
        for n in model.graph.node:
            if n.op_type != 'Concat' or len(n.input) <= 2:
                continue
            first = helper.make_node('Concat', list(n.input[:2]), [model.make_new_valueinfo_name()],
                                     axis=attr(n, 'axis'), name=f'{n.name}_split0')
            model.graph.node.insert(model.get_node_index(n), first)
            del n.input[0]
            n.input[0] = first.output[0]
            return model, True
        return model, False

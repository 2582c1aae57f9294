"""Remove trailing empty optional inputs ('') from every node.

qonnx shortcoming: cleanup_model keeps torch's ``Pad(data, pads, '')``-style trailing empty names;
hls4ml's ONNX parser looks up a shape for every input name and fails on ''
("Could not find the shape for input ").
"""

from __future__ import annotations

from qonnx.transformation.base import Transformation


class StripEmptyOptionalInputs(Transformation):
    """``Op(a, b, '', '')`` -> ``Op(a, b)`` for every node (layout-agnostic)."""

    def apply(self, model):
        for n in model.graph.node:
            while len(n.input) and n.input[-1] == '':
                del n.input[-1]
        return model, False

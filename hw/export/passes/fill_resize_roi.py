"""Give every Resize with an empty RoI input a 1-element zero RoI constant.

qonnx shortcoming: torch exports ``Resize(X, '', scales)`` and qonnx leaves the '' in place;
hls4ml cannot look up the shape of '', and an empty RoI array crashes hls4ml's
ResizeRemoveConstants under numpy 2 (``if roi_node.get_attr('value'):`` on an empty array).
"""

from __future__ import annotations

import numpy as np
from qonnx.transformation.base import Transformation

from hw.export.graph import new_initializer


class FillResizeRoi(Transformation):
    """``Resize(X, '', scales)`` -> ``Resize(X, [0.0], scales)`` (any layout).

    The RoI is ignored unless coordinate_transformation_mode='tf_crop_and_resize', so a 1-element
    zero RoI is equivalent. (After :class:`~hw.export.passes.ResizeToBilinearResize` only
    nearest-mode NHWC Resize nodes can remain.)
    """

    def apply(self, model):
        for n in model.graph.node:
            if n.op_type == 'Resize' and len(n.input) >= 3 and n.input[1] == '':
                n.input[1] = new_initializer(model, np.zeros((1,), dtype=np.float32), 'roi')
        return model, False

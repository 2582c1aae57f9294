"""``BilinearResize`` (NHWC) against torch ``F.interpolate(mode='bilinear', align_corners=False)``."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from qonnx.custom_op.registry import getCustomOp

from hw.custom_ops import bilinear_resize_nhwc, make_bilinear_resize_node
from tests.conftest import LSB
from tests.hw.custom_ops.single_node import run_single_node


@pytest.mark.parametrize('ratio,h,w', [(4, 3, 5), (2, 4, 4), (8, 2, 3), (4, 1, 1)])
def test_bilinear_resize_equals_torch_interpolate(ratio, h, w):
    g = torch.Generator().manual_seed(ratio * 10 + h)
    # inputs on the fixed<16,2> grid the hardware feeds it (the ms input quantiser's output)
    x = torch.randint(-2 ** 15, 2 ** 15, (2, 5, h, w), generator=g).float() * LSB
    ref = F.interpolate(x, scale_factor=ratio, mode='bilinear', align_corners=False).numpy()
    ref = ref.transpose(0, 2, 3, 1)
    x_nhwc = np.ascontiguousarray(x.numpy().transpose(0, 2, 3, 1))
    assert np.array_equal(bilinear_resize_nhwc(x_nhwc, ratio).astype(np.float32), ref)
    for n in range(2):
        y = run_single_node(make_bilinear_resize_node('x', 'y', ratio), {'x': x_nhwc[n:n + 1]}, 'y',
                            [1, ratio * h, ratio * w, 5])
        assert y.dtype == np.float32 and np.array_equal(y, ref[n:n + 1])


def test_bilinear_resize_is_resolved_by_the_qonnx_registry():
    assert type(getCustomOp(make_bilinear_resize_node('x', 'y', 4))).__name__ == 'BilinearResize'

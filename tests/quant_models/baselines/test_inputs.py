"""Both baselines reject inconsistent inputs with one HsbinetError paragraph."""

from __future__ import annotations

import numpy as np
import pytest

from quant_models.baselines import BASELINES
from quant_models.common import HsbinetError
from tests.quant_models.data.helpers import assert_error

MS, PAN, LMS = np.ones((8, 6, 3)), np.ones((32, 24)), np.ones((32, 24, 3))


@pytest.mark.parametrize('method', list(BASELINES.values()), ids=list(BASELINES))
@pytest.mark.parametrize('ms, pan, lms, ratio, fragments', [
    (MS, PAN[:, :-4], LMS, 4, ('Key: lms/pan', 'lms (32, 24, 3) vs pan (32, 20)')),
    (MS, PAN, LMS, 2, ('Key: ms/pan', 'pan of shape (16, 12)', 'Found: pan (32, 24)')),
    (MS[:, :, :2], PAN, LMS, 4, ('Key: ms/lms', '2 bands in lms')),
    (MS[:, :, 0], PAN, LMS, 4, ('Key: ms', '(h, w, B)', 'shape (8, 6)')),
    (MS, PAN[None], LMS, 4, ('Key: pan', '(H, W)',)),
    (MS, PAN, LMS, 4.5, ('Key: ratio', 'an integer >= 2', '4.5')),
    (MS, PAN, LMS, 1, ('Key: ratio',)),
    (MS, np.where(PAN > 0, np.nan, PAN), LMS, 4, ('Key: pan', '768 NaN/inf values')),
])
def test_bad_inputs(method, ms, pan, lms, ratio, fragments):
    with pytest.raises(HsbinetError) as e:
        method(ms, pan, lms, ratio)
    assert_error(e, *fragments)

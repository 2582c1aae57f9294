"""The small model's final graph lowered once with FINN (SetFolding target), shared by the FINN tests."""

import pytest

from tests.conftest import QUIET

TARGET = 60000  # cycles per frame: forces PE/SIMD > 1 on the binary convs of the small model


@pytest.fixture(scope='session')
def lowered_target(small_final, tmp_path_factory):
    """(estimates dict, output folder) of ``lower_finn(small_final, target_cycles_per_frame=TARGET)``."""
    from hw.finn.lower import lower_finn
    out = tmp_path_factory.mktemp('finn_target')
    return lower_finn(small_final, out, target_cycles_per_frame=TARGET, **QUIET), out

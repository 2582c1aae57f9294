"""Helpers shared by the data-layer tests."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SHARED_DATA

SHARED_MATS = sorted(SHARED_DATA.glob('*.mat')) if SHARED_DATA.is_dir() else []
needs_shared = pytest.mark.skipif(
    not SHARED_MATS, reason=f'needs the real cubes of ../shared/data ({SHARED_DATA} is absent or has no .mat)')


def assert_error(excinfo, *fragments):
    """Every fragment occurs in the message of the raised error."""
    msg = str(excinfo.value)
    for frag in fragments:
        assert frag in msg, f'{frag!r} not in error message: {msg}'


def small_set(n=3, b=5, hh=16, ratio=4, seed=0):
    """A random float32 HyperPanCollection set: GT/LMS (n, b, hh, hh), MS (n, b, hh/ratio, hh/ratio), PAN (n, 1, hh, hh)."""
    rng = np.random.default_rng(seed)
    return {'GT': rng.random((n, b, hh, hh)).astype(np.float32),
            'LMS': rng.random((n, b, hh, hh)).astype(np.float32),
            'MS': rng.random((n, b, hh // ratio, hh // ratio)).astype(np.float32),
            'PAN': rng.random((n, 1, hh, hh)).astype(np.float32)}

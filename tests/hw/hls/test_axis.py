"""The AXI4-Stream adapter: beat packing as documented, and the adapter + band-padded core compiled
and run in C-simulation bit-exact to PyTorch, with TLAST where the specification puts it."""

import numpy as np
import pytest

from hw.hls.axis import AxisGeometry, check_tdata, expected_out_last, pack_ms, pack_pan, run_frame, unpack_out
from quant_models.common import HsbinetError
from sim.compare import to_fixed_ints
from sim.golden import golden_vectors
from tests.conftest import ODD, QUIET, grid_inputs

GEO = AxisGeometry(h=2, w=3, H=8, W=12, bands=5, core_bands=8, sample_bits=16, tdata_bits=64)


def test_ms_beats_are_band_interleaved_by_pixel_lane_zero_lowest():
    ms = np.arange(2 * 3 * 5, dtype=np.int64).reshape(2, 3, 5) - 7  # negative samples too
    data, last = pack_ms(ms, GEO)
    assert data.shape == (2 * 3 * 2, 8)  # 5 bands on 4 lanes: 2 beats per pixel, 8 bytes per beat
    lanes = data.view('<i2')  # (beats, 4) little-endian 16-bit lanes
    assert list(lanes[0]) == [-7, -6, -5, -4] and list(lanes[1]) == [-3, 0, 0, 0]  # unused lanes 0
    assert list(lanes[2]) == [-2, -1, 0, 1]
    assert list(last) == [0] * 5 + [1] + [0] * 5 + [1]  # TLAST per LR row (3 px x 2 beats)


def test_pan_rows_start_on_a_new_beat_and_output_round_trips():
    pan = np.arange(8 * 12).reshape(8, 12)
    data, last = pack_pan(pan, GEO)
    assert data.shape == (8 * 3, 8) and last.sum() == 8 and last[2] == 1
    assert list(data.view('<i2')[3]) == [12, 13, 14, 15]
    out = np.random.default_rng(0).integers(-2 ** 15, 2 ** 15, (8, 12, 5))
    packed, _ = pack_ms(out, AxisGeometry(8, 12, 8, 12, 5, 8, 16, 64))
    assert np.array_equal(unpack_out(packed, GEO), out)


@pytest.mark.parametrize('bits', [24, 1024, 8])
def test_unsupported_tdata_widths_are_refused(bits):
    with pytest.raises(HsbinetError, match='AXI4-Stream data width'):
        check_tdata(bits, 16)


@pytest.fixture(scope='module')
def odd_axis(odd_final, tmp_path_factory):
    """The 7-band model lowered with a 64-bit bus and TLAST per frame, compiled for C-simulation."""
    from hw.hls.lower import lower_project
    from sim.csim import compile_project
    model, final = odd_final
    out = tmp_path_factory.mktemp('odd_axis')
    design = lower_project(final, out, tdata_bits=64, tlast='frame', **QUIET)
    return model, final, design, compile_project(out / 'hls4ml_prj')


def test_adapter_and_padded_core_are_bit_exact_with_tlast_per_frame(odd_axis):
    from hw.hls.axis import geometry_of
    model, final, design, linked = odd_axis
    assert design['frame']['bands'] == 7 and design['frame']['core_bands'] == 8 and design['core_onnx'] == 'core.onnx'
    geo = geometry_of(design, 64, 'frame')
    ms, pan = grid_inputs(ODD['bands'], ODD['pan'], seed=5)
    g = golden_vectors(model, final, ms.numpy(), pan.numpy())
    for i in range(ms.shape[0]):
        y, last = run_frame(linked._top_function_lib, design['project'], geo, to_fixed_ints(g['ms_nhwc'][i], 14, 'ms'),
                            to_fixed_ints(g['pan_nhwc'][i, ..., 0], 14, 'pan'))
        assert np.array_equal(y, to_fixed_ints(g['torch_nhwc'][i], 14, 'torch'))
        assert np.array_equal(last, expected_out_last(geo))
    # the check can fail: the adapter was built for TLAST per frame, a per-line specification differs
    line = geometry_of(design, 64, 'line')
    assert not np.array_equal(last, expected_out_last(line))


def test_a_frame_of_the_wrong_size_is_reported_not_silently_cut(odd_axis):
    from hw.hls.axis import geometry_of
    _, _, design, linked = odd_axis
    geo = geometry_of(design, 64, 'frame')
    small = AxisGeometry(geo.h, geo.w, geo.H, geo.W, geo.bands, geo.core_bands, 16, 32, 'frame')  # twice the beats
    with pytest.raises(HsbinetError, match='did not produce one frame'):
        run_frame(linked._top_function_lib, design['project'], small, np.zeros((geo.h, geo.w, 7), np.int64),
                  np.zeros((geo.H, geo.W), np.int64))

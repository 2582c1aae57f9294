"""Bit-exact comparison: exact equality on the fixed-point grid, and a 1-LSB fault is caught."""

import json

import numpy as np
import pytest

from sim.compare import NotOnGridError, compare_exact, format_summary, to_fixed_ints, verdict, write_verdict


def _fixed(shape, frac_bits=14, seed=0):
    g = np.random.default_rng(seed)
    return (g.integers(-2 ** 15, 2 ** 15, size=shape) / 2 ** frac_bits).astype(np.float32)


def test_identical_arrays_are_bit_exact(tmp_path):
    a = _fixed((2, 8, 8, 5))
    c = compare_exact(a, a.copy(), 14, 'torch', 'csim')
    v = verdict([c], patches=2, layout='NHWC', frac_bits=14)
    assert v['bit_exact'] and v['mismatches'] == 0 and v['elements'] == a.size
    path = write_verdict(tmp_path / 'verdict.json', v)
    assert json.loads(path.read_text())['bit_exact'] is True
    assert 'bit_exact: true' in format_summary(v)


def test_a_single_lsb_flip_is_caught_with_its_index_and_values():
    a = _fixed((1, 4, 4, 3))
    b = a.copy()
    b[0, 2, 1, 2] += 2.0 ** -14  # one least-significant bit
    c = compare_exact(a, b, 14, 'qonnx', 'csim')
    assert c.mismatches == 1 and c.first_index == [0, 2, 1, 2]
    assert c.reference_value == float(a[0, 2, 1, 2]) and c.candidate_value == float(b[0, 2, 1, 2])
    v = verdict([compare_exact(a, a, 14, 'torch', 'qonnx'), c], patches=1, layout='NHWC', frac_bits=14,
                first_layer={'layer': 'conv_3', 'onnx_node': 'Conv_3', 'module': 'msfe.fuse.0.conv'})
    assert v['bit_exact'] is False and v['mismatches'] == 1
    assert v['first_mismatch']['layer'] == 'conv_3'
    assert 'first mismatch in layer conv_3' in format_summary(v)


def test_values_off_the_grid_are_refused_not_rounded():
    with pytest.raises(NotOnGridError, match='first at index'):
        to_fixed_ints(np.array([0.5, 0.1]), 14, 'torch')
    assert np.array_equal(to_fixed_ints(np.array([0.5, -2.0]), 14, 'x'), [8192, -32768])


def test_shape_mismatch_is_an_error_and_no_comparison_is_not_exact():
    with pytest.raises(ValueError, match='shape'):
        compare_exact(np.zeros((2, 3)), np.zeros((3, 2)), 4, 'a', 'b')
    assert verdict([], patches=0, layout='NHWC', frac_bits=14)['bit_exact'] is False

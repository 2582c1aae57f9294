"""Whether the float32 PyTorch golden model is exact by construction (hw.hls.bounds golden_bits):
every lowered design says so in design.json; a design that needs more than float32's significand
is named, layer by layer, and the lower step warns (the check can fail)."""

import json

import torch

from hw.hls.bounds import DATA_MOVES, FLOAT32_SIGNIFICAND_BITS, Interval, golden_bits, golden_float32
from quant_models.layers import FixedPointBN
from tests.conftest import QUIET, SMALL, hardware_model


def test_golden_bits_is_the_largest_magnitude_on_the_grid():
    assert golden_bits(Interval(-4.0, 3.9, 22)) == 24  # 2^24 itself is a float32
    assert golden_bits(Interval(-2.0, 4.0 + 2.0 ** -22, 22)) == 25
    assert golden_bits(Interval(-36.2, 36.2, 17)) == 23
    assert golden_bits(Interval(0.0, 0.0, 0)) == 1
    assert golden_bits(Interval(-1.0, 1.0, 0), Interval(-300.0, 300.0, 20)) == 29  # a wider product counts


def test_the_summary_names_the_layers_that_compute_beyond_float32():
    rows = [{'layer': 'a', 'class': 'Merge', 'golden_bits': 24},
            {'layer': 'b', 'class': 'BatchNormalization', 'golden_bits': 29},
            {'layer': 'c', 'class': 'Concatenate', 'golden_bits': 31}]  # moves values computed elsewhere
    assert golden_float32(rows) == {'exact': False, 'largest_bits': 29,
                                    'inexact_layers': ['b (BatchNormalization, 29 bits)']}
    assert golden_float32(rows[:1] + rows[2:]) == {'exact': True, 'largest_bits': 24, 'inexact_layers': []}


def test_an_add_before_a_saturating_quantiser_counts_only_the_values_it_can_pass(small_lowered):
    """The small model's residual block: x (fixed<16,6>) + body(x) spans +-32.67 on 2^-15, 21 bits;
    inside the requantiser's [-32, 32) it is 20."""
    table = json.loads((small_lowered / 'precisions.json').read_text())
    add = next(r for r in table if r['class'] == 'Merge' and max(map(abs, r['range'])) > 32)
    assert golden_bits(Interval(*add['range'], add['frac_bits'])) == 21
    assert add['golden_bits'] == golden_bits(Interval(-32.0, 32.0, add['frac_bits'])) == 20


def test_a_quant_merged_into_its_layer_is_what_the_consumers_read(tmp_path):
    """S2BNet-style's tail rounds its int8 1x1 conv to fixed<16,2> (S7); hls4ml merges that Quant
    into the conv in the first conversion. The global residual add then reads 2^-14 next to the
    bilinear 2^-20, not the conv's own 2^-24 (a near-zero tail weight scale, as at initialisation),
    which would count it at 25 bits and give the add a 4-bit wider type (the check can fail: it did)."""
    from hw.export import build_final_qonnx, export_qonnx
    from hw.hls.lower import lower_project
    from quant_models.archs import build_model
    torch.manual_seed(0)
    model = build_model({'arch': 's2bnet', 'bands': 5, 'hidden': 8, 'blocks': 1, 'levels': 0,
                         'profile': 'hardware'})
    model.train()
    with torch.no_grad():
        model(torch.rand(2, 5, 4, 4), torch.rand(2, 1, 16, 16))  # BN running statistics
    raw = export_qonnx(model.eval(), tmp_path / 'raw.onnx', patch=(16, 16), **QUIET)
    design = lower_project(build_final_qonnx(raw, tmp_path / 'final.onnx'), tmp_path / 'hw', **QUIET)
    table = json.loads((tmp_path / 'hw' / 'precisions.json').read_text())
    tail = [r for r in table if r['class'] == 'PointwiseConv2D'][-1]
    last_add = [r for r in table if r['class'] == 'Merge'][-1]
    assert tail['read_as'].startswith('fixed<16,2,RND_CONV,SAT') and tail['frac_bits'] >= 24
    assert last_add['frac_bits'] == 20 and last_add['golden_bits'] <= FLOAT32_SIGNIFICAND_BITS
    assert design['golden_float32']['exact'] is True


def test_the_lowered_small_design_is_float32_exact(small_lowered):
    design = json.loads((small_lowered / 'design.json').read_text())
    table = json.loads((small_lowered / 'precisions.json').read_text())
    computed = [r['golden_bits'] for r in table if r['class'] not in DATA_MOVES]
    assert design['golden_float32'] == {'exact': True, 'largest_bits': max(computed), 'inexact_layers': []}
    assert max(computed) <= FLOAT32_SIGNIFICAND_BITS


def _lowered_with_large_bn_scales(tmp_path, bounded: bool):
    """The small model with every BN scale at ~300 (17 significant bits on 2^-8, what training makes
    of a small running variance), with or without the bn_scale_bits bound, exported and lowered;
    (design, what the lower step said). Behind a 7x7 popcount (9 bits) the unbounded product needs 26."""
    from hw.export import build_final_qonnx, export_qonnx
    from hw.hls.lower import lower_project
    model = hardware_model(SMALL['bands'], SMALL['hidden'], SMALL['blocks'], SMALL['pan'])
    for bn in model.modules():
        if isinstance(bn, FixedPointBN):
            with torch.no_grad():
                bn.weight.fill_(76877 / 256)  # 300.30078125: odd on 2^-8
                bn.running_var.fill_(1.0)
            bn.eps = 0.0  # so the folded scale is the weight itself
            if not bounded:
                bn.scale_bits = None
    out = tmp_path / ('bounded' if bounded else 'unbounded')
    raw = export_qonnx(model, out / 'raw.onnx', patch=(SMALL['pan'], SMALL['pan']), **QUIET)
    said = []
    design = lower_project(build_final_qonnx(raw, out / 'final.onnx'), out / 'hw', log=said.append)
    return design, said


def test_an_unbounded_batchnorm_scale_is_named_and_warned_about(tmp_path):
    design, said = _lowered_with_large_bn_scales(tmp_path, bounded=False)
    g = design['golden_float32']
    assert g['exact'] is False and g['largest_bits'] > FLOAT32_SIGNIFICAND_BITS
    assert any('BatchNormalization' in x for x in g['inexact_layers'])  # and what its outputs widen
    assert any(line.startswith('warning: the float32 PyTorch golden model is not exact') for line in said)
    design, said = _lowered_with_large_bn_scales(tmp_path, bounded=True)
    assert design['golden_float32']['exact'] is True
    assert any(line.startswith('float32 golden model exact by construction') for line in said)

"""The layer trace on the lowered project itself: every traced layer of a clean design equals
qonnx exactly, and a bit planted deep inside (the head's int8 B -> C projection) is located in
that layer, with every layer before it still exact."""

import json

import pytest
import torch

from hw.design import load_design, project_dir
from quant_models.layers import fixed_point_act
from sim.csim import compile_project
from sim.fault import inject_weight_fault
from sim.golden import nhwc
from sim.layer_trace import first_mismatching_layer, trace_layers
from tests.conftest import grid_inputs


@pytest.fixture(scope='module')
def traced(small_lowered):
    design, path = load_design(small_lowered)
    q = fixed_point_act(16, 2).eval()
    ms, pan = grid_inputs(8, 16, seed=2)
    with torch.no_grad():
        ms, pan = q(ms[:1]), q(pan[:1])
    return design, path, nhwc(ms.numpy()), nhwc(pan.numpy())


def test_trace_is_exact_layer_by_layer_and_locates_a_planted_fault(traced, tmp_path):
    design, path, ms, pan = traced
    prj, final = project_dir(design, path), path.parent / 'final.onnx'
    rows = trace_layers(compile_project(prj), design, prj, final, ms, pan)
    classes = {r['class'] for r in rows}
    # binary activations (1-bit storage) and binary-weight convs (unscaled popcounts) are compared
    # after undoing hls4ml's representation, the custom layers as they are
    assert {'Activation', 'Conv2D', 'PointwiseConv2D', 'BatchNormalization', 'Merge', 'Concatenate',
            'BilinearResize', 'ChannelGate'} <= classes
    assert len(rows) > 30
    assert first_mismatching_layer(rows) is None, [r for r in rows if r['mismatches']][:3]

    # flip one bit of one int8 weight of the head's B -> C projection, deep inside the design
    head = next(r['layer'] for r in rows if r['class'] == 'PointwiseConv2D' and r['module'].startswith('head'))
    fault = inject_weight_fault(prj, design, tmp_path / 'fault_prj', layer_name=head)
    assert fault['layer'] == head and fault['from'] != fault['to']
    faulty = trace_layers(compile_project(tmp_path / 'fault_prj'), design, tmp_path / 'fault_prj', final, ms, pan)
    first = first_mismatching_layer(faulty)
    assert first is not None and first['layer'] == head and first['mismatches'] > 0, first
    before = faulty[:[r['layer'] for r in faulty].index(head)]
    assert before and all(r['mismatches'] == 0 for r in before)
    # the shipped project is untouched: its weights still differ from the faulty copy's
    w = fault['weight']
    assert (prj / 'firmware' / 'weights' / f'{w}.txt').read_text() != \
        (tmp_path / 'fault_prj' / 'firmware' / 'weights' / f'{w}.txt').read_text()
    assert json.loads(path.read_text())['sha256'] == design['sha256']

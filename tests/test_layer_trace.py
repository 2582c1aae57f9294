"""The layer trace maps every hls4ml layer onto its QONNX tensor exactly, and puts a planted 1-bit
weight fault in the layer that holds it (no ../shared data needed: a small random model)."""

import pytest
import torch

from hw.export import build_final_qonnx, export_qonnx, nhwc
from hw.hls4ml_lower import lower_hls4ml
from quant_models.layers import fixed_point_act
from sim.csim import inject_weight_fault
from sim.layer_trace import first_mismatching_layer, trace_layers
from test_export import _hardware_model, _inputs


@pytest.fixture(scope='module')
def lowered(tmp_path_factory):
    out = tmp_path_factory.mktemp('trace')
    model = _hardware_model(8, 8, 1)
    raw = export_qonnx(model, out / 'raw.onnx', patch=(16, 16), log=lambda s: None)
    final = build_final_qonnx(raw, out / 'final.onnx')
    hm, _ = lower_hls4ml(final, out / 'prj', io_bits=(16, 2))
    q = fixed_point_act(16, 2).eval()
    ms, pan = _inputs(8, 16, seed=2)
    with torch.no_grad():
        ms, pan = q(ms[:1]), q(pan[:1])
    return hm, final, nhwc(ms.numpy()), nhwc(pan.numpy())


def test_trace_is_exact_layer_by_layer_and_locates_a_planted_fault(lowered):
    hm, final, ms, pan = lowered
    rows = trace_layers(hm, final, ms, pan)
    classes = {r['class'] for r in rows}
    # binary activations (1-bit storage) and binary-weight convs (unscaled popcounts) are compared
    # after undoing hls4ml's representation, the custom layers as they are
    assert {'Activation', 'Conv2D', 'PointwiseConv2D', 'BatchNormalization', 'Merge', 'Concatenate',
            'BilinearResize', 'ChannelGate'} <= classes
    assert len(rows) > 30
    assert first_mismatching_layer(rows) is None, [r for r in rows if r['mismatches']][:3]

    # flip one bit of one int8 weight of the head's B -> C projection, deep inside the design
    head = next(r['layer'] for r in rows if r['class'] == 'PointwiseConv2D' and r['module'].startswith('head'))
    fault = inject_weight_fault(hm, head)
    assert fault['layer'] == head and fault['from'] != fault['to']
    faulty = trace_layers(hm, final, ms, pan)
    first = first_mismatching_layer(faulty)
    assert first is not None and first['layer'] == head and first['mismatches'] > 0, first
    before = faulty[:[r['layer'] for r in faulty].index(head)]
    assert before and all(r['mismatches'] == 0 for r in before)

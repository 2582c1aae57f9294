"""FINN provenance (hw.finn.provenance): every MVAU names the final-graph Conv it came from, read
from tags carried through FINN's transformations, checked here against an independent oracle."""

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from hw.finn import provenance


def _conv_weight_signs(final, conv) -> tuple[np.ndarray, str]:
    """Sign pattern (w >= 0) of a final-graph Conv's weights as the (K*K*Cin, Cout) matrix FINN's
    LowerConvsToMatMul builds (NHWC patch order), and the op feeding the weights."""
    w = final.get_initializer(conv.input[1])
    feeder = 'initializer'
    if w is None:
        q = final.find_producer(conv.input[1])
        feeder = q.op_type
        w = final.get_initializer(q.input[0])
    # channels-last Conv weights are OHWI -> (kh, kw, Cin, Cout) -> (kh*kw*Cin, Cout)
    return np.transpose(w, (1, 2, 3, 0)).reshape(-1, w.shape[0]) >= 0, feeder


def test_every_mvau_maps_to_the_conv_it_came_from(small_final, lowered_target):
    est, out = lowered_target
    final = ModelWrapper(str(small_final))
    lowered = ModelWrapper(str(out / 'finn_lowered.onnx'))
    convs = {n.name: n for n in final.graph.node if n.op_type == 'Conv'}
    signs = {name: _conv_weight_signs(final, c) for name, c in convs.items()}
    binary_convs = {name for name, (_, feeder) in signs.items() if feeder == 'BipolarQuant'}
    assert len(binary_convs) == 9
    by_layer = {e['name']: e for e in est['layers']}
    mapped = {}
    for n in lowered.graph.node:
        if not n.op_type.startswith('MVAU'):
            continue
        # the tag in finn_lowered.onnx is what finn_estimates.json reports
        assert provenance.sources(n) == by_layer[n.name]['source_nodes']
        src = [s for s in provenance.sources(n) if s in convs]
        assert len(src) == 1, f'{n.name}: source nodes {provenance.sources(n)}'
        w = lowered.get_initializer(n.input[1])  # (MW, MH) = (K*K*Cin, Cout)
        assert w.shape == signs[src[0]][0].shape, (n.name, src[0])
        if n.op_type == 'MVAU_hls':  # binary (xnor) MVAU: weights stored as 0/1 for -1/+1
            oracle = [c for c in binary_convs if signs[c][0].shape == w.shape
                      and np.array_equal(signs[c][0], w > 0)]
            assert oracle == src, f'{n.name}: weights match {oracle}, provenance says {src}'
        mapped[n.name] = src[0]
    hls = {k: v for k, v in mapped.items() if k.startswith('MVAU_hls')}
    assert len(hls) == 9 and set(hls.values()) == binary_convs  # one MVAU per binary conv
    assert len(set(mapped.values())) == len(mapped)

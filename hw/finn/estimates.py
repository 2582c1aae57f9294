"""FINN's analytical estimates of a lowered HW graph, its folding, and what was not converted.

Per HW layer: ``exp_cycles_per_layer`` (clock cycles per frame) and ``res_estimation`` (LUT,
BRAM_18K, URAM, DSP counts) from ``finn.analysis.fpgadataflow``; graph-level bottleneck and
critical path in cycles per frame (:func:`dataflow_performance`). Folding is reported in FINN's
folding-config format (layer name -> {PE, SIMD, ...}).
"""

from __future__ import annotations

from hw.finn import env as finn_env
from hw.finn import provenance
from hw.finn.steps import is_hw

FOLDING_ATTRS = ('PE', 'SIMD', 'parallel_window', 'ram_style', 'ram_style_thresholds', 'resType',
                 'mem_mode', 'impl_style', 'depth_trigger_uram', 'depth_trigger_bram')

# Why each kind of node that FINN leaves in the graph could not become a HW layer.
_REASONS = {
    'Quant': 'fixed-point requantiser wider than 8 bits (16-bit fixed point here): FINN only turns '
             'Quant of <= 8 bits into MultiThreshold (max_multithreshold_bit_width=8; a 16-bit one would '
             'need 65535 thresholds per channel), and finn-plus Requant rounds half-up whereas QONNX Quant '
             'ROUND rounds half-to-even, so a Requant would not be bit-exact',
    'BilinearResize': 'project custom op (hw.custom_ops): FINN has no bilinear upsampler (its Upsample '
                      'layer is nearest-neighbour)',
    'ChannelGate': 'project custom op (hw.custom_ops): global binary pooling + binary 1x1 + hard-sigmoid '
                   'gate needs a whole-frame buffer; no FINN HW layer',
    'HaarDWT': 'project custom op (hw.custom_ops, BNNPan-style): FINN has no wavelet transform (a 2x2 '
               'stride-2 grouped conv of +-1/2 kernels on a fixed-point stream)',
    'HaarIDWT': 'project custom op (hw.custom_ops, BNNPan-style): FINN has no inverse wavelet transform '
                '(a transposed conv)',
    'MatMul': 'MVAU needs integer input and weight datatypes; this MatMul reads a FLOAT32 tensor (output '
              'of an unconverted 16-bit Quant or of a project custom op)',
    'MultiThreshold': 'Thresholding needs an integer input datatype (input is a scaled fixed-point '
                      'FLOAT32 tensor) or out_scale 1',
    'Pad': 'not a constant zero padding of H and W only',
    'Concat': 'StreamingConcat needs integer inputs; inputs are FLOAT32 (BN affine on fixed point)',
    'Mul': 'elementwise op FINN could not map (non-constant or unsupported broadcast)',
    'Add': 'elementwise op FINN could not map (non-constant or unsupported broadcast)',
}


def extract_folding(model) -> dict:
    """Folding actually set on the HW layers, in FINN's folding-config format
    (``{"Defaults": {}, "<HW layer name>": {"PE": .., "SIMD": .., ...}}``)."""
    from qonnx.custom_op.registry import getCustomOp

    cfg = {'Defaults': {}}
    for n in model.graph.node:
        if not is_hw(n):
            continue
        inst = getCustomOp(n)
        types = inst.get_nodeattr_types()
        attrs = {a: inst.get_nodeattr(a) for a in FOLDING_ATTRS if a in types}
        cfg[n.name] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
    return cfg


def dataflow_performance(model, cycles: dict[str, int]) -> dict:
    """Bottleneck and critical path in cycles per frame.

    Written here because FINN's ``dataflow_performance`` analysis assumes every node is a HW layer
    and raises ``KeyError`` on the first non-HW predecessor (here e.g. ``BilinearResize_0``;
    finn/analysis/fpgadataflow/dataflow_performance.py, line 78). Same definition as FINN's: the
    latency at a node's output is its own cycles plus the largest latency at its predecessors'
    outputs; nodes that stay outside the dataflow count 0 cycles (they have no FINN estimate).
    """
    lat: dict[str, int] = {}
    producers = {o: n for n in model.graph.node for o in n.output}
    for n in model.graph.node:  # topologically sorted
        preds = [producers[i].name for i in n.input if i in producers]
        lat[n.name] = int(cycles.get(n.name, 0)) + max((lat[p] for p in preds), default=0)
    bottleneck = max(cycles, key=cycles.get) if cycles else None
    return {'max_cycles': cycles[bottleneck] if bottleneck else 0, 'max_cycles_node_name': bottleneck,
            'critical_path_cycles': max(lat.values(), default=0)}


def estimates(model, part, clock_mhz: float, target, skipped: list[str]) -> dict:
    """The content of ``finn_estimates.json`` for the HW graph ``model``.

    ``part``: the :class:`hw.parts.Part` FINN estimated for; ``clock_mhz``: clock [MHz] that
    scales the throughput (frames/s) and latency (us); ``target``: the SetFolding target in
    cycles per frame (None: not used); ``skipped``: convert-to-HW transformations that raised.
    Per HW layer: cycles per frame, LUT / BRAM_18K / URAM / DSP counts, folding, datatypes and
    ``source_nodes`` (the final-graph nodes it implements, :mod:`hw.finn.provenance`; empty
    when unknown).
    """
    from qonnx.custom_op.registry import getCustomOp

    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.analysis.fpgadataflow.res_estimation import res_estimation

    cycles = model.analysis(exp_cycles_per_layer)
    res = model.analysis(lambda m: res_estimation(m, part.vendor_part))
    folding = extract_folding(model)
    layers = []
    for n in model.graph.node:
        if not is_hw(n):
            continue
        inst = getCustomOp(n)
        r = res.get(n.name, {})
        fold = {k: v for k, v in folding.get(n.name, {}).items() if k in ('PE', 'SIMD', 'parallel_window')}
        entry = {'name': n.name, 'op_type': n.op_type, 'cycles': int(cycles.get(n.name, 0)),
                 'LUT': float(r.get('LUT', 0)), 'BRAM_18K': float(r.get('BRAM_18K', 0)),
                 'URAM': float(r.get('URAM', 0)), 'DSP': float(r.get('DSP', 0)), 'folding': fold,
                 'source_nodes': provenance.sources(n),
                 'input_dtype': inst.get_input_datatype(0).name, 'output_dtype': inst.get_output_datatype(0).name}
        layers.append(entry)
    perf = dataflow_performance(model, cycles)
    max_cycles = int(perf.get('max_cycles', 0))
    total = {k: float(sum(e[k] for e in layers)) for k in ('LUT', 'BRAM_18K', 'URAM', 'DSP')}
    total.update({'layers': len(layers), 'max_cycles_per_frame': max_cycles,
                  'critical_path_cycles': int(perf.get('critical_path_cycles', 0)),
                  'bottleneck_layer': perf.get('max_cycles_node_name'),
                  'throughput_fps': (clock_mhz * 1e6 / max_cycles) if max_cycles else None,
                  'latency_us': int(perf.get('critical_path_cycles', 0)) / clock_mhz})
    not_converted = []
    for n in model.graph.node:
        if is_hw(n):
            continue
        not_converted.append({'name': n.name, 'op_type': n.op_type, 'source_nodes': provenance.sources(n),
                              'reason': _REASONS.get(n.op_type, 'no FINN HW layer for this op')})
    return {'layers': layers, 'total': total, 'not_converted': not_converted, 'skipped_transforms': skipped,
            'clock_mhz': float(clock_mhz), 'target_cycles_per_frame': target, 'part': part.vendor_part,
            'part_key': part.key,
            'finn_plus_version': finn_env.finn_plus_version(),
            'source': 'FINN analytical estimates (finn.analysis.fpgadataflow: exp_cycles_per_layer, '
                      'res_estimation, dataflow_performance); cycles per frame, LUT/BRAM_18K/URAM/DSP counts'}

"""Analytical latency / throughput / resource model of the hls4ml io_stream design.

Input: a design description (:mod:`hw.design`, ``design.json``), optional per-layer reuse factors,
the clock. Output: per-layer and total II, cycles per frame, latency, throughput, LUT, FF, BRAM36,
DSP, weight bits, and every line buffer, frame buffer and FIFO with its depth, width and mapping.
Every figure carries ``source: "analytical"``. The formulas and their reasoning are in
docs/resources.md; the constants below are the ones named there.

Why a model of our own: without Vitis HLS no resource or latency number exists for an hls4ml
project (hls4ml's report readers only parse vendor reports), and FINN's estimators cover FINN's
own layers, not hls4ml's templates or the project's custom layers. FINN's estimates of the same
convolutions are used as a cross-check (``hsbinet report --finn``).

Timing model of the io_stream templates (hls4ml 1.3.0, ``conv_2d_buffer_cl`` "LineBuffer"):
a K x K conv reads one padded input pixel (all channels) every ``reuse_factor`` cycles and
emits an output pixel once its window is complete; BatchNorm/activations/adds/pads take one pixel
per cycle (times their reuse factor); BilinearResize reads h*w LR pixels and writes H*W pixels,
one per cycle; ChannelGate stores a frame, computes the gate (C cycles), then replays the frame.
The dataflow pipeline's frame interval is the slowest layer's cycles per frame.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from hw.parts import DEFAULT_CLOCK_MHZ

# --- constants (docs/resources.md, "Constants") ---------------------------------------------
LUT_PER_XNOR_BIT_CONST = 2.0   # HLS binary adder tree on N 1-bit terms: sum_k k N/2^k ~ 2N LUT; constant weights fold in
LUT_PER_XNOR_BIT_VAR = 2.5     # weights read from memory (reuse > 1): the XNOR takes LUT inputs of its own
DSP_MIN_BITS = 10              # a product is bound to a DSP when both operands are >= 10 bits wide
PIPELINE_DEPTH = 6             # cycles of pipeline in a kernel besides its adder tree
SRL_DEPTH = 32                 # SRLC32E: one LUT holds 32 bits of a shift register / FIFO lane
LUTRAM_DEPTH = 64              # RAM64X1: one LUT holds 64 bits of a ROM/RAM lane
BRAM_MIN_BITS = 8 * 1024       # smaller memories stay in LUTs (Vivado's default for FIFOs and ROMs)
FIFO_MIN_DEPTH = 2             # hls::stream minimum used between layers with matched rates
FIFO_MARGIN = 1.125            # safety factor on analytically derived branch-balancing FIFO depths
BRAM36_ASPECTS = ((32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36), (512, 72))

CONV_CLASSES = ('Conv2D', 'PointwiseConv2D')


@dataclass
class Memory:
    """One on-chip memory: ``depth`` words of ``width`` bits, mapped to ``impl``."""

    layer: str
    kind: str        # 'line buffer' | 'frame buffer' | 'FIFO' | 'weights'
    depth: int
    width: int
    impl: str = ''   # 'registers' | 'SRL' | 'LUTRAM' | 'BRAM' | 'logic' (hard-wired constants)
    lut: float = 0.0
    ff: float = 0.0
    bram36: float = 0.0
    note: str = ''

    @property
    def bits(self) -> int:
        return self.depth * self.width


@dataclass
class LayerEstimate:
    name: str
    cls: str
    kind: str
    reuse: int
    ii: int                    # cycles between two pixels accepted by the layer
    cycles_per_frame: int
    delay_px: int              # pixels of input the layer consumes before its first output pixel
    pipeline_cycles: int = 0   # kernel pipeline depth (included in cycles_per_frame)
    lut: float = 0.0
    ff: float = 0.0
    dsp: int = 0
    weight_bits: int = 0
    macs_per_frame: int = 0
    memories: list[Memory] = field(default_factory=list)
    source: str = 'analytical'


def memory(layer: str, kind: str, depth: int, width: int, shift_register: bool = False, note: str = '') -> Memory:
    """Map a memory to registers, SRL/LUTRAM or BRAM36 (BRAM18 halves allowed) and cost it."""
    m = Memory(layer, kind, int(depth), int(width), note=note)
    if m.depth <= 0 or m.width <= 0:
        m.impl = 'none'
    elif m.depth <= 2:
        m.impl, m.ff = 'registers', float(m.bits)
    elif m.bits < BRAM_MIN_BITS or m.depth <= SRL_DEPTH:
        per = SRL_DEPTH if shift_register else LUTRAM_DEPTH
        m.impl, m.lut = ('SRL' if shift_register else 'LUTRAM'), float(m.width * math.ceil(m.depth / per))
    else:
        b36 = min(math.ceil(m.depth / d) * math.ceil(m.width / w) for d, w in BRAM36_ASPECTS)
        b18 = min(math.ceil(m.depth / (d // 2)) * math.ceil(m.width / w) for d, w in BRAM36_ASPECTS[:-1] if d >= 1024)
        m.impl, m.bram36 = 'BRAM', min(float(b36), b18 / 2.0)
    return m


def uses_dsp(a_bits: int, b_bits: int) -> bool:
    """Whether Vitis HLS binds an a x b product to a DSP48 (both >= 10 bits, or >= 8 with >= 16)."""
    lo, hi = min(a_bits, b_bits), max(a_bits, b_bits)
    return lo >= DSP_MIN_BITS or (hi >= 16 and lo >= 8)


@lru_cache(maxsize=None)
def valid_reuse_factors(n_in: int, n_out: int) -> tuple[int, ...]:
    """hls4ml's rule for a dense kernel's reuse factor (FPGABackend._validate_reuse_factor, 1.3.0).

    Re-stated so reports and explorations need neither hls4ml nor a backend instance (the test
    suite checks it against hls4ml's ``get_valid_reuse_factors``). Only divisors of n_in * n_out
    can pass hls4ml's third condition, so only those are tried; cached because the explorer asks
    for the same layers at every folding target.
    """
    total = n_in * n_out
    out = []
    for rf in (d for d in range(1, total + 1) if total % d == 0):
        mult_limit = math.ceil(total / min(n_in, rf))
        if ((mult_limit % n_out == 0) or rf >= n_in) and ((rf % n_in == 0) or rf < n_in):
            out.append(rf)
    return tuple(out)


def layer_estimate(layer: dict, reuse: int) -> LayerEstimate:
    """Estimate of one layer of a design description at reuse factor ``reuse``."""
    return _conv(layer, reuse) if layer['class'] in CONV_CLASSES else _simple(layer, reuse)


def _conv(layer: dict, reuse: int) -> LayerEstimate:
    a, w = layer['attrs'], layer['weights']['weight']
    K, Kw = int(a['filt_height']), int(a['filt_width'])
    cin, cout = int(a['n_chan']), int(a['n_filt'])
    hin, win = int(a['in_height']), int(a['in_width'])
    a_bits, w_bits, acc_bits = layer['in_bits'][0], w['bits'], layer['result_bits']
    n_in = K * Kw * cin
    products = n_in * cout
    P = math.ceil(products / reuse)
    binary = a_bits == 1 and w_bits == 1
    e = LayerEstimate(layer['name'], layer['class'], f'{"binary" if binary else "fixed"} conv {K}x{Kw} {cin}->{cout}',
                      reuse, reuse, hin * win * reuse, delay_px=(K - 1) * win + (Kw - 1),
                      weight_bits=products * w_bits, macs_per_frame=products * int(a['out_height']) * int(a['out_width']))
    tree = math.ceil(math.log2(max(n_in, 2)))
    if binary:
        e.lut = P * (LUT_PER_XNOR_BIT_CONST if reuse == 1 else LUT_PER_XNOR_BIT_VAR)
        e.ff = P * 0.5 + cout * acc_bits  # a register every second adder-tree level, plus the outputs
    elif min(a_bits, w_bits) <= 2:  # +-1 / {0,1} weights or inputs: add/subtract, no multiplier
        e.lut = P * acc_bits
        e.ff = P * acc_bits * 0.5
    elif uses_dsp(a_bits, w_bits):
        e.dsp = P  # one DSP48E2 per product (27x18 multiplier, post-adder chains the accumulation)
        e.lut = P * 2.0  # operand muxing / sign handling around the DSP cascade
        e.ff = P * 4.0
    else:
        e.lut = P * (a_bits * w_bits / 2.0 + acc_bits)  # fabric multiplier (~ab/2 LUT6) + adder
        e.ff = P * acc_bits * 0.5
    if reuse > 1:
        e.lut += cout * acc_bits  # accumulators across the reuse cycles
        e.ff += cout * acc_bits
    e.pipeline_cycles = tree + PIPELINE_DEPTH
    e.cycles_per_frame += e.pipeline_cycles
    if K > 1:  # hls4ml's line buffer: (K-1) ap_shift_reg of the padded width per channel -> SRLs
        e.memories.append(memory(layer['name'], 'line buffer', (K - 1) * win, cin * a_bits, shift_register=True,
                                 note=f'{K - 1} rows x {win} px x {cin} ch x {a_bits} bit'))
        e.ff += K * Kw * cin * a_bits  # the window registers
    if reuse == 1:
        e.memories.append(Memory(layer['name'], 'weights', products, w_bits, 'logic',
                                 note='fully parallel: weights are hard-wired constants in the arithmetic'))
    else:
        e.memories.append(memory(layer['name'], 'weights', reuse, P * w_bits,
                                 note=f'{P} products per cycle x {w_bits} bit, {reuse} words'))
    return e


def _simple(layer: dict, reuse: int) -> LayerEstimate:
    cls, name = layer['class'], layer['name']
    shape = layer['out_shape']
    C = shape[-1]
    px = shape[0] * shape[1] if len(shape) == 3 else 1
    rb = layer['result_bits']
    ib = layer['in_bits'] or [rb]
    e = LayerEstimate(name, cls, cls, reuse, reuse, px * reuse, 0)
    if cls == 'BatchNormalization':
        sb = layer['weights'].get('scale', {}).get('bits', 16)
        e.kind = f'batchnorm {C} ch'
        par = math.ceil(C / reuse)
        if uses_dsp(ib[0], sb):
            e.dsp, e.lut = par, par * 2.0
        else:
            e.lut = par * (ib[0] * sb / 2.0 + rb)
        e.ff = par * rb
        e.weight_bits = C * (sb + layer['weights'].get('bias', {}).get('bits', 16))
        e.memories.append(Memory(name, 'weights', C, sb + layer['weights'].get('bias', {}).get('bits', 16), 'logic',
                                 note='per-channel scale and bias, constants'))
    elif cls == 'Activation':
        if rb == 1:
            e.kind, e.lut, e.ff = f'binarise {C} ch', C * 0.5, C
        else:
            e.kind, e.lut, e.ff = f'requantise {C} ch to {rb} bit', C * (rb + 2.0), C * rb  # round + saturate
    elif cls == 'Merge':
        e.kind, e.lut, e.ff = f'add {C} ch', float(C * rb), float(C * rb)
    elif cls == 'Concatenate':
        e.kind, e.lut, e.ff = f'concat -> {C} ch', 20.0, float(C * rb)
    elif cls == 'ZeroPadding2D':
        e.kind, e.lut, e.ff = f'zero pad {C} ch', 40.0 + C * rb * 0.25, float(C * rb)
        a = layer['attrs']
        e.cycles_per_frame = int(a['out_height']) * int(a['out_width']) * reuse
    elif cls == 'Clone':
        e.kind, e.lut, e.ff = f'fan-out x{layer["outputs"]}', 10.0, float(C * rb)
    elif cls == 'Input':
        e.kind, e.cycles_per_frame = 'input stream', px
    elif cls == 'BilinearResize':
        a = layer['attrs']
        r, h, w = int(a['ratio']), int(a['in_height']), int(a['in_width'])
        e.kind = f'bilinear x{r}, {C} ch'
        e.cycles_per_frame = h * w + int(a['out_height']) * int(a['out_width'])
        e.delay_px = (r + r // 2) * int(a['out_width'])  # the first HR rows need two LR rows
        e.lut = C * (ib[0] + 4) * 3.0  # per channel: two constant-weight lerps and the output add
        e.ff = C * (rb + ib[0]) * 2.0
        e.memories.append(memory(name, 'line buffer', 2 * w, C * ib[0], note=f'2 LR rows x {w} px x {C} ch x {ib[0]} bit'))
    elif cls == 'ChannelGate':
        a = layer['attrs']
        H, W = int(a['height']), int(a['width'])
        e.kind = f'channel gate {C} ch (frame buffer)'
        e.cycles_per_frame = 2 * H * W + C
        e.delay_px = H * W  # the gate needs the whole frame's average before the first output
        # GAP counters (C x 12 bit), one C-bit XNOR popcount per cycle for C cycles, the hard sigmoid,
        # and the output's sign-select of the gate value
        e.lut = C * 12.0 + C * LUT_PER_XNOR_BIT_VAR + 20.0 + C * rb
        e.ff = C * (12.0 + rb)
        gw = layer['weights'].get('gate_w', {'bits': 1})
        e.weight_bits = C * C * gw['bits'] + C * layer['weights'].get('gate_k', {'bits': 4})['bits']
        e.memories.append(memory(name, 'frame buffer', H * W, C * ib[0],
                                 note=f'{H}x{W} px x {C} ch x {ib[0]} bit (the binarised decoder features)'))
    else:
        e.kind = f'{cls} (no rule: counted as 0)'
    return e


def _path_delays(layers: list[dict], est: dict[str, LayerEstimate]) -> dict[str, int]:
    """Delay (pixels of the HR frame) from the inputs to each layer's first output, longest path.

    A K x K conv delays its output by its window fill, a ChannelGate by a whole frame.
    """
    delay: dict[str, int] = {}
    for lay in layers:  # hls4ml lists layers in dataflow order
        delay[lay['name']] = max((delay[i] for i in lay['inputs']), default=0) + est[lay['name']].delay_px
    return delay


def _fifo_plan(layers: list[dict], delay: dict[str, int], written: bool = True) -> list[Memory]:
    """FIFO depth on each stream: the depth written into the project (``in_depths`` of design.json)
    when ``written`` and known, else the branch-balancing plan: where two paths meet at a
    Merge/Concatenate the input that arrives earlier buffers the difference of the two paths'
    delays (times FIFO_MARGIN); every other stream the minimum.
    """
    by = {lay['name']: lay for lay in layers}
    fifos = []
    for lay in layers:
        depths = lay.get('in_depths') or [None] * len(lay['inputs'])
        for i, as_written in zip(lay['inputs'], depths):
            if written and as_written is not None:
                src = by[i]
                fifos.append(memory(f'{i} -> {lay["name"]}', 'FIFO', int(as_written), src['out_shape'][-1] * src['result_bits'],
                                    shift_register=True, note='depth as written in the project'))
                continue
            src = by[i]
            width = src['out_shape'][-1] * src['result_bits']
            depth = FIFO_MIN_DEPTH
            note = 'matched rates'
            if lay['class'] in ('Merge', 'Concatenate') and len(lay['inputs']) == 2:
                skew = max(delay[j] for j in lay['inputs']) - delay[i]
                if skew > 0:
                    depth = max(FIFO_MIN_DEPTH, math.ceil(skew * FIFO_MARGIN))
                    note = f'balances a {skew}-pixel path skew into {lay["name"]}'
            m = memory(f'{i} -> {lay["name"]}', 'FIFO', depth, width, shift_register=True, note=note)
            fifos.append(m)
    return fifos


def estimate(design: dict, reuse: int | dict | None = None, clock_mhz: float = DEFAULT_CLOCK_MHZ) -> dict:
    """Analytical estimate of ``design``.

    ``reuse``: None = the design as lowered (the reuse factors and FIFO depths written into the
    project); a {layer: reuse} map or an int T = a hypothetical folding, whose FIFOs are the
    branch-balancing plan: with T (cycles per PAN pixel) every conv takes the largest hls4ml-valid
    reuse factor R with R x (its input pixels) <= T x (frame pixels), i.e. balanced folding (R = 1
    when none is valid).
    """
    layers = design['layers']
    H, W = design['frame']['height'], design['frame']['width']
    frame_px = H * W
    est: dict[str, LayerEstimate] = {}
    for lay in layers:
        r = lay['attrs'].get('reuse_factor', 1) or 1
        if isinstance(reuse, dict):
            r = reuse.get(lay['name'], r)
        elif reuse is not None and lay['class'] in CONV_CLASSES:
            in_px = int(lay['attrs']['in_height']) * int(lay['attrs']['in_width'])
            r = closest_valid_reuse(lay, int(reuse) * frame_px // in_px)
        est[lay['name']] = layer_estimate(lay, int(r))
    delay = _path_delays(layers, est)
    fifos = _fifo_plan(layers, delay, written=reuse is None)
    per_layer = list(est.values())
    mems = [m for e in per_layer for m in e.memories] + fifos
    interval = max(e.cycles_per_frame for e in per_layer)
    bottleneck = max(per_layer, key=lambda e: e.cycles_per_frame).name
    depth_px = delay[layers[-1]['name']]
    latency = math.ceil((depth_px + frame_px) * interval / frame_px + sum(e.pipeline_cycles for e in per_layer))
    total = {
        'lut': round(sum(e.lut for e in per_layer) + sum(m.lut for m in mems)),
        'ff': round(sum(e.ff for e in per_layer) + sum(m.ff for m in mems)),
        'bram36': math.ceil(sum(m.bram36 for m in mems)),
        'dsp': int(sum(e.dsp for e in per_layer)),
        'weight_bits': int(sum(e.weight_bits for e in per_layer)),
        'fifo_bits': int(sum(m.bits for m in fifos)), 'fifo_lut': round(sum(m.lut for m in fifos)),
        'buffer_bits': int(sum(m.bits for m in mems if m.kind in ('line buffer', 'frame buffer'))),
    }
    frames_per_s = clock_mhz * 1e6 / interval
    perf = {
        'clock_mhz': clock_mhz, 'frame_px': frame_px, 'frame': [H, W],
        'ii_cycles_per_frame': int(interval), 'bottleneck': bottleneck,
        'latency_cycles': latency, 'latency_us': latency / clock_mhz,
        'frames_per_s': frames_per_s, 'mpixel_per_s': frames_per_s * frame_px / 1e6,
        'path_delay_px': int(depth_px),
    }
    rows = []
    for e in per_layer:
        d = asdict(e)
        d['memories'] = [dict(asdict(m), bits=m.bits) for m in e.memories]
        d['latency_us'] = e.cycles_per_frame / clock_mhz
        # the layer with its own memories (line/frame buffers, weight ROMs; FIFOs are listed apart)
        d['lut_total'] = e.lut + sum(m.lut for m in e.memories)
        d['ff_total'] = e.ff + sum(m.ff for m in e.memories)
        d['bram36_total'] = sum(m.bram36 for m in e.memories)
        rows.append(d)
    return {'source': 'analytical', 'performance': perf, 'total': total, 'layers': rows,
            'fifos': [dict(asdict(m), bits=m.bits) for m in fifos],
            'hls4ml_default_fifo_bits': int(sum(_default_fifo_bits(lay) for lay in layers))}


def _default_fifo_bits(layer: dict) -> int:
    """FIFO bits of hls4ml's default stream depth (one full frame of the stream) for each output."""
    shape = layer['out_shape']
    px = shape[0] * shape[1] if len(shape) == 3 else 1
    return px * shape[-1] * layer['result_bits'] * max(layer.get('outputs', 1), 1) if layer['class'] != 'Input' else 0


def closest_valid_reuse(layer: dict, target: int) -> int:
    """The largest hls4ml-valid reuse factor <= ``target`` for a conv layer (1 is always valid)."""
    a = layer['attrs']
    n_in = int(a['filt_height']) * int(a['filt_width']) * int(a['n_chan'])
    n_out = int(a['n_filt'])
    valid = [r for r in valid_reuse_factors(n_in, n_out) if r <= max(target, 1)]
    return max(valid) if valid else 1

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
one per cycle; HaarDWT reads a pixel per cycle and writes a sub-band pixel per 2 x 2 block;
HaarIDWT reads its first input row, then writes two output rows per input row (a pixel per cycle)
while it reads the next row (a pixel per four cycles); ChannelGate stores a frame and computes the gate (C cycles) while it replays the
previous frame from the other half of a ping-pong frame buffer, at its consumer's pace.
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
DSP_A_BITS, DSP_B_BITS = 27, 18  # DSP48E2 multiplier operand widths (signed)
PIPELINE_DEPTH = 6             # cycles of pipeline in a kernel besides its adder tree
SRL_DEPTH = 32                 # SRLC32E: one LUT holds 32 bits of a shift register / FIFO lane
LUTRAM_DEPTH = 64              # RAM64X1: one LUT holds 64 bits of a ROM/RAM lane
BRAM_MIN_BITS = 8 * 1024       # smaller memories stay in LUTs (Vivado's default for FIFOs and ROMs)
FIFO_MIN_DEPTH = 2             # hls::stream minimum used between layers with matched rates
FIFO_MARGIN = 1.125            # safety factor on the pixels the FIFO rules derive (fifo_rules; whole frames excluded)
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


def dsp_bindable(layer: dict) -> bool:
    """Whether ``layer`` is a conv whose fixed-point products HLS would build in fabric but one
    DSP48E2 multiplier (27 x 18 signed) holds: not binary, not +-1/{0,1} (an add/subtract), not
    already DSP-sized by :func:`uses_dsp`. :mod:`hw.hls.dsp_binding` binds such a layer's products
    to DSPs with a pragma when the folding plan says so (``mult_impl``)."""
    if layer['class'] not in CONV_CLASSES:
        return False
    a_bits, w_bits = layer['in_bits'][0], layer['weights']['weight']['bits']
    lo, hi = min(a_bits, w_bits), max(a_bits, w_bits)
    return lo > 2 and not uses_dsp(a_bits, w_bits) and lo <= DSP_B_BITS and hi <= DSP_A_BITS


def bind_multipliers(design: dict, layers) -> dict:
    """A copy of ``design`` whose ``layers`` (names) have ``attrs.mult_impl = 'dsp'``."""
    names = set(layers)
    return {**design, 'layers': [{**lay, 'attrs': {**lay['attrs'], 'mult_impl': 'dsp'}} if lay['name'] in names else lay
                                 for lay in design['layers']]}


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
    elif uses_dsp(a_bits, w_bits) or a.get('mult_impl') == 'dsp':  # the tool's rule, or the pragma of hw.hls.dsp_binding
        e.dsp = P  # one DSP48E2 per product (27x18 multiplier, post-adder chains the accumulation)
        e.lut = P * 2.0  # operand muxing / sign handling around the DSP cascade
        e.ff = P * 4.0
        if a.get('mult_impl') == 'dsp':
            e.kind += ', products bound to DSP48 (pragma)'
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
    elif cls in ('HaarDWT', 'HaarIDWT'):
        a = layer['attrs']
        h, w, cin = int(a['in_height']), int(a['in_width']), int(a['in_chan'])
        chans = int(a['out_chan']) if cls == 'HaarDWT' else cin  # the 4 sub-bands of every channel
        e.kind = f'Haar {"DWT" if cls == "HaarDWT" else "inverse DWT"}, {cin} -> {a["out_chan"]} ch'
        if cls == 'HaarDWT':  # one input pixel per cycle; an output after every 2 x 2 block
            e.cycles_per_frame, e.delay_px = h * w, w + 2
            e.memories.append(memory(name, 'line buffer', w, cin * ib[0], note=f'1 row x {w} px x {cin} ch x {ib[0]} bit'))
        else:  # reads its first input row, then writes 2 output rows per input row while it reads the next
            e.cycles_per_frame, e.delay_px = w + int(a['out_height']) * int(a['out_width']), w
            e.memories.append(memory(name, 'line buffer', 2 * w, cin * ib[0],
                                     note=f'2 rows (ping-pong) x {w} px x {cin} sub-band values x {ib[0]} bit'))
        # per channel 8 adders/subtractors of (input + 2) bits (two butterfly stages; the halving is wiring)
        e.lut = chans / 4 * 8 * (ib[0] + 2.0)
        e.ff = float(int(layer['out_shape'][-1]) * rb)
    elif cls == 'ChannelGate':
        a = layer['attrs']
        H, W = int(a['height']), int(a['width'])
        L = gate_block_rows(layer)
        if L == H:
            e.kind = f'channel gate {C} ch (ping-pong frame buffer)'
            e.cycles_per_frame = H * W + C  # store + gate; the replay of the previous frame overlaps it
        else:  # H8: reads block b while it writes block b - 1; the last block after the frame
            e.kind = f'channel gate {C} ch per {L}-row block (ping-pong block buffer)'
            e.cycles_per_frame = H * W + L * W + C * (H // L)
        e.delay_px = L * W  # the gate needs its block's (frame's) average before the first output
        # GAP counters (C x 12 bit), one C-bit XNOR popcount per cycle for C cycles, the hard sigmoid,
        # and the output's sign-select of the gate value
        e.lut = C * 12.0 + C * LUT_PER_XNOR_BIT_VAR + 20.0 + C * rb
        e.ff = C * (12.0 + rb)
        gw = layer['weights'].get('gate_w', {'bits': 1})
        e.weight_bits = C * C * gw['bits'] + C * layer['weights'].get('gate_k', {'bits': 4})['bits']
        e.memories.append(memory(name, 'frame buffer', 2 * L * W, C * ib[0],
                                 note=f'2 x {L}x{W} px x {C} ch x {ib[0]} bit (the binarised decoder features; '
                                      f'one {"frame" if L == H else "block"} stored while the other is replayed)'))
    else:
        e.kind = f'{cls} (no rule: counted as 0)'
    return e


def adapter_estimates(design: dict) -> list[LayerEstimate]:
    """The AXI4-Stream adapter around the core (:mod:`hw.hls.axis`), as three layers: unpacking
    ``s_ms`` (ceil(B / lanes) beats per LR pixel into one core word), ``s_pan`` (one PAN sample per
    cycle out of ceil(W / lanes) beats per row) and packing ``m_out`` (ceil(B / lanes) beats per HR
    pixel, one beat per cycle: the adapter's throughput bound). Cost: the core word register and a
    write-enable per lane group (unpack), a ceil(beats/4)-level LUT6 mux per TDATA bit (pack)."""
    ax = design.get('axis')
    if not ax:
        return []
    ins = {lay['name']: lay['out_shape'] for lay in design['layers'] if lay['class'] == 'Input'}
    (h, w, core), (H, W, _) = ins['ms'], ins['pan']
    t, sb, beats = int(ax['tdata_bits']), int(ax['sample_bits']), int(ax['beats_per_pixel'])
    word = core * sb
    mux = t * math.ceil(beats / 4)
    return [
        LayerEstimate('axis s_ms', 'AxisAdapter', f'AXI4-Stream {t} bit -> {core} bands ({beats} beats/px)', 1, beats,
                      h * w * beats, 0, lut=float(word), ff=float(word + t)),
        LayerEstimate('axis s_pan', 'AxisAdapter', f'AXI4-Stream {t} bit -> PAN samples', 1, 1,
                      H * W, 0, lut=float(t // 4 + sb), ff=float(t + sb)),
        LayerEstimate('axis m_out', 'AxisAdapter', f'{ax["bands"]} bands -> AXI4-Stream {t} bit ({beats} beats/px)', 1,
                      beats, H * W * beats, 0, lut=float(mux), ff=float(word + t)),
    ]


def gate_block_rows(layer: dict) -> int:
    """Rows per gate of a ChannelGate layer: its frame height, or its H8 block (design attribute)."""
    a = layer['attrs']
    return int(a.get('block_rows') or a['height'])


def _path_delays(layers: list[dict], est: dict[str, LayerEstimate]) -> dict[str, int]:
    """Delay (pixels of the HR frame) from the inputs to each layer's first output, longest path.

    A K x K conv delays its output by its window fill, a ChannelGate by a whole frame.
    """
    delay: dict[str, int] = {}
    for lay in layers:  # hls4ml lists layers in dataflow order
        delay[lay['name']] = max((delay[i] for i in lay['inputs']), default=0) + est[lay['name']].delay_px
    return delay


def _fifo_plan(layers: list[dict], delay: dict[str, int], written: bool = True,
               est: dict[str, LayerEstimate] | None = None) -> list[Memory]:
    """FIFO depth on each stream: the depth written into the project (``in_depths`` of design.json)
    when ``written`` and known, else the planned depth of :func:`fifo_rules` (the rules of
    docs/resources.md, "FIFO plan"), each with the rule that set it in its note. ``est``: the layer
    estimates of the folding (reuse factors) to plan for; None: the design's own reuse factors.
    ``delay`` (path delays in pixels) is no longer used by the rules: kept for the callers."""
    by = {lay['name']: lay for lay in layers}
    if est is None:
        est = {lay['name']: layer_estimate(lay, int(lay['attrs'].get('reuse_factor', 1) or 1)) for lay in layers}
    plan = None
    fifos = []
    for lay in layers:
        depths = lay.get('in_depths') or [None] * len(lay['inputs'])
        for i, as_written in zip(lay['inputs'], depths):
            src = by[i]
            width = src['out_shape'][-1] * src['result_bits']
            name = f'{i} -> {lay["name"]}'
            if written and as_written is not None:
                fifos.append(memory(name, 'FIFO', int(as_written), width, shift_register=True,
                                    note='depth as written in the project'))
                continue
            if plan is None:
                plan = fifo_rules(layers, est)
            depth, note = plan[name][:2]
            fifos.append(memory(name, 'FIFO', depth, width, shift_register=True, note=note))
    return fifos


# --- FIFO rules (docs/resources.md, "FIFO plan") ----------------------------------------------
# Token-level behaviour of the templates, as hw/estimates/stream_sim.py encodes it: a token is one
# stream word (a pixel, all channels). A conv on a padded frame reads a padded pixel every R
# cycles and writes when a window completes; at every frame boundary it reads (K-1) padded rows
# + (K-1) pixels + 1 without reading data nor writing (its *transition gap*, the same length on
# its input and its output side, plus the pipeline drain L). A ChannelGate stops reading from its
# last input pixel until its replay (paced by its consumer) is over. Elastic layers (activations,
# BN, pads, Clone, Merge, Concat) move a token per cycle and follow their neighbours.

UNIT_CLASSES = CONV_CLASSES + ('ChannelGate', 'BilinearResize', 'HaarDWT', 'HaarIDWT')
JOIN_CLASSES = ('Merge', 'Concatenate')
FIFO_PAD = 2  # tokens added to every rule-derived depth: the hop of each token, rounding


@dataclass
class _Unit:
    """Frame-boundary timing of a layer that does not simply follow its neighbours (a unit)."""

    gap_in: float          # cycles per frame boundary in which it reads no data token
    gap_out: float         # cycles per frame boundary in which it writes no token
    rate_out: float        # tokens per cycle it can write while active (row average)
    rate_in: float         # data tokens per cycle it can read while active
    lead: int              # data tokens it reads before its first output (beyond the first), N(n) - n - 1
    slack: float           # P - its cycles per frame: starving it that long per frame costs nothing
    latency: int           # pipeline cycles
    pads: tuple = (0, 0, 0, 0)  # top, bottom, left, right padding of its input (a conv behind a ZeroPadding)
    data_width: int = 1    # data pixels per row of its input
    gap_steps: int = 0     # padded pixels it reads in its transition gap (none of them data)


def _pixels_of(shape: list[int]) -> int:
    return shape[0] * shape[1] if len(shape) == 3 else 1


def _tokens_out(lay: dict) -> int:
    """Stream words ``lay`` writes per frame (one per pixel of its output)."""
    return _pixels_of(lay['out_shape'])


def _chain_back(name: str, by: dict, cons: dict) -> list[str]:
    """Streams feeding ``name`` back through one-input, one-output elastic layers, nearest first."""
    out, cur = [], name
    while True:
        lay = by[cur]
        if len(lay['inputs']) != 1:
            return out
        src = lay['inputs'][0]
        out.append(f'{src} -> {cur}')
        s = by[src]
        if s['class'] in UNIT_CLASSES or s['class'] in JOIN_CLASSES or s['class'] in ('Input', 'Clone') or len(cons[src]) != 1:
            return out
        cur = src


def _chain_forward(name: str, by: dict, cons: dict) -> list[str]:
    """Streams leaving ``name`` forward through one-input, one-output elastic layers, nearest first."""
    out, cur = [], name
    while len(cons[cur]) == 1:
        nxt = cons[cur][0]
        out.append(f'{cur} -> {nxt}')
        n = by[nxt]
        if n['class'] in UNIT_CLASSES or n['class'] in JOIN_CLASSES or n['class'] == 'Clone' or not cons[nxt]:
            return out
        cur = nxt
    return out


def _units(layers: list[dict], by: dict, cons: dict, est: dict, P: int) -> dict[str, _Unit]:
    units = {}
    for lay in layers:
        name, cls, a = lay['name'], lay['class'], lay['attrs']
        e = est[name]
        slack = max(0.0, P - e.cycles_per_frame)
        if cls in CONV_CLASSES:
            K, Kw = int(a['filt_height']), int(a['filt_width'])
            wp = int(a["in_width"])
            R, L = e.ii, e.pipeline_cycles
            pads, wd = (0, 0, 0, 0), wp
            for s in _chain_back(name, by, cons):
                p = by[s.split(' -> ')[0]]
                if p['class'] == 'ZeroPadding2D':
                    pa = p['attrs']
                    ih, iw, oh, ow = (int(pa[k]) for k in ('in_height', 'in_width', 'out_height', 'out_width'))
                    t, lft = (oh - ih) // 2, (ow - iw) // 2
                    pads, wd = (t, oh - ih - t, lft, ow - iw - lft), iw
                    break
            steps = (K - 1) * wp + (Kw - 1) + 1
            gap = steps * R + L
            units[name] = _Unit(gap, gap, int(a['out_width']) / (wp * R), wd / (wp * R),
                                max(0, (K - 1 - pads[0]) * wd + (Kw - 1 - pads[2])), slack, L, pads, wd, steps)
        elif cls == 'ChannelGate':
            n = _tokens_out(lay)
            C = int(lay['out_shape'][-1])
            pace = _consumer_pace(name, by, cons, est)
            if gate_block_rows(lay) == int(lay['attrs']['height']):
                # ping-pong: it stores (and gates) frame n+1 while it replays frame n at its
                # consumer's pace, so it pauses its reads only for the gate's compute
                units[name] = _Unit(C + 2, max(1.0, P - n * pace), 1 / pace, 1.0, n, max(0.0, P - (n + C + 2)), 0)
            else:  # H8 blocks: at a frame boundary it writes its last block without reading
                nb = gate_block_rows(lay) * int(lay['attrs']['width'])
                units[name] = _Unit(C + 2 + nb * pace, max(1.0, P - n * pace), 1 / pace, 1.0, nb,
                                    max(0.0, P - (n + nb + C + 2)), 0)
        elif cls == 'BilinearResize':  # reads an LR row (w cycles), then writes r HR rows at its consumer's pace
            r, W, w = int(a['ratio']), int(a['out_width']), int(a['in_width'])
            pace = _consumer_pace(name, by, cons, est)
            units[name] = _Unit(r * W * pace, w + 1, r * W / (r * W * pace + w), 1.0, e.delay_px, slack, 0, data_width=w)
        elif cls == 'HaarDWT':  # a pixel per cycle in; writes during odd rows only (a quarter of its reads)
            w = int(a['in_width'])
            units[name] = _Unit(0, w + 2, 0.25, 1.0, w, slack, 0, data_width=w)
        elif cls == 'HaarIDWT':  # first row read alone; then a read per 4 writes; the last 2 output rows without reads
            w, W = int(a['in_width']), int(a['out_width'])
            pace = _consumer_pace(name, by, cons, est)
            units[name] = _Unit(2 * W * pace, w + 1, 1 / pace, 0.25 / pace, w - 1, slack, 0, data_width=w)
    return units


def _consumer_pace(name: str, by: dict, cons: dict, est: dict) -> int:
    """Cycles per token at which the layer after ``name`` (through elastic layers) takes its output."""
    for s in _chain_forward(name, by, cons):
        dst = s.split(' -> ')[1]
        if by[dst]['class'] in UNIT_CLASSES:
            return max(1, est[dst].ii)
    return 1


def fifo_rules(layers: list[dict], est: dict[str, LayerEstimate]) -> dict[str, tuple[int, str, int]]:
    """{"producer -> consumer": (depth, note, floor)} for every stream of ``layers`` at the folding of
    ``est`` (docs/resources.md, "FIFO plan"). Closed forms per stream, from P (the largest cycles
    per frame), each stream's rate rho (tokens per frame / P), and per unit (conv, ChannelGate,
    BilinearResize) its frame-boundary gap G (a K x K conv reads (K-1) padded rows + K padded pixels
    with no data in them and writes nothing: ((K-1) W_p + K) R + L cycles; a ChannelGate does not
    read for C + 2 + n x (its consumer's cycles per pixel)), its data lead lambda (pixels it reads
    ahead of its output: p (W + 1) for a same-padded conv, a frame for a ChannelGate), its row rate
    mu (pixels per cycle within a row) and its slack P - (its cycles per frame):

    1. gap: a unit whose upstream's gap exceeds its own by more than its slack gets the excess in
       front of it, rho x (G_up - G_in - slack) (the bottleneck behind a join of conv branches); a
       unit whose gap exceeds its upstream's while the upstream cannot pause that long (the least
       slack above it) gets what arrives meanwhile, rho x (G_in - G_up - pause) (a conv behind the
       bottleneck, a ChannelGate that replays): behind a ZeroPadding that buffer also holds the
       transition's padding, and what arrives while the pad writes it waits in front of the pad;
    2. burst reader: a ChannelGate reading its frame at 1 pixel/cycle in the window its replay
       leaves gets what its upstream cannot supply at its row rate in that window; a replay faster
       than its consumer (when a paced replay would not fit P) is buffered behind it;
    3. branches of one Clone meeting at a join: a branch whose row rate cannot make up the longest
       gap of its siblings within a frame pre-produces n - mu x (P - G_sibling) pixels (behind its
       last unit); a branch with a smaller lead than the longest lags the Clone by the difference in
       pixels (plus its siblings' pre-production, plus what the Clone writes during a sibling's
       longer gap when it cannot pause, plus a row for a BilinearResize), in front of its first unit;
    4. skip: a Clone output joined with no unit on its way holds what the Clone writes ahead of the
       join: the long branch's lead and the buffers on it that run ahead, plus its pipeline latency
       at the Clone's rate; over a frame store (a ChannelGate) the frame, exactly, plus the lead of
       the continuous stream or, where more, what the Clone writes at its frame rate while a frame's
       last token crosses the long branch.
    A rule-derived depth is its rules' pixels x FIFO_MARGIN + FIFO_PAD (+ whole frames, without
    margin); every other stream FIFO_MIN_DEPTH. ``floor``: a depth below which the stream stalls for
    sure (the frames it holds + the minimum). Cost: O(layers^2), independent of the frame size.
    """
    by = {lay['name']: lay for lay in layers}
    order = [lay['name'] for lay in layers]
    cons: dict[str, list[str]] = {n: [] for n in order}
    for lay in layers:
        for i in lay['inputs']:
            cons[i].append(lay['name'])
    P = max(est[n].cycles_per_frame for n in order)
    units = _units(layers, by, cons, est, P)
    width = {f'{i} -> {lay["name"]}': by[i]['out_shape'][-1] * by[i]['result_bits'] for lay in layers for i in lay['inputs']}
    need: dict[str, float] = {s: 0.0 for s in width}
    frames: dict[str, int] = {s: 0 for s in width}  # whole frames a stream holds (no margin on those)
    prebuf: dict[str, float] = {s: 0.0 for s in width}  # pre-buffers: full when a frame's last token arrives
    ahead: dict[str, float] = {s: 0.0 for s in width}  # part of ``need`` that lets a path run ahead
    why: dict[str, list[str]] = {s: [] for s in width}

    def place(chain: list[str], data_tokens: float, reason: str, runs_ahead: bool, unit: _Unit | None = None,
              boundary: bool = False, full_at_frame_end: float = 0.0, whole: int = 0) -> None:
        """Put a buffer of ``data_tokens`` (data pixels) on the cheapest stream of ``chain``. Behind a
        ZeroPadding a buffer also holds the padding between the data: a row's left/right padding per
        data row, and, for a frame-boundary buffer (``boundary``), the padded pixels of the unit's
        transition gap, which the pad writes before it can take the next frame's first pixel."""
        if not chain or (data_tokens < 1 and not whole):  # below a pixel: the minimum depth holds it
            return
        data_tokens = max(0.0, data_tokens)
        best, cost_best, n_best = None, None, 0.0
        for s in chain:
            n = data_tokens
            if unit is not None and _padded(s, by):
                n = data_tokens + sum(unit.pads[2:]) * (math.ceil(data_tokens / unit.data_width) + 1)
                if boundary:  # the transition's padding, written (1/cycle) ahead of the conv's reads (1/R)
                    R = unit.data_width / unit.rate_in / (unit.data_width + unit.pads[2] + unit.pads[3])
                    n = max(n, unit.gap_steps * (1 - 1 / R))
            cost = n * width[s]
            if cost_best is None or cost < cost_best:
                best, cost_best, n_best = s, cost, n
        need[best] += n_best
        if runs_ahead:
            ahead[best] += n_best
        prebuf[best] += full_at_frame_end  # data tokens a frame's last token waits behind
        frames[best] += whole
        why[best].append(f'{reason}: {math.ceil(n_best) + whole} tokens')

    # 1./2. gap rules, in dataflow order, with the effective output gap of every layer and the
    # cycles every layer's upstream can pause per frame at no cost (the least slack above it)
    gap_eff: dict[str, float] = {}
    pause: dict[str, float] = {}
    paused: dict[str, float] = {}  # cycles per frame boundary a unit makes its (idle) upstream wait
    for n in order:
        lay = by[n]
        up = max((gap_eff[i] for i in lay['inputs']), default=0.0)
        u = units.get(n)
        above = min((pause[i] for i in lay['inputs']), default=math.inf)
        pause[n] = min(above, u.slack) if u is not None else above
        if u is None:
            gap_eff[n] = up
            continue
        chain = _chain_back(n, by, cons)
        src = chain[-1].split(' -> ')[0] if chain else None
        m = up - u.gap_in
        rho = _tokens_out(by[src]) / P if src is not None else 0.0  # data tokens per cycle into n
        if m > u.slack:
            place(chain, rho * (m - u.slack), f'pre-buffer for a {round(m)}-cycle upstream gap', True, u,
                  full_at_frame_end=rho * (m - u.slack))
            gap_eff[n] = max(u.gap_out, u.gap_in + u.slack)
        elif m > 0:
            gap_eff[n] = u.gap_out + m
        written_while_idle = 0.0
        if m <= 0:
            gap_eff[n] = u.gap_out
            paused[n] = min(-m, pause[src]) if src is not None else 0.0
            if src is not None and -m > pause[src]:
                reason = f'upstream writes while {n} does not read ({round(-m)} cycles, it can pause {round(pause[src])})'
                x = written_while_idle = rho * (-m - pause[src])
                post = [st for st in chain if _padded(st, by)]
                if post:  # the pad writes the transition's padding (one per cycle) before it takes data:
                    # what arrives meanwhile waits in front of it
                    before = min(x, rho * u.gap_steps)
                    if before > FIFO_MIN_DEPTH:
                        place([st for st in chain if st not in post], before, reason + ', in front of the pad', True)
                        x -= before
                place(chain, x, reason, True, u, boundary=True)
        if by[n]['class'] == 'ChannelGate' and u.rate_out >= 1.0 and _consumer_pace(n, by, cons, est) > 1:
            pace = _consumer_pace(n, by, cons, est)  # a replay faster than its consumer: buffered behind it
            place(_chain_forward(n, by, cons), _tokens_out(lay) * (1 - 1 / pace),
                  f'{n} replays at 1 token/cycle, its consumer takes one per {pace}', True)
        if u.rate_in >= 1.0 and chain:
            upstream = _upstream_unit(src, by, units)
            if upstream is not None:  # it restarts the pipeline when the reader empties the FIFO
                window = P - max(u.gap_in, up)
                up_u = units[upstream]
                deficit = _tokens_out(by[src]) - up_u.rate_out * (window - up_u.latency - len(chain) - 1)
                # the backlog written while it did not read serves the read window first
                place(chain, deficit - written_while_idle,
                      f'{upstream} supplies {units[upstream].rate_out:.3g} tokens/cycle to a burst reader', True, u)

    # 3./4. joins of the branches of one Clone. Leads are in frames (a unit's lead over the data
    # pixels of its input frame; a ChannelGate: one frame) so that paths through a BilinearResize
    # compare with the clone's own tokens.
    def lead_frac(n: str) -> float:
        u, lay = units.get(n), by[n]
        if u is None:
            return 0.0
        if lay['class'] == 'ChannelGate':  # a frame, or its H8 block
            return gate_block_rows(lay) / int(lay['attrs']['height'])
        if lay['class'] == 'BilinearResize':
            return u.lead / _tokens_out(lay)
        return u.lead / max(1, _tokens_out(by[(_chain_back(n, by, cons) or [f'{lay["inputs"][0]} -> {n}'])[-1].split(' -> ')[0]]))

    def walk(f: str) -> dict[str, dict[str, float]]:
        """Per layer reached from clone ``f``: its data lead from ``f`` (``lead``, frames), the lead plus
        the buffered tokens that run ahead (``adv``, frames), the pipeline + hop cycles (``lat``), the
        cycles a frame's last token needs to get there from ``f`` (``tail``: it waits behind the buffers
        that are full at a frame's end, drained at their reader's rate, and drains every unit) and the
        longest pause a unit on the way imposes on an upstream that can wait (``hold``)."""
        queue = {st: prebuf[st] / _reader_rate(st, by, cons, units) for st in width if prebuf[st]}
        r = {k: {f: 0.0} for k in ('lead', 'adv', 'lat', 'tail', 'hold')}
        lead, adv, lat, tail, hold = (r[k] for k in ('lead', 'adv', 'lat', 'tail', 'hold'))
        for n in order[order.index(f) + 1:]:
            ins = [i for i in by[n]['inputs'] if i in lead]
            if not ins:
                continue
            u = units.get(n)
            gate = by[n]['class'] == 'ChannelGate'
            lam = lead_frac(n)
            lead[n] = max(lead[i] for i in ins) + lam
            # a ChannelGate's own input buffer holds the next frame only once it replays, when a skip
            # already drains: not counted
            adv[n] = max(adv[i] + (0.0 if gate else ahead[f'{i} -> {n}'] / _tokens_out(by[i])) for i in ins) + lam
            extra = int(by[n]['out_shape'][-1]) + 2 if gate else 0  # compute, first replay
            lat[n] = max(lat[i] for i in ins) + est[n].pipeline_cycles + 1 + extra
            tail[n] = max(tail[i] + queue.get(f'{i} -> {n}', 0.0) for i in ins) + (_tail(u) if u else 1) + extra
            hold[n] = max([hold[i] for i in ins] + [paused.get(n, 0.0)])
        r['queue'] = queue
        return r

    def behind(f: str, w: dict, long_in: str, j: str, ahead_frames: float, here: str, here_frames: float,
               extra_tokens: float) -> tuple[int, float, str]:
        """(whole frames, tokens, note) a path from ``f`` into ``j`` via ``here`` holds behind the longest
        path, via ``long_in``, that is ``ahead_frames`` ahead of it: the frames of a frame store on the
        long path exactly; the rest of the skew of the continuous stream (leads, and the buffers that
        run ahead), or where that is more, what ``f`` writes at its frame rate while a frame's last
        token crosses the long path, less the transition gaps it waits for anyway."""
        nf = _tokens_out(by[f])
        skew = ahead_frames - here_frames
        whole = math.floor(w['lead'][long_in] - w['lead'].get(here, 0.0) + 1e-9)
        if whole < 1:
            return 0, skew * nf + extra_tokens, f'{round(skew * nf)} pixels of {f} ahead (leads, buffers that run ahead)'
        rest = (skew - whole) * nf + extra_tokens
        t = w['tail'][long_in] + w['queue'].get(f'{long_in} -> {j}', 0.0) - w['tail'].get(here, 0.0) - w['hold'][long_in]
        rest = max(rest, nf / P * t)
        return whole, rest, f'{whole} frame(s) of {f} and {round(rest)} tokens ({round(t)} cycles for a frame\'s last token)'

    clones = [n for n in order if by[n]['class'] == 'Clone']
    reach = {f: walk(f)['lead'] for f in clones}
    for j in order:
        lay = by[j]
        if lay['class'] not in JOIN_CLASSES or len(lay['inputs']) < 2:
            continue
        forks = [f for f in clones if all(i in reach[f] for i in lay['inputs'])]
        if not forks:
            continue  # no common fork: the earlier input simply waits
        f = max(forks, key=order.index)
        nf = _tokens_out(by[f])
        branches = [i for i in lay['inputs'] if _has_unit(i, f, by, units)]
        skips = [i for i in lay['inputs'] if i not in branches]
        if len(branches) >= 2 and not _joined_again(j, f, by, cons, units, reach):
            w = walk(f)
            leaves = {}  # first unit -> (last unit, units on the way, lead in frames)
            for b in branches:
                for first, leaf in _leaf_branches(b, f, by, units, order, lead_frac).items():
                    if first not in leaves or leaf[2] > leaves[first][2]:
                        leaves[first] = leaf
            nj = _tokens_out(by[j])
            pre = {}
            for first, (last, path, lam) in leaves.items():
                others = [gap_eff[o[0]] for k, o in leaves.items() if k != first]
                rate = min(units[x].rate_out for x in path)
                pre[first] = max(0.0, nj - rate * (P - max(others, default=0.0)))
            lmax_first = max(leaves, key=lambda k: leaves[k][2])
            for first, (last, path, lam) in leaves.items():
                if pre[first] > 0:
                    place(_chain_forward(last, by, cons), pre[first],
                          f'pre-produces for the {round(max(gap_eff[o[0]] for k, o in leaves.items() if k != first))}-cycle '
                          f'gap of a sibling branch at {j}', True)
                other_pre = max((pre[o] for o in pre if o != first), default=0.0) * nf / nj
                lmax = leaves[lmax_first][2]
                if first == lmax_first and not other_pre:
                    continue
                head = _chain_back(first, by, cons)
                long_in = leaves[lmax_first][0]
                # a BilinearResize takes a whole input row before it writes: one row more; a clone that
                # cannot wait keeps writing while a sibling's longer transition stalls the join
                row = int(by[first]['attrs']['in_width']) if by[first]['class'] == 'BilinearResize' else 0
                sib = max((gap_eff[o[0]] for k, o in leaves.items() if k != first), default=0.0)
                row += nf / P * max(0.0, sib - gap_eff[last] - pause[f])
                whole, rest, how = behind(f, w, long_in, j, lmax, leaves[first][0], lam, other_pre + row) if lmax - lam >= 1 \
                    else (0, (lmax - lam) * nf + other_pre + row, '')
                place(head, rest, f'lags {f} behind the longest branch into {j}' + (f': {how}' if how else ''), False,
                      units[first], full_at_frame_end=rest, whole=whole * nf)
        if not branches or not skips:
            continue
        w = walk(f)  # with the alignment buffers placed so far
        lead, adv, lat = w['lead'], w['adv'], w['lat']
        longest = max(branches, key=lambda i: adv[i] + ahead[f'{i} -> {j}'] / _tokens_out(by[i]))
        wr = _clone_rate(f, by, cons, units)
        for i in skips:
            s = f'{i} -> {j}'
            front = adv[longest] + ahead[f'{longest} -> {j}'] / _tokens_out(by[longest])
            whole, tokens, how = behind(f, w, longest, j, front, i, adv[i], wr * (lat[longest] - lat[i]) + 1)
            if whole:  # over a frame store: the lead-based skew, not the buffers (docs/resources.md)
                whole, tokens, how = behind(f, w, longest, j, lead[longest], i, lead[i], 1)
            place([s], tokens, f'skip: {f} writes ahead of {j}: {how}', False, whole=whole * nf)

    out = {}
    for s in width:
        if need[s] > 0 or frames[s]:
            out[s] = (max(FIFO_MIN_DEPTH, frames[s] + math.ceil(need[s] * FIFO_MARGIN) + FIFO_PAD), '; '.join(why[s]),
                      frames[s] + FIFO_MIN_DEPTH)
        else:
            out[s] = (FIFO_MIN_DEPTH, 'matched rates', FIFO_MIN_DEPTH)
    return out


def _reader_rate(stream: str, by: dict, cons: dict, units: dict) -> float:
    """Data tokens per cycle the unit at the end of ``stream``'s chain reads (1: no unit)."""
    for s in [stream] + _chain_forward(stream.split(' -> ')[1], by, cons):
        d = s.split(' -> ')[1]
        if d in units:
            return units[d].rate_in
    return 1.0


def _tail(u: _Unit) -> float:
    """Cycles from a unit's last data read of a frame to its last write of it (a conv still reads its
    bottom and right padding; a ChannelGate's compute is added by the caller)."""
    if u.gap_steps:
        wp = u.data_width + u.pads[2] + u.pads[3]
        R = u.data_width / u.rate_in / wp
        return (u.pads[1] * wp + u.pads[3] + 1) * R + u.latency
    return 1.0 + u.latency


def _padded(stream: str, by: dict) -> bool:
    """Whether ``stream`` carries padded pixels (it leaves a ZeroPadding, or an activation behind one)."""
    src = by[stream.split(' -> ')[0]]
    while True:
        if src['class'] == 'ZeroPadding2D':
            return True
        if len(src['inputs']) != 1 or src['class'] in UNIT_CLASSES or src['class'] in ('Clone',) + JOIN_CLASSES:
            return False
        src = by[src['inputs'][0]]


def _upstream_unit(name: str | None, by: dict, units: dict) -> str | None:
    """The nearest unit at or above ``name`` along single inputs."""
    while name is not None:
        if name in units:
            return name
        ins = by[name]['inputs']
        name = ins[0] if len(ins) == 1 else None
    return None


def _has_unit(name: str, fork: str, by: dict, units: dict) -> bool:
    """Whether a unit lies between ``fork`` and ``name`` (inclusive of ``name``)."""
    stack, seen = [name], set()
    while stack:
        n = stack.pop()
        if n == fork or n in seen:
            continue
        seen.add(n)
        if n in units:
            return True
        stack.extend(by[n]['inputs'])
    return False


def _joined_again(join: str, fork: str, by: dict, cons: dict, units: dict, reach: dict) -> bool:
    """Whether the output of ``join`` meets more unit branches of ``fork`` at a later join (a
    Concatenate chain): the alignment is planned there, once, for all of them."""
    chain = _chain_forward(join, by, cons)
    if not chain:
        return False
    nxt = chain[-1].split(' -> ')[1]
    if by[nxt]['class'] not in JOIN_CLASSES:
        return False
    others = [i for i in by[nxt]['inputs'] if i != chain[-1].split(' -> ')[0]]
    return any(i in reach[fork] and _has_unit(i, fork, by, units) for i in others)


def _clone_rate(fork: str, by: dict, cons: dict, units: dict) -> float:
    """Tokens per cycle the Clone can write: its slowest consumer's data read rate."""
    r = 1.0
    for c in cons[fork]:
        for s in [f'{fork} -> {c}'] + _chain_forward(c, by, cons):
            dst = s.split(' -> ')[1]
            if dst in units:
                r = min(r, units[dst].rate_in)
                break
    return r


def _leaf_branches(name: str, fork: str, by: dict, units: dict, order: list[str], lead_frac) -> dict:
    """{first unit: (last unit, units on the way, lead in frames)} of the unit-bearing paths from
    ``fork`` to ``name``, the one with the largest lead per first unit (dynamic programming over the
    layers in dataflow order: no enumeration of the paths, which double at every residual block)."""
    best: dict[str, dict] = {fork: {None: ([], 0.0)}}  # layer -> {first unit or None: (units, lead)}
    for n in order[order.index(fork) + 1:order.index(name) + 1]:
        merged: dict = {}
        for i in by[n]['inputs']:
            for first, (path, lam) in best.get(i, {}).items():
                if n in units:
                    first, path, lam = first or n, path + [n], lam + lead_frac(n)
                if first not in merged or lam > merged[first][1]:
                    merged[first] = (path, lam)
        if merged:
            best[n] = merged
    return {first: (path[-1], path, lam) for first, (path, lam) in best.get(name, {}).items() if first is not None}


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
    fifos = _fifo_plan(layers, delay, written=reuse is None, est=est)
    per_layer = list(est.values()) + adapter_estimates(design)
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

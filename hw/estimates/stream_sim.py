"""Token-level (cycle-approximate) simulation of a lowered design's stream graph.

Each hls4ml layer of a design description (:mod:`hw.design`) is a process of the dataflow
pipeline; each stream between two layers is a bounded FIFO of the depth written into the project
(``in_depths`` of design.json, as :func:`hw.estimates.analytical.estimate` lists them in
``fifos``, or a ``depths`` override keyed ``"producer -> consumer"``). Units: times are cycles of
the design clock counted from the cycle the first input pixel is offered (cycle 0); a token is one
stream word, i.e. one pixel with all its channels; FIFO depths and occupancies are in tokens.

A process runs a fixed program of *steps* per frame (one function call of the layer); a step
reads one token from every input, or none, and writes one token to every output, or none:

* K x K conv (``conv_2d_buffer_cl``, its input already zero-padded by a ZeroPadding layer): one
  step per padded input pixel, every ``ii`` = reuse factor cycles; a step writes when it completes
  a window (row >= K-1 and column >= K-1, stride 1), so the first output comes after (K-1) rows +
  (K-1) pixels and no output comes for the first K-1 columns of a row; the result leaves
  ``pipeline_cycles`` (analytical.py) after the read.
* ZeroPadding: one step per padded output pixel, reading only at the data positions (padding split
  as hls4ml does for odd kernels: (out - in) // 2 on top/left, the rest bottom/right).
* BilinearResize (project layer, nnet_hsbinet_ext_stream.h): reads one LR row (w steps), then
  writes every HR row whose two source rows it holds (r W steps each), one token per cycle.
* HaarDWT (project layer): one step per input pixel, a write after every second pixel of every odd
  row; HaarIDWT: reads its first input row (w steps), then writes two output rows per input row
  (4 w steps), reading the next row on every fourth of them.
* ChannelGate (project layer): two processes with a ping-pong frame buffer between them, as the
  HLS code is written (a dataflow region of its own): the *store* reads the whole frame, computes
  the gate for C cycles and hands the frame over (all at once: one buffer of the two changes
  sides); the *replay* writes the frame, one token per cycle when its consumer takes it. The store
  of frame n+1 runs while frame n is replayed; it waits only when both buffers are taken (modelled
  as an internal FIFO of one frame of tokens that the store fills at its frame's end). With H8
  blocks (``block_rows`` < height) it is one process: block b read while block b - 1 is written,
  the gate computed (C cycles) between blocks, the last block written after the frame's last pixel.
* Clone: one read, one write to every output; it blocks while any output FIFO is full.
  Merge / Concatenate: one read from every input, one write. Activation, BatchNormalization and
  any other one-input layer of equal pixel count: one read and one write per pixel.
* Input: writes its pixels one per cycle, as fast as the first FIFO accepts them, ``frames``
  frames back to back; the network's outputs are always accepted.

Timing rules (a process is a pipeline of depth L = ``pipeline_cycles``, stalled as a whole):
step s starts at t_s >= t_{s-1} + ii; a token written at cycle w can be read from cycle w + 1
on; the k-th write into a FIFO of depth D happens at t_s + L >= (cycle the (k-D)-th token was
read) + 1. A new frame (function call) starts ii + L cycles after the last step of the previous
one (the pipeline drains between calls), so a lone process takes exactly its analytical
``cycles_per_frame``. These relations are solved event by event (each event time is a maximum
of earlier ones), not cycle by cycle: the cost is proportional to the number of token steps, not
to the number of cycles. A deadlock is the state where no process can take its next step while
steps remain: every blocked process then waits on an empty input or a full output FIFO.

Approximations: the II of a layer is analytical.py's (reuse factor cycles per accepted pixel for
every pixel; hls4ml's Resource strategy skips the kernel for pixels that complete no window, so
a real Resource-strategy conv can be faster); loop entry/exit overheads other than the pipeline
drain, AXI/DMA shells and the FIFO implementation's own latency beyond one cycle are ignored;
token values play no part (every program is data independent, as hls4ml's are).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from hw.estimates.analytical import CONV_CLASSES, estimate, gate_block_rows
from quant_models.common import HsbinetError

SOURCE = 'token simulation'
INTERNAL = '(ping-pong frame buffer)'  # the name suffix of a ChannelGate's store -> replay channel
DEFAULT_MAX_STEPS = 2_000_000  # token steps (all processes, all frames): ~3-6 us each on one core


@dataclass
class _Process:
    """One layer's program for one frame and its place in the graph (FIFO indices)."""

    name: str
    reads: list[int]      # per step: 1 if it reads a token from every input
    writes: list[int]     # per step: 1 if it writes a token to every output
    gaps: list[int]       # per step: cycles after the previous step's start (first: the call's start)
    latency: int          # cycles from a step's start to its write
    ins: list[int] = field(default_factory=list)
    outs: list[int] = field(default_factory=list)


def _pixels(shape: list[int]) -> int:
    """Pixels (stream words) of an [H, W, C] tensor; 1 for a vector."""
    return shape[0] * shape[1] if len(shape) == 3 else 1


def _uniform(n: int, ii: int, reads: int, writes: int) -> tuple[list[int], list[int], list[int]]:
    return [reads] * n, [writes] * n, [ii] * n


def _conv(layer: dict, ii: int) -> tuple[list[int], list[int], list[int]]:
    """Line-buffer conv: a step per padded input pixel, a write per complete window (stride 1)."""
    a = layer['attrs']
    K, Kw = int(a['filt_height']), int(a['filt_width'])
    hin, win = int(a['in_height']), int(a['in_width'])
    if (int(a['out_height']), int(a['out_width'])) != (hin - K + 1, win - Kw + 1):
        raise HsbinetError('Convolution the token simulation cannot model', key=layer['name'],
                           expected=f'stride 1 on a padded input: {hin - K + 1}x{win - Kw + 1} outputs of {hin}x{win}',
                           found=f'{a["out_height"]}x{a["out_width"]} outputs')
    writes = [int(r >= K - 1 and c >= Kw - 1) for r in range(hin) for c in range(win)]
    return [1] * len(writes), writes, [ii] * len(writes)


def _zero_pad(layer: dict, ii: int) -> tuple[list[int], list[int], list[int]]:
    """One step per padded output pixel; a read at the data positions."""
    a = layer['attrs']
    ih, iw, oh, ow = (int(a[k]) for k in ('in_height', 'in_width', 'out_height', 'out_width'))
    top, left = (oh - ih) // 2, (ow - iw) // 2
    reads = [int(top <= r < top + ih and left <= c < left + iw) for r in range(oh) for c in range(ow)]
    return reads, [1] * len(reads), [ii] * len(reads)


def _resize_source_row(o: int, r: int, n: int) -> int:
    """The upper (later) source row of output row ``o`` (bilinear_taps of nnet_hsbinet_ext_stream.h)."""
    num = 2 * o + 1 - r
    i0, w1 = (0, 0) if num <= 0 else divmod(num, 2 * r)
    if i0 >= n - 1:
        return n - 1
    return i0 if w1 == 0 else i0 + 1


def _bilinear(layer: dict) -> tuple[list[int], list[int], list[int]]:
    """Read an LR row, then write every HR row whose source rows are in the line buffer."""
    a = layer['attrs']
    r, h, w = int(a['ratio']), int(a['in_height']), int(a['in_width'])
    reads, writes, oy = [], [], 0
    for iy in range(h):
        reads += [1] * w
        writes += [0] * w
        while oy < r * h and _resize_source_row(oy, r, h) == iy:
            reads += [0] * (r * w)
            writes += [1] * (r * w)
            oy += 1
    return reads, writes, [1] * len(reads)


def _haar_dwt(layer: dict) -> tuple[list[int], list[int], list[int]]:
    """A step per input pixel; a write after every second pixel of every odd row (a 2 x 2 block done)."""
    a = layer['attrs']
    H, W = int(a['in_height']), int(a['in_width'])
    writes = [int(r % 2 == 1 and c % 2 == 1) for r in range(H) for c in range(W)]
    return [1] * len(writes), writes, [1] * len(writes)


def _haar_idwt(layer: dict) -> tuple[list[int], list[int], list[int]]:
    """Read the first input row (w steps), then per input row write its two output rows (4 w steps),
    reading the next row's pixels on every fourth of them."""
    a = layer['attrs']
    h, w = int(a['in_height']), int(a['in_width'])
    reads, writes = [1] * w, [0] * w
    for y in range(h):
        reads += [int(y + 1 < h and j % 4 == 0) for j in range(4 * w)]
        writes += [1] * (4 * w)
    return reads, writes, [1] * len(reads)


def _channel_gate_store(layer: dict) -> tuple[list[int], list[int], list[int]]:
    """The gate's store: read the frame, compute the gate (C cycles), hand the frame over."""
    a = layer['attrs']
    n, C = int(a['height']) * int(a['width']), int(layer['out_shape'][-1])
    return [1] * n + [0] * n, [0] * n + [1] * n, [1] * n + [C + 1] + [0] * (n - 1)


def _channel_gate_replay(layer: dict) -> tuple[list[int], list[int], list[int]]:
    """The gate's replay: one stored token in, one gated token out, per pixel."""
    a = layer['attrs']
    n = int(a['height']) * int(a['width'])
    return [1] * n, [1] * n, [1] * n


def _channel_gate_blocks(layer: dict) -> tuple[list[int], list[int], list[int]]:
    """H8 block mode (one process): block b read while block b - 1 is written, the gate computed
    (C cycles) between blocks, the frame's last block written after its last pixel."""
    a = layer['attrs']
    L, W, H, C = int(a['block_rows']), int(a['width']), int(a['height']), int(layer['out_shape'][-1])
    nb, blocks = L * W, H // L
    reads, writes, gaps = [], [], []
    for b in range(blocks + 1):
        reads += [int(b < blocks)] * nb
        writes += [int(b > 0)] * nb
        gaps += [C + 1 if b else 1] + [1] * (nb - 1)
    return reads, writes, gaps


def _gate_in_blocks(layer: dict) -> bool:
    return layer['class'] == 'ChannelGate' and gate_block_rows(layer) < int(layer['attrs']['height'])


def _program(layer: dict, ii: int) -> tuple[list[int], list[int], list[int]]:
    """(reads, writes, gaps) of one frame of ``layer`` at ``ii`` cycles per step."""
    cls, n = layer['class'], _pixels(layer['out_shape'])
    if cls in CONV_CLASSES:
        return _conv(layer, ii)
    if cls == 'ZeroPadding2D':
        return _zero_pad(layer, ii)
    if cls == 'BilinearResize':
        return _bilinear(layer)
    if cls == 'HaarDWT':
        return _haar_dwt(layer)
    if cls == 'HaarIDWT':
        return _haar_idwt(layer)
    if cls == 'ChannelGate':
        return _channel_gate_blocks(layer) if _gate_in_blocks(layer) else _channel_gate_replay(layer)
    if cls == 'Input':
        return _uniform(n, 1, 0, 1)
    if cls in ('Merge', 'Concatenate', 'Clone') or len(layer['inputs']) == 1:
        return _uniform(n, ii, 1, 1)
    raise HsbinetError('Layer the token simulation has no model for', key=layer['name'],
                       expected='a conv, ZeroPadding2D, BilinearResize, HaarDWT, HaarIDWT, ChannelGate, Clone, Merge, '
                                'Concatenate or a '
                                'one-input pixel-wise layer', found=f'class {cls} with {len(layer["inputs"])} inputs')


def steps_per_frame(layer: dict) -> int:
    """Token steps of one frame of ``layer`` (what the simulation's cost is proportional to)."""
    a, cls = layer['attrs'], layer['class']
    if cls in CONV_CLASSES:
        return int(a['in_height']) * int(a['in_width'])
    if cls == 'ZeroPadding2D':
        return int(a['out_height']) * int(a['out_width'])
    if cls == 'BilinearResize':
        return int(a['in_height']) * int(a['in_width']) + int(a['out_height']) * int(a['out_width'])
    if cls == 'HaarIDWT':
        return int(a['in_width']) + int(a['out_height']) * int(a['out_width'])
    if cls == 'HaarDWT':
        return int(a['in_height']) * int(a['in_width'])
    if cls == 'ChannelGate':  # frame: store (read + hand-over) and replay; H8: frame + one block
        if _gate_in_blocks(layer):
            return (int(a['height']) + int(a['block_rows'])) * int(a['width'])
        return 3 * int(a['height']) * int(a['width'])
    return _pixels(layer['out_shape'])


def token_steps(design: dict, frames: int = 3) -> int:
    """Token steps of ``frames`` frames of the whole design."""
    return frames * sum(steps_per_frame(lay) for lay in design['layers'])


def _graph(design: dict, reuse, depths: dict | None) -> tuple[list[_Process], list[str], list[int], list[int], list[int]]:
    """Processes, FIFO names, depths, producer and consumer process of every FIFO."""
    est = estimate(design, reuse)
    rows = {row['name']: row for row in est['layers']}
    planned = {m['layer']: int(m['depth']) for m in est['fifos']}
    depths = dict(depths or {})
    unknown = sorted(set(depths) - set(planned))
    if unknown:
        raise HsbinetError('FIFO depth for a stream the design does not have', key=', '.join(unknown),
                           expected='"producer -> consumer" names of the design\'s streams, e.g. ' + next(iter(planned), ''))
    bad = {k: v for k, v in depths.items() if int(v) < 1}
    if bad:
        raise HsbinetError('FIFO depth below one token', key=', '.join(sorted(bad)), expected='depth >= 1',
                           found=', '.join(str(v) for v in bad.values()))
    index = {lay['name']: i for i, lay in enumerate(design['layers'])}
    procs, names, sizes, producer, consumer = [], [], [], [], []
    for lay in design['layers']:
        row = rows[lay['name']]
        reads, writes, gaps = _program(lay, int(row['ii']))
        procs.append(_Process(lay['name'], reads, writes, gaps, int(row['pipeline_cycles'])))

    def connect(name: str, depth: int, src: int, dst: int) -> None:
        names.append(name)
        sizes.append(depth)
        producer.append(src)
        consumer.append(dst)
        procs[src].outs.append(len(names) - 1)
        procs[dst].ins.append(len(names) - 1)

    reader = {}  # the process that reads a layer's inputs: a ChannelGate's store (after the layers)
    for c, lay in enumerate(design['layers']):
        reader[lay['name']] = c
        if lay['class'] == 'ChannelGate' and not _gate_in_blocks(lay):
            procs.append(_Process(f'{lay["name"]} (store)', *_channel_gate_store(lay), 0))
            reader[lay['name']] = len(procs) - 1
            connect(f'{lay["name"]} {INTERNAL}', _pixels(lay['out_shape']), len(procs) - 1, c)
    for c, lay in enumerate(design['layers']):
        for src in lay['inputs']:
            name = f'{src} -> {lay["name"]}'
            connect(name, int(depths.get(name, planned[name])), index[src], reader[lay['name']])
    return procs, names, sizes, producer, consumer


class _Sim:
    """The event-by-event solution of the timing rules (module docstring) for ``frames`` frames."""

    def __init__(self, procs: list[_Process], sizes: list[int], producer: list[int], consumer: list[int],
                 frames: int, max_cycles: int | None):
        self.procs, self.sizes, self.frames, self.max_cycles = procs, sizes, frames, max_cycles
        self.neighbours = [sorted({producer[f] for f in p.ins} | {consumer[f] for f in p.outs}) for p in procs]
        self.written: list[list[int]] = [[] for _ in sizes]  # per FIFO: cycle each token was written
        self.read: list[list[int]] = [[] for _ in sizes]     # per FIFO: cycle each token was read
        self.out_times: list[list[int]] = [[] for _ in procs]  # network outputs (processes without output FIFO)
        n = len(procs)
        self.step, self.nread, self.nwrite = [0] * n, [0] * n, [0] * n
        self.t_prev = [-p.gaps[0] for p in procs]
        self.stall = [0] * n
        self.waiting: list[tuple[str, int] | None] = [None] * n
        self.cut = [False] * n

    def run(self) -> None:
        heap, queued = list(range(len(self.procs))), [True] * len(self.procs)
        while heap:
            p = heapq.heappop(heap)
            queued[p] = False
            if self._advance(p):
                for q in self.neighbours[p]:
                    if not queued[q]:
                        queued[q] = True
                        heapq.heappush(heap, q)

    def _advance(self, p: int) -> bool:
        """Take process ``p``'s steps until it blocks on an event not yet known; True if it moved."""
        pr = self.procs[p]
        reads, writes, gaps, L, ins, outs = pr.reads, pr.writes, pr.gaps, pr.latency, pr.ins, pr.outs
        n_steps, total = len(gaps), len(gaps) * self.frames
        written, read, sizes, cap = self.written, self.read, self.sizes, self.max_cycles
        s, t_prev, nr, nw, stall = self.step[p], self.t_prev[p], self.nread[p], self.nwrite[p], self.stall[p]
        start, wait = s, None
        while s < total:
            i = s % n_steps
            t = t_prev + gaps[i] + (L if i == 0 and s else 0)
            if reads[i]:
                for f in ins:
                    w = written[f]
                    if len(w) <= nr:
                        wait = ('empty', f)
                        break
                    if w[nr] >= t:
                        t = w[nr] + 1
                if wait:
                    break
            t_free = t
            if writes[i]:
                for f in outs:
                    k = nw - sizes[f]
                    if k >= 0:
                        r = read[f]
                        if len(r) <= k:
                            wait = ('full', f)
                            break
                        if r[k] + 1 - L > t:
                            t = r[k] + 1 - L
                if wait:
                    break
            if cap is not None and t + L > cap:
                self.cut[p] = True
                break
            if reads[i]:
                for f in ins:
                    read[f].append(t)
                nr += 1
            if writes[i]:
                for f in outs:
                    written[f].append(t + L)
                if not outs:
                    self.out_times[p].append(t + L)
                nw += 1
            stall += t - t_free
            t_prev = t
            s += 1
        self.step[p], self.t_prev[p], self.nread[p], self.nwrite[p], self.stall[p] = s, t_prev, nr, nw, stall
        self.waiting[p] = wait
        return s > start

    def unfinished(self) -> list[int]:
        return [p for p, pr in enumerate(self.procs) if self.step[p] < len(pr.gaps) * self.frames]


def _peak(written: list[int], read: list[int]) -> int:
    """Most tokens a FIFO held at once (a token counts from its write to its read cycle)."""
    if not written:
        return 0
    w = np.asarray(written)
    return int((np.arange(1, len(w) + 1) - np.searchsorted(np.asarray(read), w, side='right')).max())


def _need(written: list[int], read: list[int]) -> int:
    """Smallest depth under which this run's schedule of a FIFO stays as it is: the k-th write, at
    cycle w, needs every token up to k - depth read before w, so the depth must cover the tokens
    j <= k still unread at w (read at w or later). Setting every FIFO to its need reproduces the
    run exactly (each event time is a maximum of earlier ones, so smaller depths can only delay)."""
    if not written:
        return 1
    w = np.asarray(written)
    k = np.arange(1, len(w) + 1)
    return int(max(1, (k - np.searchsorted(np.asarray(read), w, side='left')).max()))


def _frame_ends(sim: _Sim, design: dict) -> list[int]:
    """Cycle at which the last output token of each completed frame left the network."""
    ends = []
    for p, times in enumerate(sim.out_times):
        if sim.procs[p].outs or not times:
            continue
        per = _pixels(design['layers'][p]['out_shape'])
        ends.append([times[(f + 1) * per - 1] for f in range(len(times) // per)])
    n = min((len(e) for e in ends), default=0)
    return [max(e[f] for e in ends) for f in range(n)]


def _stalls(sim: _Sim, design: dict) -> dict[str, int]:
    """Cycles each layer was blocked on a full output (a ChannelGate: its store waiting for a free
    buffer plus its replay waiting for its consumer)."""
    out = {lay['name']: sim.stall[p] for p, lay in enumerate(design['layers'])}
    for p in range(len(design['layers']), len(sim.procs)):
        out[sim.procs[p].name.removesuffix(' (store)')] += sim.stall[p]
    return out


def _blocked(sim: _Sim, names: list[str]) -> tuple[dict[str, str], list[str], list[str]]:
    """Blocked layers with what they wait on, full FIFOs, empty FIFOs (the deadlocked state). A
    ChannelGate is named once: by its store's state (its replay waiting for a stored frame follows
    from it), or ``both frame buffers full`` when the store waits for its replay."""
    blocked, full, empty = {}, set(), set()
    for p in sim.unfinished():
        kind, f = sim.waiting[p]
        name = sim.procs[p].name.removesuffix(' (store)')
        if INTERNAL in names[f]:
            if kind == 'full':
                blocked[name] = 'both frame buffers full'
            continue
        blocked[name] = f'{"output" if kind == "full" else "input"} {names[f]} {kind}'
        (full if kind == 'full' else empty).add(names[f])
    return blocked, sorted(full), sorted(empty)


def _not_run(reason: str, frames: int) -> dict:
    return {'deadlock': None, 'status': f'not run: {reason}', 'frames': frames, 'frame_interval_cycles': None,
            'latency_cycles': None, 'frame_end_cycles': [], 'max_occupancy': {}, 'fifo_need': {}, 'stalls': {},
            'source': SOURCE}


def simulate(design: dict, reuse: dict | int | None = None, depths: dict | None = None, frames: int = 3,
             max_cycles: int | None = None, max_steps: int = DEFAULT_MAX_STEPS) -> dict:
    """Token simulation of ``frames`` back-to-back frames through ``design`` (module docstring).

    ``reuse``: as :func:`hw.estimates.analytical.estimate` (None: the design as lowered, with its
    written FIFO depths; a {layer: reuse} map or a folding target: that folding with its planned
    FIFO depths). ``depths``: {"producer -> consumer": tokens} overrides. The simulation stops at
    ``max_cycles`` (cycles) and is not run above ``max_steps`` token steps; both are reported in
    ``status`` with no figure. Returns (cycles of the design clock; FIFO figures in tokens)::

        {"deadlock": bool, "status": "completed" | "deadlock" | "stopped at ..." | "not run: ...",
         "frames", "frame_interval_cycles": last frame's end - the previous frame's end,
         "latency_cycles": cycles from the first input pixel to the first frame's last output pixel,
         "frame_end_cycles": [cycle of each frame's last output pixel],
         "max_occupancy": {fifo: peak tokens}, "stalls": {layer: cycles blocked on a full output},
         "fifo_need": {fifo: the smallest depth that leaves this run unchanged},
         "blocked", "full_fifos", "empty_fifos" (when deadlocked), "steps", "source": "token simulation"}
    """
    if int(frames) < 2:
        raise HsbinetError('Too few frames for a token simulation', key='frames',
                           expected='>= 2 (the frame interval is measured between the last two)', found=str(frames))
    steps = token_steps(design, frames)
    if steps > max_steps:
        return _not_run(f'{steps:,} token steps exceed the limit of {max_steps:,}', frames)
    procs, names, sizes, producer, consumer = _graph(design, reuse, depths)
    sim = _Sim(procs, sizes, producer, consumer, int(frames), max_cycles)
    sim.run()
    ends = _frame_ends(sim, design)
    left = sim.unfinished()
    deadlock = bool(left) and not any(sim.cut)
    status = 'deadlock' if deadlock else (f'stopped at max_cycles={max_cycles}' if left else 'completed')
    out = {'deadlock': deadlock, 'status': status, 'frames': int(frames),
           'frame_interval_cycles': ends[-1] - ends[-2] if not left else None,
           'latency_cycles': ends[0] + 1 if not left else None, 'frame_end_cycles': ends,
           'max_occupancy': {n: _peak(sim.written[f], sim.read[f]) for f, n in enumerate(names) if INTERNAL not in n},
           'fifo_need': {n: _need(sim.written[f], sim.read[f]) for f, n in enumerate(names) if INTERNAL not in n},
           'stalls': _stalls(sim, design), 'steps': steps, 'source': SOURCE}
    if deadlock:
        out['blocked'], out['full_fifos'], out['empty_fifos'] = _blocked(sim, names)
    return out

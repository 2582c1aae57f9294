"""AXI4-Stream adapter of the accelerator: TDATA <= 512 bits in and out, width conversion, band
padding and TLAST inside the verified design.

hls4ml's top function (``hsbinet``) takes one stream word per pixel: ``nnet::array`` of all bands
(``core_bands`` of them, see :mod:`hw.export.passes.pad_bands`) for the LR-HS cube and one sample
for PAN, and writes one word of ``core_bands`` samples per HR pixel. hls4ml has no adapter to a bus
of a given width, so this module writes one into the project (``firmware/<top>_axis.{h,cpp}``)::

    void hsbinet_axis(hls::stream<axis_beat_t> &s_ms, hls::stream<axis_beat_t> &s_pan,
                      hls::stream<axis_beat_t> &m_out);   // DATAFLOW: unpack -> hsbinet -> pack

and a C-simulation entry (``firmware/<top>_axis_bridge.cpp``, ``extern "C" <top>_axis_run``) that
the project's own ``build_lib.sh`` compiles into hls4ml's C-simulation library, so ``csim`` runs
the adapter and the core as one design (:mod:`sim.csim`).

Beat order (all three streams; ``S = tdata_bits / sample_bits`` samples per beat; a sample is the
two's-complement integer of the fixed<W,I> stream value, W = sample_bits, on lane ``i`` =
TDATA[W*i + W-1 : W*i], lane 0 in the lowest bits as AXI4-Stream byte 0; TKEEP/TSTRB all ones;
unused lanes are 0):

* ``s_ms``: LR pixels in raster order (row-major, h rows of w pixels); each pixel starts a new beat
  and takes ceil(B / S) beats, band b on beat b // S, lane b % S (band-interleaved by pixel, BIP);
  TLAST on the last beat of every LR row (``tlast: line``) or of the frame (``tlast: frame``).
* ``s_pan``: each PAN row starts a new beat and takes ceil(W / S) beats, pixel x on beat x // S,
  lane x % S; TLAST on the last beat of every PAN row or of the frame.
* ``m_out``: HR pixels in raster order, each ceil(B / S) beats in the order of ``s_ms``; the padded
  bands B..core_bands-1 (exactly 0, see pad_bands) are dropped; TLAST on the last beat of every HR
  row or of the frame.

Throughput: the output writes ceil(B / S) beats per HR pixel at one beat per cycle, which bounds
the design at that many cycles per PAN pixel; the report counts the adapter as a layer
(:func:`adapter_layers`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quant_models.common import HsbinetError, atomic_write_text

TLAST_MODES = ('line', 'frame')


@dataclass(frozen=True)
class AxisGeometry:
    """Stream geometry of one frame: LR ``h`` x ``w``, HR (PAN) ``H`` x ``W``, ``bands`` B at the
    interface, ``core_bands`` inside, ``sample_bits`` per sample, ``tdata_bits`` per beat."""

    h: int
    w: int
    H: int
    W: int
    bands: int
    core_bands: int
    sample_bits: int
    tdata_bits: int
    tlast: str = 'line'

    @property
    def lanes(self) -> int:
        return self.tdata_bits // self.sample_bits

    @property
    def pixel_beats(self) -> int:
        """Beats per MS / output pixel: ceil(B / lanes)."""
        return math.ceil(self.bands / self.lanes)

    @property
    def pan_row_beats(self) -> int:
        return math.ceil(self.W / self.lanes)

    def beats(self) -> dict[str, int]:
        """Beats per frame on each stream."""
        return {'s_ms': self.h * self.w * self.pixel_beats, 's_pan': self.H * self.pan_row_beats,
                'm_out': self.H * self.W * self.pixel_beats}

    def to_dict(self) -> dict:
        return {'tdata_bits': self.tdata_bits, 'sample_bits': self.sample_bits, 'lanes': self.lanes,
                'bands': self.bands, 'core_bands': self.core_bands, 'tlast': self.tlast,
                'beats_per_pixel': self.pixel_beats, 'pan_beats_per_row': self.pan_row_beats,
                'beats_per_frame': self.beats()}


def check_tdata(tdata_bits: int, sample_bits: int, key: str = 'hw.tdata_bits') -> None:
    """TDATA must be a power of two of at least one sample and at most 512 bits (AXI4-Stream
    interconnect widths; Xilinx' AXIS IP supports up to 512 bytes but payload buses stop at 512 bits)."""
    ok = 8 <= tdata_bits <= 512 and tdata_bits & (tdata_bits - 1) == 0 and tdata_bits >= sample_bits
    if not ok:
        raise HsbinetError('Unsupported AXI4-Stream data width', key=key,
                           expected=f'a power of two from {max(8, sample_bits)} to 512 bits', found=str(tdata_bits))


def geometry_of(design: dict, tdata_bits: int, tlast: str = 'line') -> AxisGeometry:
    """The adapter geometry of a lowered design (its input/output layer shapes)."""
    if tlast not in TLAST_MODES:
        raise HsbinetError('Unknown TLAST mode', key='hw.tlast', expected=' or '.join(TLAST_MODES), found=repr(tlast))
    sample_bits = int(design['io_bits'][0])
    check_tdata(tdata_bits, sample_bits)
    inputs = {lay['name']: lay['out_shape'] for lay in design['layers'] if lay['class'] == 'Input'}
    (h, w, core), (H, W, _) = inputs['ms'], inputs['pan']
    bands = int(design['frame']['bands'])
    return AxisGeometry(int(h), int(w), int(H), int(W), bands, int(core), sample_bits, int(tdata_bits), tlast)


# --- C++ written into the project ----------------------------------------------------------------

_HEADER = """\
// AXI4-Stream adapter around the hls4ml top function {top}() (written by hw/hls/axis.py).
// Beat order and TLAST: see docs/bitstream.md, "AXI4-Stream interface".
#ifndef {guard}
#define {guard}

#include "{top}.h"

#define {macro}_TDATA_BITS {tdata}
#if defined(__has_include)
#if __has_include(<ap_axi_sdata.h>)
#include <ap_axi_sdata.h>
#define {macro}_AXI_SDATA 1
#endif
#endif
#ifdef {macro}_AXI_SDATA
typedef ap_axiu<{macro}_TDATA_BITS, 0, 0, 0> axis_beat_t;
#else
// Without the vendor headers (C simulation with g++): the fields of ap_axiu<W,0,0,0> the adapter uses.
struct axis_beat_t {{
    ap_uint<{macro}_TDATA_BITS> data;
    ap_uint<{macro}_TDATA_BITS / 8> keep;
    ap_uint<{macro}_TDATA_BITS / 8> strb;
    ap_uint<1> last;
}};
#endif

void {top}_axis(hls::stream<axis_beat_t> &s_ms, hls::stream<axis_beat_t> &s_pan, hls::stream<axis_beat_t> &m_out);

#endif
"""

_SOURCE = """\
// AXI4-Stream adapter around {top}() (written by hw/hls/axis.py): width conversion, band padding
// ({bands} bands at the interface, {core} inside), TLAST per {tlast}.
#include "{top}_axis.h"

namespace {{
const unsigned SAMPLE_BITS = {sample_bits};
const unsigned LANES = {lanes};          // samples per beat
const unsigned BANDS = {bands};          // bands on the bus
const unsigned CORE_BANDS = {core};      // bands of the core (padded with zeros)
const unsigned PIXEL_BEATS = {pixel_beats};  // beats per MS / output pixel
const unsigned LR_H = {h}, LR_W = {w}, HR_H = {H}, HR_W = {W};
const unsigned PAN_ROW_BEATS = {pan_row_beats};
const bool TLAST_LINE = {tlast_line};

void axis_to_ms(hls::stream<axis_beat_t> &in, hls::stream<input_t> &out) {{
    for (unsigned p = 0; p < LR_H * LR_W; p++) {{
        input_t px;
        for (unsigned c = 0; c < CORE_BANDS; c++) {{
#pragma HLS UNROLL
            px[c] = 0;
        }}
        for (unsigned k = 0; k < PIXEL_BEATS; k++) {{
#pragma HLS PIPELINE II = 1
            axis_beat_t b = in.read();
            for (unsigned i = 0; i < LANES; i++) {{
#pragma HLS UNROLL
                unsigned c = k * LANES + i;
                if (c < BANDS) px[c].range(SAMPLE_BITS - 1, 0) = b.data.range(SAMPLE_BITS * i + SAMPLE_BITS - 1, SAMPLE_BITS * i);
            }}
        }}
        out.write(px);
    }}
}}

void axis_to_pan(hls::stream<axis_beat_t> &in, hls::stream<input2_t> &out) {{
    for (unsigned y = 0; y < HR_H; y++) {{
        axis_beat_t b;
        for (unsigned x = 0; x < HR_W; x++) {{
#pragma HLS PIPELINE II = 1
            unsigned i = x % LANES;
            if (i == 0) b = in.read();
            input2_t px;
            px[0].range(SAMPLE_BITS - 1, 0) = b.data.range(SAMPLE_BITS * i + SAMPLE_BITS - 1, SAMPLE_BITS * i);
            out.write(px);
        }}
    }}
}}

void out_to_axis(hls::stream<result_t> &in, hls::stream<axis_beat_t> &out) {{
    for (unsigned p = 0; p < HR_H * HR_W; p++) {{
        result_t px = in.read();
        for (unsigned k = 0; k < PIXEL_BEATS; k++) {{
#pragma HLS PIPELINE II = 1
            axis_beat_t b;
            b.data = 0;
            b.keep = -1;
            b.strb = -1;
            for (unsigned i = 0; i < LANES; i++) {{
#pragma HLS UNROLL
                unsigned c = k * LANES + i;
                if (c < BANDS) b.data.range(SAMPLE_BITS * i + SAMPLE_BITS - 1, SAMPLE_BITS * i) = px[c].range(SAMPLE_BITS - 1, 0);
            }}
            bool row_end = (p + 1) % HR_W == 0, frame_end = p + 1 == HR_H * HR_W;
            b.last = (k == PIXEL_BEATS - 1) && (TLAST_LINE ? row_end : frame_end);
            out.write(b);
        }}
    }}
}}
}} // namespace

void {top}_axis(hls::stream<axis_beat_t> &s_ms, hls::stream<axis_beat_t> &s_pan, hls::stream<axis_beat_t> &m_out) {{
#pragma HLS INTERFACE axis port = s_ms
#pragma HLS INTERFACE axis port = s_pan
#pragma HLS INTERFACE axis port = m_out
#pragma HLS DATAFLOW
    hls::stream<input_t> ms("axis_ms");
    hls::stream<input2_t> pan("axis_pan");
    hls::stream<result_t> out("axis_out");
#pragma HLS STREAM variable = ms depth = 2
#pragma HLS STREAM variable = pan depth = 2
#pragma HLS STREAM variable = out depth = 2
    axis_to_ms(s_ms, ms);
    axis_to_pan(s_pan, pan);
    {top}(ms, pan, out);
    out_to_axis(out, m_out);
}}
"""

_BRIDGE = """\
// C-simulation entry of the AXI4-Stream adapter (written by hw/hls/axis.py; not synthesised).
// Beats are passed as raw TDATA bytes (little-endian: byte j = TDATA[8j+7:8j]).
#include <cstddef>
#include <cstdint>

#include "{top}_axis.h"

static const unsigned BYTES = {macro}_TDATA_BITS / 8;

static axis_beat_t to_beat(const uint8_t *bytes, bool last) {{
    axis_beat_t b;
    for (unsigned j = 0; j < BYTES; j++) b.data.range(8 * j + 7, 8 * j) = bytes[j];
    b.keep = -1;
    b.strb = -1;
    b.last = last;
    return b;
}}

extern "C" {{
// Runs one frame. Returns the number of output beats written (at most n_out), or -1 if an input
// stream kept beats the design did not read (a geometry mismatch).
long {top}_axis_run(const uint8_t *ms, const uint8_t *ms_last, size_t n_ms, const uint8_t *pan,
                    const uint8_t *pan_last, size_t n_pan, uint8_t *out, uint8_t *out_last, size_t n_out) {{
    hls::stream<axis_beat_t> s_ms, s_pan, m_out;
    for (size_t i = 0; i < n_ms; i++) s_ms.write(to_beat(ms + i * BYTES, ms_last[i]));
    for (size_t i = 0; i < n_pan; i++) s_pan.write(to_beat(pan + i * BYTES, pan_last[i]));
    {top}_axis(s_ms, s_pan, m_out);
    if (!s_ms.empty() || !s_pan.empty()) return -1;
    size_t n = 0;
    while (!m_out.empty() && n < n_out) {{
        axis_beat_t b = m_out.read();
        for (unsigned j = 0; j < BYTES; j++) out[n * BYTES + j] = (uint8_t)b.data.range(8 * j + 7, 8 * j).to_uint();
        out_last[n] = (uint8_t)b.last.to_uint();
        n++;
    }}
    return (long)n;
}}
}}
"""


def write_adapter(prj_dir: str | Path, top: str, geo: AxisGeometry) -> list[Path]:
    """Write the adapter and its C-simulation bridge into the hls4ml project ``prj_dir`` and add
    them to the project's ``build_lib.sh`` (hls4ml's compile builds one library with both)."""
    prj_dir = Path(prj_dir)
    fw = prj_dir / 'firmware'
    macro = top.upper()
    fields = dict(top=top, guard=f'{macro}_AXIS_H_', macro=macro, tdata=geo.tdata_bits, sample_bits=geo.sample_bits,
                  lanes=geo.lanes, bands=geo.bands, core=geo.core_bands, pixel_beats=geo.pixel_beats, h=geo.h,
                  w=geo.w, H=geo.H, W=geo.W, pan_row_beats=geo.pan_row_beats, tlast=geo.tlast,
                  tlast_line='true' if geo.tlast == 'line' else 'false')
    files = {fw / f'{top}_axis.h': _HEADER, fw / f'{top}_axis.cpp': _SOURCE, fw / f'{top}_axis_bridge.cpp': _BRIDGE}
    for path, text in files.items():
        atomic_write_text(path, text.format(**fields))
    _add_to_build_script(prj_dir / 'build_lib.sh', top)
    return list(files)


def _add_to_build_script(script: Path, top: str) -> None:
    """Compile the adapter's two sources next to hls4ml's and link them into the same library."""
    text, mode = script.read_text(), script.stat().st_mode
    link = '${CC} ${CFLAGS} ${INCFLAGS} -shared ${PROJECT}.o ${PROJECT}_bridge.o -o'
    if link not in text:
        raise HsbinetError("hls4ml's build script has an unexpected link line", file=str(script),
                           expected=link, hint='the hls4ml version differs from the pinned one')
    compile_lines = ''.join(f'${{CC}} ${{CFLAGS}} ${{INCFLAGS}} -D WEIGHTS_DIR="${{WEIGHTS_DIR}}" '
                            f'-c firmware/${{PROJECT}}_{n}.cpp -o ${{PROJECT}}_{n}.o\n' for n in ('axis', 'axis_bridge'))
    text = text.replace(link, compile_lines + link.replace('${PROJECT}_bridge.o',
                                                           '${PROJECT}_bridge.o ${PROJECT}_axis.o ${PROJECT}_axis_bridge.o'))
    atomic_write_text(script, text)
    script.chmod(mode)  # hls4ml runs it as ./build_lib.sh


# --- host side: packing, unpacking, running ------------------------------------------------------

def _to_lanes(values: np.ndarray, bits: int) -> np.ndarray:
    """Signed integers -> their two's complement in ``bits`` (uint64)."""
    v = values.astype(np.int64)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if v.size and (v.min() < lo or v.max() > hi):
        raise HsbinetError('A sample does not fit the stream width', key='sample', expected=f'{lo}..{hi}',
                           found=f'{v.min()}..{v.max()}')
    return (v & ((1 << bits) - 1)).astype(np.uint64)


def _beats_to_bytes(lanes: np.ndarray, geo: AxisGeometry) -> np.ndarray:
    """(n_beats, lanes) lane values -> (n_beats, tdata_bits / 8) TDATA bytes (lane 0 lowest)."""
    n = lanes.shape[0]
    bits = np.zeros((n, geo.tdata_bits), dtype=np.uint8)
    for i in range(geo.lanes):
        for k in range(geo.sample_bits):
            bits[:, i * geo.sample_bits + k] = (lanes[:, i] >> np.uint64(k)) & np.uint64(1)
    return np.packbits(bits, axis=1, bitorder='little')


def _bytes_to_lanes(data: np.ndarray, geo: AxisGeometry) -> np.ndarray:
    bits = np.unpackbits(data, axis=1, bitorder='little').astype(np.int64)
    weights = (1 << np.arange(geo.sample_bits, dtype=np.int64))
    lanes = np.stack([bits[:, i * geo.sample_bits:(i + 1) * geo.sample_bits] @ weights for i in range(geo.lanes)],
                     axis=1)
    sign = 1 << (geo.sample_bits - 1)
    return np.where(lanes >= sign, lanes - (1 << geo.sample_bits), lanes)


def _last(rows: int, beats_per_row: int, line: bool) -> np.ndarray:
    last = np.zeros(rows * beats_per_row, dtype=np.uint8)
    if line:
        last[beats_per_row - 1::beats_per_row] = 1
    else:
        last[-1] = 1
    return last


def pack_ms(ms_int: np.ndarray, geo: AxisGeometry) -> tuple[np.ndarray, np.ndarray]:
    """One LR frame (h, w, B) of stream integers -> (TDATA bytes (beats, tdata/8), TLAST (beats,))."""
    px = ms_int.reshape(geo.h * geo.w, geo.bands)
    lanes = np.zeros((px.shape[0], geo.pixel_beats * geo.lanes), dtype=np.uint64)
    lanes[:, :geo.bands] = _to_lanes(px, geo.sample_bits)
    lanes = lanes.reshape(-1, geo.lanes)
    return _beats_to_bytes(lanes, geo), _last(geo.h, geo.w * geo.pixel_beats, geo.tlast == 'line')


def pack_pan(pan_int: np.ndarray, geo: AxisGeometry) -> tuple[np.ndarray, np.ndarray]:
    """One PAN frame (H, W) of stream integers -> (TDATA bytes, TLAST)."""
    lanes = np.zeros((geo.H, geo.pan_row_beats * geo.lanes), dtype=np.uint64)
    lanes[:, :geo.W] = _to_lanes(pan_int.reshape(geo.H, geo.W), geo.sample_bits)
    return _beats_to_bytes(lanes.reshape(-1, geo.lanes), geo), _last(geo.H, geo.pan_row_beats, geo.tlast == 'line')


def unpack_out(data: np.ndarray, geo: AxisGeometry) -> np.ndarray:
    """Output beats (beats, tdata/8) -> (H, W, B) stream integers."""
    lanes = _bytes_to_lanes(data, geo).reshape(geo.H * geo.W, geo.pixel_beats * geo.lanes)
    return lanes[:, :geo.bands].reshape(geo.H, geo.W, geo.bands)


def expected_out_last(geo: AxisGeometry) -> np.ndarray:
    return _last(geo.H, geo.W * geo.pixel_beats, geo.tlast == 'line')


def run_frame(lib, top: str, geo: AxisGeometry, ms_int: np.ndarray, pan_int: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run one frame through ``<top>_axis_run`` of the compiled C-simulation library ``lib``
    (ctypes CDLL): returns (output (H, W, B) stream integers, TLAST of every output beat)."""
    import ctypes
    ms, ms_last = pack_ms(ms_int, geo)
    pan, pan_last = pack_pan(pan_int, geo)
    n_out = geo.beats()['m_out']
    out = np.zeros((n_out + 1, geo.tdata_bits // 8), dtype=np.uint8)  # one spare: extra beats are caught
    out_last = np.zeros(n_out + 1, dtype=np.uint8)
    fn = getattr(lib, f'{top}_axis_run')
    u8 = ctypes.POINTER(ctypes.c_uint8)
    fn.argtypes = [u8, u8, ctypes.c_size_t, u8, u8, ctypes.c_size_t, u8, u8, ctypes.c_size_t]
    fn.restype = ctypes.c_long
    arrays = [np.ascontiguousarray(a) for a in (ms, ms_last, pan, pan_last)]
    ptr = lambda a: a.ctypes.data_as(u8)  # noqa: E731
    got = fn(ptr(arrays[0]), ptr(arrays[1]), arrays[0].shape[0], ptr(arrays[2]), ptr(arrays[3]), arrays[2].shape[0],
             ptr(out), ptr(out_last), n_out + 1)
    if got != n_out:
        raise HsbinetError('The AXI4-Stream adapter did not produce one frame', key='m_out beats',
                           expected=str(n_out), found='input beats left unread' if got < 0 else str(got))
    return unpack_out(out[:n_out], geo), out_last[:n_out]

// hls4ml extension layers of this project (io_stream only): BilinearResize, ChannelGate, HaarDWT, HaarIDWT.
//
// Registered with hls4ml by hw/hls4ml_ext (register_extensions()); the Python side writes the
// config structs (config<N> : nnet::bilinear_resize_config / nnet::channel_gate_config) and the
// calls in myproject.cpp. Both functions are bit-exact against the contract in hw/custom_ops.py:
// no floating point, every intermediate in an ap_ type wide enough to hold it exactly.
//
// Stream layout (as every hls4ml io_stream layer): one tensor in raster order (rows, then
// columns), the channels of one pixel packed into stream words; a word holds data_T::size
// (res_T::size) channels, so a pixel takes n_chan / size words. hls4ml normally packs all channels
// into one word (size == n_chan); any size dividing n_chan works here.

#ifndef NNET_HSBINET_EXT_STREAM_H_
#define NNET_HSBINET_EXT_STREAM_H_

#include "ap_fixed.h"
#include "ap_int.h"
#include "hls_stream.h"
#include "nnet_common.h"

namespace nnet {

// ---------------------------------------------------------------------------------------------
// BilinearResize: x ratio (a power of two), torch interpolate(mode='bilinear',
// align_corners=False): per axis src = (d + 0.5)/r - 0.5 = (2d + 1 - r)/(2r), clamped to
// [0, n - 1]; i0 = floor(src), i1 = min(i0 + 1, n - 1), l1 = src - i0 (a multiple of 1/(2r)).
// ---------------------------------------------------------------------------------------------

struct bilinear_resize_config {
    static const unsigned height = 1; // input rows
    static const unsigned width = 1;  // input columns
    static const unsigned n_chan = 1;
    static const unsigned ratio = 4;      // r
    static const unsigned log2_ratio = 2; // r = 2^log2_ratio
    static const unsigned new_height = 4; // r * height
    static const unsigned new_width = 4;  // r * width
    // 1-D weight n/(2r), n in [0, 2r]: ap_ufixed<log2_ratio + 2, 1> holds it exactly
    typedef ap_ufixed<4, 1> weight_t;
    // exact accumulator: input frac bits + 2*(log2_ratio + 1), input integer bits + 1 (sign)
    typedef ap_fixed<32, 8> accum_t;
};

// Source taps of output index o along an axis with n input samples. w1 is the numerator (over
// 2r) of the weight of sample i1; the weight of i0 is (2r - w1)/(2r). When w1 == 0 (clamped left
// edge, or r == 1) i1 is set to i0 so that the row is available as early as possible.
template <unsigned R, unsigned N> inline void bilinear_taps(unsigned o, unsigned &i0, unsigned &i1, unsigned &w1) {
    const int num = 2 * (int)o + 1 - (int)R; // src * 2r
    if (num <= 0) {                          // src clamped to 0
        i0 = 0;
        w1 = 0;
    } else {
        i0 = (unsigned)num / (2 * R);
        w1 = (unsigned)num % (2 * R);
    }
    if (i0 >= N - 1) { // right/bottom edge: replicate (i1 clamped, value of sample n-1)
        i0 = N - 1;
        i1 = N - 1;
        w1 = 0;
    } else if (w1 == 0) {
        i1 = i0;
    } else {
        i1 = i0 + 1;
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void bilinear_resize(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    typedef typename data_T::value_type in_t;
    typedef typename res_T::value_type out_t;
    typedef typename CONFIG_T::weight_t weight_t;
    typedef typename CONFIG_T::accum_t accum_t;

    static const unsigned H = CONFIG_T::height;
    static const unsigned W = CONFIG_T::width;
    static const unsigned C = CONFIG_T::n_chan;
    static const unsigned R = CONFIG_T::ratio;
    static const unsigned IN_WORDS = C / data_T::size;
    static const unsigned OUT_WORDS = C / res_T::size;
    static const unsigned WB = CONFIG_T::log2_ratio + 2; // weight_t width; raw value == numerator

    static_assert(C % data_T::size == 0, "bilinear_resize: n_chan must be a multiple of the input pack size");
    static_assert(C % res_T::size == 0, "bilinear_resize: n_chan must be a multiple of the output pack size");
    static_assert((1u << CONFIG_T::log2_ratio) == R, "bilinear_resize: ratio must be a power of two");
    static_assert(CONFIG_T::new_height == R * H && CONFIG_T::new_width == R * W, "bilinear_resize: output size");

    // Line buffer: the two most recent input rows (row y lives in slot y % 2).
    in_t line[2][W][C];
    #pragma HLS ARRAY_PARTITION variable = line complete dim = 3

    unsigned oy = 0; // next output row to emit

BilinearInRows:
    for (unsigned iy = 0; iy < H; iy++) {
    BilinearReadRow:
        for (unsigned ix = 0; ix < W; ix++) {
            for (unsigned wd = 0; wd < IN_WORDS; wd++) {
                #pragma HLS PIPELINE II = 1
                data_T in_data = data.read();
                for (unsigned k = 0; k < data_T::size; k++) {
                    #pragma HLS UNROLL
                    line[iy % 2][ix][wd * data_T::size + k] = in_data[k];
                }
            }
        }

        // Emit every output row whose two source rows are now in the line buffer (its lower
        // source row is iy - 1 or iy and its upper one is iy): r/2 rows after the first input
        // row, r per middle row, the remaining 3r/2 after the last one.
    BilinearEmitRows:
        for (unsigned e = 0; e < 2 * R; e++) {
            if (oy >= R * H)
                break;
            unsigned y0, y1, wy1;
            bilinear_taps<R, H>(oy, y0, y1, wy1);
            if (y1 != iy)
                break;
            weight_t fy0, fy1;
            fy1.range(WB - 1, 0) = wy1;
            fy0.range(WB - 1, 0) = 2 * R - wy1;

        BilinearOutCols:
            for (unsigned ox = 0; ox < R * W; ox++) {
                unsigned x0, x1, wx1;
                bilinear_taps<R, W>(ox, x0, x1, wx1);
                weight_t fx0, fx1;
                fx1.range(WB - 1, 0) = wx1;
                fx0.range(WB - 1, 0) = 2 * R - wx1;

                for (unsigned wd = 0; wd < OUT_WORDS; wd++) {
                    #pragma HLS PIPELINE II = 1
                    res_T out_data;
                    PRAGMA_DATA_PACK(out_data)
                    for (unsigned k = 0; k < res_T::size; k++) {
                        #pragma HLS UNROLL
                        const unsigned c = wd * res_T::size + k;
                        // ap_ arithmetic keeps full precision; accum_t holds every term exactly
                        const accum_t top = line[y0 % 2][x0][c] * fx0 + line[y0 % 2][x1][c] * fx1;
                        const accum_t bot = line[y1 % 2][x0][c] * fx0 + line[y1 % 2][x1][c] * fx1;
                        const accum_t val = top * fy0 + bot * fy1;
                        out_data[k] = (out_t)val; // exact when out_t is the derived result type
                    }
                    res.write(out_data);
                }
            }
            oy++;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ChannelGate: binarised channel attention.
//   s_c = +1 if sum_{h,w} X[h,w,c] >= 0 else -1
//   z_o = 2^K[o] * sum_c W[o,c] * s_c
//   g_o = clip(round_half_even((z_o/4 + 1/2) * 2^f), 0, 2^f - 1) / 2^f
//   Y[h,w,c] = X[h,w,c] * g_c
// With block_rows < height (H8) the sums, gate and products are per block of block_rows rows.
// The frame (block) is stored at 1 bit per value (frame_bits = block_rows * width * n_chan, twice:
// a ping-pong buffer, see channel_gate below); the per-channel counts are accumulated while it
// streams in; the gate is integer arithmetic only.
// Weights: W as ap_uint<1> (1 means +1, 0 means -1), row-major W[o * n_chan + c]; K as a signed
// integer per output channel.
// ---------------------------------------------------------------------------------------------

struct channel_gate_config {
    static const unsigned height = 1;
    static const unsigned width = 1;
    static const unsigned n_chan = 1;
    static const unsigned gate_frac_bits = 8; // f
    static const unsigned block_rows = 1;     // rows per gate (height: one gate per frame; H8: a divisor)
    static const bool xnor_input = false;     // true: input value 1 means +1, 0 means -1 (hls4ml XNOR)
    static const unsigned max_down_shift = 2; // clamp of the right shift (>= clog2(n_chan) + 2)
    static const unsigned frame_bits = 1;     // block_rows * width * n_chan (one half of the ping-pong buffer)
    typedef ap_int<2> count_t;                // per-channel sum of +-1 over the frame
    typedef ap_int<16> wide_t;                // gate numerator before rounding
    typedef ap_uint<1> weight_t;              // W
    typedef ap_int<4> exponent_t;             // K
};

// One input word of the gate binarised (bit 1 means +1) and counted into the per-channel sums.
template <class data_T, typename CONFIG_T>
inline ap_uint<data_T::size> channel_gate_bits(const data_T &in_data, unsigned word,
                                               typename CONFIG_T::count_t count[CONFIG_T::n_chan]) {
    #pragma HLS INLINE
    ap_uint<data_T::size> bits;
    for (unsigned k = 0; k < data_T::size; k++) {
        #pragma HLS UNROLL
        bool plus;
        if (CONFIG_T::xnor_input) {
            plus = (in_data[k] != 0);
        } else {
            plus = !(in_data[k] < 0); // sign(0) = +1
        }
        bits[k] = plus;
        const unsigned c = word * data_T::size + k;
        if (plus)
            count[c] = count[c] + 1;
        else
            count[c] = count[c] - 1;
    }
    return bits;
}

// The gate per output channel from the per-channel sums: integer arithmetic only.
template <typename CONFIG_T>
void channel_gate_compute(const typename CONFIG_T::count_t count[CONFIG_T::n_chan],
                          ap_uint<CONFIG_T::gate_frac_bits> gate[CONFIG_T::n_chan],
                          const typename CONFIG_T::weight_t gate_w[CONFIG_T::n_chan * CONFIG_T::n_chan],
                          const typename CONFIG_T::exponent_t gate_k[CONFIG_T::n_chan]) {
    #pragma HLS INLINE
    typedef typename CONFIG_T::wide_t wide_t;
    static const unsigned C = CONFIG_T::n_chan;
    static const unsigned F = CONFIG_T::gate_frac_bits;
    static const int GATE_MAX = (1 << F) - 1;
GateCompute:
    for (unsigned o = 0; o < C; o++) {
        #pragma HLS PIPELINE II = 1
        // d = sum_c W[o,c] * s_c = 2 * #(W[o,c] == s_c) - C
        int matches = 0;
        for (unsigned c = 0; c < C; c++) {
            #pragma HLS UNROLL
            const bool s_plus = !(count[c] < 0);
            const bool w_plus = (gate_w[o * C + c] != 0);
            matches += (s_plus == w_plus) ? 1 : 0;
        }
        const wide_t d = 2 * matches - (int)C;

        // (z/4 + 1/2) * 2^f = d * 2^e + 2^(f-1), e = K + f - 2
        const int e = (int)gate_k[o] + (int)F - 2;
        wide_t t;
        if (e >= 0) {
            // |d| >= 1 and e >= f saturate either way: clamp the shift to f
            const int sh = (e > (int)F) ? (int)F : e;
            t = (d << sh) + (wide_t(1) << (F - 1));
        } else {
            // round_half_even((d + 2^(f-1+m)) / 2^m), m = -e; for m >= max_down_shift the
            // quotient |d| / 2^m < 1/2 rounds away, so the shift can be clamped there
            const int m = (-e > (int)CONFIG_T::max_down_shift) ? (int)CONFIG_T::max_down_shift : -e;
            const wide_t num = d + (wide_t(1) << (F - 1 + m));
            wide_t q = num >> m; // floor (arithmetic shift)
            const wide_t rem = num - (q << m);
            const wide_t half = wide_t(1) << (m - 1);
            if (rem > half || (rem == half && q[0] == 1))
                q = q + 1;
            t = q;
        }
        if (t < 0)
            t = 0;
        if (t > GATE_MAX)
            t = GATE_MAX;
        gate[o] = t;
    }
}

// Output word `wd` of a stored pixel (its IN_WORDS words of bits at `px`), gated.
template <class data_T, class res_T, typename CONFIG_T>
inline res_T channel_gate_word_out(const ap_uint<data_T::size> *px, unsigned wd,
                                   const ap_uint<CONFIG_T::gate_frac_bits> gate[CONFIG_T::n_chan]) {
    #pragma HLS INLINE
    typedef typename res_T::value_type out_t;
    static const unsigned F = CONFIG_T::gate_frac_bits;
    res_T out_data;
    PRAGMA_DATA_PACK(out_data)
    for (unsigned k = 0; k < res_T::size; k++) {
        #pragma HLS UNROLL
        const unsigned c = wd * res_T::size + k;
        const bool plus = px[c / data_T::size][c % data_T::size];
        ap_ufixed<F, 0> g;
        g.range(F - 1, 0) = gate[c];
        const ap_fixed<F + 1, 1> pos = g;
        const ap_fixed<F + 1, 1> neg = -pos; // -g >= -(1 - 2^-f): no overflow
        out_data[k] = plus ? (out_t)pos : (out_t)neg;
    }
    return out_data;
}

// Frame mode, process 1: store the frame (1 bit per value) and compute the gate.
template <class data_T, class res_T, typename CONFIG_T>
void channel_gate_store(hls::stream<data_T> &data,
                        ap_uint<data_T::size> frame[CONFIG_T::height * CONFIG_T::width * (CONFIG_T::n_chan / data_T::size)],
                        ap_uint<CONFIG_T::gate_frac_bits> gate[CONFIG_T::n_chan],
                        const typename CONFIG_T::weight_t gate_w[CONFIG_T::n_chan * CONFIG_T::n_chan],
                        const typename CONFIG_T::exponent_t gate_k[CONFIG_T::n_chan]) {
    #pragma HLS INLINE off
    static const unsigned C = CONFIG_T::n_chan;
    static const unsigned IN_WORDS = C / data_T::size;
    typename CONFIG_T::count_t count[C];
    #pragma HLS ARRAY_PARTITION variable = count complete
GateCountInit:
    for (unsigned c = 0; c < C; c++) {
        #pragma HLS UNROLL
        count[c] = 0;
    }
GateReadFrame:
    for (unsigned i = 0; i < CONFIG_T::height * CONFIG_T::width * IN_WORDS; i++) {
        #pragma HLS PIPELINE II = 1
        frame[i] = channel_gate_bits<data_T, CONFIG_T>(data.read(), i % IN_WORDS, count);
    }
    channel_gate_compute<CONFIG_T>(count, gate, gate_w, gate_k);
}

// Frame mode, process 2: stream the stored frame out, multiplied by the gate of its channel.
template <class data_T, class res_T, typename CONFIG_T>
void channel_gate_replay(const ap_uint<data_T::size> frame[CONFIG_T::height * CONFIG_T::width * (CONFIG_T::n_chan / data_T::size)],
                         const ap_uint<CONFIG_T::gate_frac_bits> gate[CONFIG_T::n_chan], hls::stream<res_T> &res) {
    #pragma HLS INLINE off
    static const unsigned IN_WORDS = CONFIG_T::n_chan / data_T::size;
    static const unsigned OUT_WORDS = CONFIG_T::n_chan / res_T::size;
GateWriteFrame:
    for (unsigned p = 0; p < CONFIG_T::height * CONFIG_T::width; p++) {
        for (unsigned wd = 0; wd < OUT_WORDS; wd++) {
            #pragma HLS PIPELINE II = 1
            res.write(channel_gate_word_out<data_T, res_T, CONFIG_T>(&frame[p * IN_WORDS], wd, gate));
        }
    }
}

// Block mode (H8, block_rows < height): one gate per block of block_rows rows. A single pipelined
// loop reads block b into one half of a ping-pong buffer while it writes block b - 1, gated, from
// the other: the output lags the input by one block, and the last block is written after the
// frame's last pixel (one call = one frame in, the same frame out). Buffer: 2 x frame_bits bits.
template <class data_T, class res_T, typename CONFIG_T>
void channel_gate_blocks(hls::stream<data_T> &data, hls::stream<res_T> &res,
                         const typename CONFIG_T::weight_t gate_w[CONFIG_T::n_chan * CONFIG_T::n_chan],
                         const typename CONFIG_T::exponent_t gate_k[CONFIG_T::n_chan]) {
    static const unsigned C = CONFIG_T::n_chan;
    static const unsigned IN_WORDS = C / data_T::size;
    static const unsigned OUT_WORDS = C / res_T::size;
    static const unsigned BPIX = CONFIG_T::block_rows * CONFIG_T::width;
    static const unsigned NBLK = CONFIG_T::height / CONFIG_T::block_rows;
    static const unsigned STEP_WORDS = IN_WORDS > OUT_WORDS ? IN_WORDS : OUT_WORDS;
    // Static: large blocks stay off the C-simulation's stack; every entry is written before it is
    // read in each call.
    static ap_uint<data_T::size> buf[2][BPIX * IN_WORDS];
    ap_uint<CONFIG_T::gate_frac_bits> gate[2][C];
    #pragma HLS ARRAY_PARTITION variable = gate complete dim = 0
    typename CONFIG_T::count_t count[C];
    #pragma HLS ARRAY_PARTITION variable = count complete
GateBlocks:
    for (unsigned b = 0; b <= NBLK; b++) {
        for (unsigned c = 0; c < C; c++) {
            #pragma HLS UNROLL
            count[c] = 0;
        }
    GateBlockPixels:
        for (unsigned i = 0; i < BPIX * STEP_WORDS; i++) {
            #pragma HLS PIPELINE II = 1
            const unsigned p = i / STEP_WORDS, wd = i % STEP_WORDS;
            if (b < NBLK && wd < IN_WORDS)
                buf[b % 2][p * IN_WORDS + wd] = channel_gate_bits<data_T, CONFIG_T>(data.read(), wd, count);
            if (b > 0 && wd < OUT_WORDS)
                res.write(channel_gate_word_out<data_T, res_T, CONFIG_T>(&buf[(b - 1) % 2][p * IN_WORDS], wd,
                                                                        gate[(b - 1) % 2]));
        }
        if (b < NBLK)
            channel_gate_compute<CONFIG_T>(count, gate[b % 2], gate_w, gate_k);
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void channel_gate_frame(hls::stream<data_T> &data, hls::stream<res_T> &res,
                        const typename CONFIG_T::weight_t gate_w[CONFIG_T::n_chan * CONFIG_T::n_chan],
                        const typename CONFIG_T::exponent_t gate_k[CONFIG_T::n_chan]) {
    #pragma HLS INLINE off
    #pragma HLS DATAFLOW
    // Arrays between two dataflow processes are ping-pong (PIPO) channels by default. Every entry is
    // written before it is read in each call.
    ap_uint<data_T::size> frame[CONFIG_T::height * CONFIG_T::width * (CONFIG_T::n_chan / data_T::size)];
    ap_uint<CONFIG_T::gate_frac_bits> gate[CONFIG_T::n_chan];
    #pragma HLS ARRAY_PARTITION variable = gate complete
    channel_gate_store<data_T, res_T, CONFIG_T>(data, frame, gate, gate_w, gate_k);
    channel_gate_replay<data_T, res_T, CONFIG_T>(frame, gate, res);
}

// The layer. Frame mode: the two processes in a dataflow region of their own; the frame buffer
// and the gate are the channels between them, which Vitis HLS double-buffers (ping-pong, PIPO),
// so the store of frame n+1 runs while frame n is replayed at its consumer's pace: the layer
// buffers 2 x frame_bits bits and needs no deep FIFO behind it. One call handles one frame, store
// then replay, so a C-simulation (sequential) computes exactly what the hardware computes.
template <class data_T, class res_T, typename CONFIG_T>
void channel_gate(hls::stream<data_T> &data, hls::stream<res_T> &res,
                  const typename CONFIG_T::weight_t gate_w[CONFIG_T::n_chan * CONFIG_T::n_chan],
                  const typename CONFIG_T::exponent_t gate_k[CONFIG_T::n_chan]) {
    #pragma HLS INLINE off
    static_assert(CONFIG_T::n_chan % data_T::size == 0, "channel_gate: n_chan must be a multiple of the input pack size");
    static_assert(CONFIG_T::n_chan % res_T::size == 0, "channel_gate: n_chan must be a multiple of the output pack size");
    static_assert(CONFIG_T::height % CONFIG_T::block_rows == 0, "channel_gate: block_rows must divide height");
    static_assert(CONFIG_T::frame_bits == CONFIG_T::block_rows * CONFIG_T::width * CONFIG_T::n_chan,
                  "channel_gate: frame_bits");
    if (CONFIG_T::block_rows < CONFIG_T::height) {
        channel_gate_blocks<data_T, res_T, CONFIG_T>(data, res, gate_w, gate_k);
    } else {
        channel_gate_frame<data_T, res_T, CONFIG_T>(data, res, gate_w, gate_k);
    }
}


// ---------------------------------------------------------------------------------------------
// HaarDWT / HaarIDWT: one-level orthonormal Haar transform and its inverse (BNNPan-style).
//   DWT: a = X[2i,2j], b = X[2i,2j+1], c = X[2i+1,2j], d = X[2i+1,2j+1] (per channel);
//        Y[i,j,4c+0..3] = (a+b+c+d)/2, (a-b+c-d)/2, (a+b-c-d)/2, (a-b-c+d)/2   (LL, LH, HL, HH)
//   IDWT: X[2i,2j] = (LL+LH+HL+HH)/2, X[2i,2j+1] = (LL-LH+HL-HH)/2,
//         X[2i+1,2j] = (LL+LH-HL-HH)/2, X[2i+1,2j+1] = (LL-LH-HL+HH)/2
// accum_t (config) holds a signed sum of four inputs with one more fractional bit, so the sum and
// its halving (a right shift by one within accum_t) are exact; the cast to the output type is
// exact when it is the derived ap_fixed<W+2, I+1>.
// ---------------------------------------------------------------------------------------------

struct haar_config {
    static const unsigned in_height = 2;
    static const unsigned in_width = 2;
    static const unsigned in_chan = 1;
    static const unsigned out_height = 1;
    static const unsigned out_width = 1;
    static const unsigned out_chan = 4;
    typedef ap_fixed<32, 8> accum_t;
};

// DWT: the even row is kept in a line buffer (in_width x in_chan values), the even-column pixel of
// an odd row in a register; every odd pixel of an odd row completes a 2 x 2 block and writes one
// output pixel (4 in_chan values). One input word per cycle.
template <class data_T, class res_T, typename CONFIG_T>
void haar_dwt(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    typedef typename data_T::value_type in_t;
    typedef typename res_T::value_type out_t;
    typedef typename CONFIG_T::accum_t accum_t;
    static const unsigned H = CONFIG_T::in_height;
    static const unsigned W = CONFIG_T::in_width;
    static const unsigned C = CONFIG_T::in_chan;
    static const unsigned IN_WORDS = C / data_T::size;
    static const unsigned OUT_WORDS = 4 * C / res_T::size;
    static_assert(H % 2 == 0 && W % 2 == 0, "haar_dwt: the input frame must be even");
    static_assert(CONFIG_T::out_chan == 4 * C && CONFIG_T::out_height == H / 2 && CONFIG_T::out_width == W / 2,
                  "haar_dwt: output shape");
    static_assert(C % data_T::size == 0 && (4 * C) % res_T::size == 0, "haar_dwt: channels vs pack sizes");

    in_t line[W][C];
    #pragma HLS ARRAY_PARTITION variable = line complete dim = 2
    in_t left[C];
    #pragma HLS ARRAY_PARTITION variable = left complete
    in_t px[C];
    #pragma HLS ARRAY_PARTITION variable = px complete
    out_t out[4 * C];
    #pragma HLS ARRAY_PARTITION variable = out complete

HaarDwtRows:
    for (unsigned y = 0; y < H; y++) {
    HaarDwtCols:
        for (unsigned x = 0; x < W; x++) {
            for (unsigned wd = 0; wd < IN_WORDS; wd++) {
                #pragma HLS PIPELINE II = 1
                data_T in_data = data.read();
                for (unsigned k = 0; k < data_T::size; k++) {
                    #pragma HLS UNROLL
                    px[wd * data_T::size + k] = in_data[k];
                }
            }
            if (y % 2 == 0) {
                for (unsigned c = 0; c < C; c++) {
                    #pragma HLS UNROLL
                    line[x][c] = px[c];
                }
            } else if (x % 2 == 0) {
                for (unsigned c = 0; c < C; c++) {
                    #pragma HLS UNROLL
                    left[c] = px[c];
                }
            } else {
                for (unsigned c = 0; c < C; c++) {
                    #pragma HLS UNROLL
                    const accum_t a = line[x - 1][c], b = line[x][c], cc = left[c], d = px[c];
                    const accum_t s0 = a + b, d0 = a - b, s1 = cc + d, d1 = cc - d;
                    out[4 * c + 0] = (out_t)((accum_t)(s0 + s1) >> 1);
                    out[4 * c + 1] = (out_t)((accum_t)(d0 + d1) >> 1);
                    out[4 * c + 2] = (out_t)((accum_t)(s0 - s1) >> 1);
                    out[4 * c + 3] = (out_t)((accum_t)(d0 - d1) >> 1);
                }
                for (unsigned wd = 0; wd < OUT_WORDS; wd++) {
                    #pragma HLS PIPELINE II = 1
                    res_T out_data;
                    PRAGMA_DATA_PACK(out_data)
                    for (unsigned k = 0; k < res_T::size; k++) {
                        #pragma HLS UNROLL
                        out_data[k] = out[wd * res_T::size + k];
                    }
                    res.write(out_data);
                }
            }
        }
    }
}

// IDWT: input row y (in_width pixels of 4 out_chan sub-band values) determines output rows 2y and
// 2y + 1. The first input row is read alone; then, while the two output rows of row y are written
// (4 in_width output pixels, one output word per cycle), row y + 1 is read into the other half of
// a ping-pong line buffer, one input pixel per four output pixels, so the layer takes its input at
// a steady quarter of its output rate instead of stalling its producer for two rows.
template <class data_T, class res_T, typename CONFIG_T>
void haar_idwt(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    typedef typename data_T::value_type in_t;
    typedef typename res_T::value_type out_t;
    typedef typename CONFIG_T::accum_t accum_t;
    static const unsigned h = CONFIG_T::in_height;
    static const unsigned w = CONFIG_T::in_width;
    static const unsigned C = CONFIG_T::out_chan;
    static const unsigned IN_WORDS = 4 * C / data_T::size;
    static const unsigned OUT_WORDS = C / res_T::size;
    static_assert(CONFIG_T::in_chan == 4 * C && CONFIG_T::out_height == 2 * h && CONFIG_T::out_width == 2 * w,
                  "haar_idwt: output shape");
    static_assert((4 * C) % data_T::size == 0 && C % res_T::size == 0, "haar_idwt: channels vs pack sizes");

    in_t line[2][w][4 * C];
    #pragma HLS ARRAY_PARTITION variable = line complete dim = 3

HaarIdwtFirstRow:
    for (unsigned x = 0; x < w; x++) {
        for (unsigned wd = 0; wd < IN_WORDS; wd++) {
            #pragma HLS PIPELINE II = 1
            data_T in_data = data.read();
            for (unsigned k = 0; k < data_T::size; k++) {
                #pragma HLS UNROLL
                line[0][x][wd * data_T::size + k] = in_data[k];
            }
        }
    }
HaarIdwtRows:
    for (unsigned y = 0; y < h; y++) {
        const unsigned cur = y % 2, nxt = 1 - cur;
    HaarIdwtWrite:
        for (unsigned j = 0; j < 4 * w; j++) { // output pixel j of the two rows: row 2y + j / (2w)
            const unsigned p = j / (2 * w), ox = j % (2 * w), x = ox / 2, q = ox % 2;
            if (y + 1 < h && j % 4 == 0) { // the next input row, one pixel per four output pixels
                for (unsigned wd = 0; wd < IN_WORDS; wd++) {
                    data_T in_data = data.read();
                    for (unsigned k = 0; k < data_T::size; k++) {
                        #pragma HLS UNROLL
                        line[nxt][j / 4][wd * data_T::size + k] = in_data[k];
                    }
                }
            }
            for (unsigned wd = 0; wd < OUT_WORDS; wd++) {
                #pragma HLS PIPELINE II = 1
                res_T out_data;
                PRAGMA_DATA_PACK(out_data)
                for (unsigned k = 0; k < res_T::size; k++) {
                    #pragma HLS UNROLL
                    const unsigned c = wd * res_T::size + k;
                    const accum_t ll = line[cur][x][4 * c], lh = line[cur][x][4 * c + 1];
                    const accum_t hl = line[cur][x][4 * c + 2], hh = line[cur][x][4 * c + 3];
                    // LH enters with the sign of the column, HL with that of the row, HH with both
                    const accum_t top = (q == 0) ? (accum_t)(ll + lh) : (accum_t)(ll - lh);
                    const accum_t bot = (q == 0) ? (accum_t)(hl + hh) : (accum_t)(hl - hh);
                    const accum_t sum = (p == 0) ? (accum_t)(top + bot) : (accum_t)(top - bot);
                    out_data[k] = (out_t)(sum >> 1);
                }
                res.write(out_data);
            }
        }
    }
}

} // namespace nnet

#endif

// HS-BiNet hls4ml extension layers (io_stream only): BilinearResize and ChannelGate.
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
// The frame is stored at 1 bit per value (frame_bits = height * width * n_chan); the per-channel
// counts are accumulated while the frame streams in; the gate is integer arithmetic only.
// Weights: W as ap_uint<1> (1 means +1, 0 means -1), row-major W[o * n_chan + c]; K as a signed
// integer per output channel.
// ---------------------------------------------------------------------------------------------

struct channel_gate_config {
    static const unsigned height = 1;
    static const unsigned width = 1;
    static const unsigned n_chan = 1;
    static const unsigned gate_frac_bits = 8; // f
    static const bool xnor_input = false;     // true: input value 1 means +1, 0 means -1 (hls4ml XNOR)
    static const unsigned max_down_shift = 2; // clamp of the right shift (>= clog2(n_chan) + 2)
    static const unsigned frame_bits = 1;     // height * width * n_chan
    typedef ap_int<2> count_t;                // per-channel sum of +-1 over the frame
    typedef ap_int<16> wide_t;                // gate numerator before rounding
    typedef ap_uint<1> weight_t;              // W
    typedef ap_int<4> exponent_t;             // K
};

template <class data_T, class res_T, typename CONFIG_T>
void channel_gate(hls::stream<data_T> &data, hls::stream<res_T> &res,
                  const typename CONFIG_T::weight_t gate_w[CONFIG_T::n_chan * CONFIG_T::n_chan],
                  const typename CONFIG_T::exponent_t gate_k[CONFIG_T::n_chan]) {
    typedef typename res_T::value_type out_t;
    typedef typename CONFIG_T::count_t count_t;
    typedef typename CONFIG_T::wide_t wide_t;

    static const unsigned C = CONFIG_T::n_chan;
    static const unsigned NPIX = CONFIG_T::height * CONFIG_T::width;
    static const unsigned IN_SIZE = data_T::size;
    static const unsigned IN_WORDS = C / IN_SIZE;
    static const unsigned OUT_WORDS = C / res_T::size;
    static const unsigned F = CONFIG_T::gate_frac_bits;
    static const int GATE_MAX = (1 << F) - 1;

    static_assert(C % IN_SIZE == 0, "channel_gate: n_chan must be a multiple of the input pack size");
    static_assert(C % res_T::size == 0, "channel_gate: n_chan must be a multiple of the output pack size");
    static_assert(CONFIG_T::frame_bits == NPIX * C, "channel_gate: frame_bits");

    // Frame buffer, 1 bit per value (bit 1 means +1), one entry per input stream word:
    // frame_bits = height * width * n_chan bits (BRAM). Static: large frames stay off the C-sim
    // stack; every entry is written before it is read in each call.
    static ap_uint<IN_SIZE> frame[NPIX * IN_WORDS];
    count_t count[C];
    #pragma HLS ARRAY_PARTITION variable = count complete
    ap_uint<F> gate[C];
    #pragma HLS ARRAY_PARTITION variable = gate complete

GateCountInit:
    for (unsigned c = 0; c < C; c++) {
        #pragma HLS UNROLL
        count[c] = 0;
    }

    // 1) Store the frame and count per channel.
GateReadFrame:
    for (unsigned i = 0; i < NPIX * IN_WORDS; i++) {
        #pragma HLS PIPELINE II = 1
        data_T in_data = data.read();
        ap_uint<IN_SIZE> bits;
        for (unsigned k = 0; k < IN_SIZE; k++) {
            #pragma HLS UNROLL
            bool plus;
            if (CONFIG_T::xnor_input) {
                plus = (in_data[k] != 0);
            } else {
                plus = !(in_data[k] < 0); // sign(0) = +1
            }
            bits[k] = plus;
            const unsigned c = (i % IN_WORDS) * IN_SIZE + k;
            if (plus)
                count[c] = count[c] + 1;
            else
                count[c] = count[c] - 1;
        }
        frame[i] = bits;
    }

    // 2) Gate per output channel: integer arithmetic only.
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

    // 3) Stream the frame out, multiplied by the gate of its channel.
GateWriteFrame:
    for (unsigned p = 0; p < NPIX; p++) {
        for (unsigned wd = 0; wd < OUT_WORDS; wd++) {
            #pragma HLS PIPELINE II = 1
            res_T out_data;
            PRAGMA_DATA_PACK(out_data)
            for (unsigned k = 0; k < res_T::size; k++) {
                #pragma HLS UNROLL
                const unsigned c = wd * res_T::size + k;
                const bool plus = frame[p * IN_WORDS + c / IN_SIZE][c % IN_SIZE];
                ap_ufixed<F, 0> g;
                g.range(F - 1, 0) = gate[c];
                const ap_fixed<F + 1, 1> pos = g;
                const ap_fixed<F + 1, 1> neg = -pos; // -g >= -(1 - 2^-f): no overflow
                out_data[k] = plus ? (out_t)pos : (out_t)neg;
            }
            res.write(out_data);
        }
    }
}

} // namespace nnet

#endif

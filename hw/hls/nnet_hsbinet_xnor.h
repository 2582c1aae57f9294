#ifndef NNET_HSBINET_XNOR_H_
#define NNET_HSBINET_XNOR_H_
// Written by hsbinet (hw/hls/xnor_kernel.py): the dense kernel of the binary (1-bit x 1-bit) convs as
// a folded XNOR-popcount, FINN's matrix-vector unit in hls4ml's kernel slot.
//
// What it computes is hls4ml's both_binary product summed by DenseLatency / DenseResource: for each
// output o, acc = bias[o] + #{i : data[i] == w(i, o)} in accum_t, then hls4ml's binary cast
// (2 acc - n_in). Integer additions in accum_t are exact or wrap modulo 2^width in any order, so the
// result is the same bit for bit (the C-simulation's bit-exact verdict checks it on every run).
//
// Folding: reuse factor R = NF * SF with NF = gcd(R, n_out) output folds and SF = R / NF input folds
// (SF divides n_in because R divides n_in * n_out, as hls4ml requires). Each of the R pipelined
// iterations (II = 1) computes PE = n_out / NF popcounts of SIMD = n_in / SF bits: the II is R as
// in hls4ml's Resource kernels, so the timing model of docs/resources.md holds.
//
// Weights: hls4ml's array, in its layout (latency: index i * n_out + o; resource: o * n_in + i,
// transposed by hls4ml's ApplyResourceStrategy). The words of a fold are read from it by
// weight_word(); synthesis does that inline (constant weights fold into the XNOR), the C-simulation
// memoises the same function once per layer (the #ifndef __SYNTHESIS__ block below), which is what
// makes it fast: 64 products per popcount instead of one ap_fixed add each.
#include "nnet_dense.h"
#include "nnet_mult.h"
#include <stdint.h>

namespace nnet {

namespace xnor {

constexpr unsigned gcd(unsigned a, unsigned b) { return b == 0 ? a : gcd(b, a % b); }

// Bits set in a 64-bit word, with shifts, masks and adds only (no multiplier for synthesis).
inline unsigned popcount64(uint64_t x) {
    #pragma HLS INLINE
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    x = x + (x >> 8);
    x = x + (x >> 16);
    x = x + (x >> 32);
    return (unsigned)(x & 0x7F);
}

} // namespace xnor

template <class data_T, class res_T, typename CONFIG_T> class DenseXnor : public DenseKernel<data_T, res_T, CONFIG_T> {
  public:
    static const unsigned n_in = CONFIG_T::n_in;
    static const unsigned n_out = CONFIG_T::n_out;
    static const unsigned rf = CONFIG_T::reuse_factor;
    static const unsigned nf = xnor::gcd(rf, n_out);
    static const unsigned sf = rf / nf;
    static const unsigned pe = n_out / nf;
    static const unsigned simd = n_in / sf;
    static const unsigned words = (simd + 63) / 64;
    static_assert(nf * sf == rf && pe * nf == n_out && simd * sf == n_in,
                  "DenseXnor: the reuse factor must divide n_in * n_out (hls4ml's rule)");

    typedef typename CONFIG_T::weight_t weight_t;

    // Bit j of word k of input fold s for output o, from hls4ml's weight array.
    static uint64_t weight_word(const weight_t weights[CONFIG_T::n_in * CONFIG_T::n_out], unsigned o, unsigned s,
                                unsigned k) {
        #pragma HLS INLINE
        uint64_t word = 0;
        for (unsigned j = 0; j < 64; j++) {
            #pragma HLS UNROLL
            unsigned i = s * simd + k * 64 + j;
            if (k * 64 + j < simd) {
                unsigned index = CONFIG_T::strategy == nnet::latency ? i * n_out + o : o * n_in + i;
                word |= (uint64_t)(weights[index] != 0) << j;
            }
        }
        return word;
    }

    static void dense(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out], weight_t weights[CONFIG_T::n_in * CONFIG_T::n_out],
                      typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
        #pragma HLS INLINE
        #pragma HLS function_instantiate variable=weights,biases
        uint64_t x[sf][words];
        #pragma HLS ARRAY_PARTITION variable=x complete dim=0
    Pack:
        for (unsigned s = 0; s < sf; s++) {
            #pragma HLS UNROLL
            for (unsigned k = 0; k < words; k++) {
                #pragma HLS UNROLL
                uint64_t word = 0;
                for (unsigned j = 0; j < 64 && k * 64 + j < simd; j++) {
                    #pragma HLS UNROLL
                    word |= (uint64_t)(data[s * simd + k * 64 + j] != 0) << j;
                }
                x[s][k] = word;
            }
        }
#ifndef __SYNTHESIS__
        // C-simulation only: weight_word() of every fold, once per layer (a pure function of the
        // weights, which are loaded before the first call and never change).
        static uint64_t wcache[n_out][sf][words];
        static const weight_t *cached_from = 0;
        if (cached_from != weights) {
            for (unsigned o = 0; o < n_out; o++)
                for (unsigned s = 0; s < sf; s++)
                    for (unsigned k = 0; k < words; k++)
                        wcache[o][s][k] = weight_word(weights, o, s, k);
            cached_from = weights;
        }
#endif
        typename CONFIG_T::accum_t acc[n_out];
        #pragma HLS ARRAY_PARTITION variable=acc complete
    ResetAccum:
        for (unsigned o = 0; o < n_out; o++) {
            #pragma HLS UNROLL
            acc[o] = (typename CONFIG_T::accum_t)biases[o];
        }
    Fold:
        for (unsigned f = 0; f < nf; f++) {
            for (unsigned s = 0; s < sf; s++) {
                #pragma HLS PIPELINE II=1
            Lanes:
                for (unsigned p = 0; p < pe; p++) {
                    #pragma HLS UNROLL
                    unsigned o = f * pe + p;
                    unsigned differ = 0;
                    for (unsigned k = 0; k < words; k++) {
                        #pragma HLS UNROLL
#ifndef __SYNTHESIS__
                        uint64_t w = wcache[o][s][k];
#else
                        uint64_t w = weight_word(weights, o, s, k);
#endif
                        differ += xnor::popcount64(x[s][k] ^ w);
                    }
                    acc[o] += (typename CONFIG_T::accum_t)(simd - differ); // the XNOR matches of this fold
                }
            }
        }
    Result:
        for (unsigned o = 0; o < n_out; o++) {
            #pragma HLS UNROLL
            res[o] = cast<data_T, res_T, CONFIG_T>(acc[o]);
        }
    }
};

} // namespace nnet

#endif

"""The XNOR-popcount dense kernel of the binary convs (hw/hls/nnet_hsbinet_xnor.h, hw/hls/xnor_kernel.py).

``nnet::DenseXnor`` replaces hls4ml's DenseLatency / DenseResource in the binary layers, so it
must compute what those compute, bit for bit, for every folding the planner can choose: a g++
harness runs both on the same random weights, biases and inputs over reuse factors that exercise
output folds only, input folds only, both, SIMD widths below, at and above one 64-bit word, and
each of hls4ml's three Resource kernels (with their transposed weight layout). A flipped weight
bit must change the kernel's answer (the comparison can fail). The project edit is checked on a
lowered design: every binary conv names the kernel, no fixed-point layer does.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

hls4ml = pytest.importorskip('hls4ml')

from hw.hls.xnor_kernel import HEADER_PATH, use_xnor_kernels, xnor_layers  # noqa: E402

# (n_in, n_out, reuse factor): latency at R = 1, hls4ml's Resource kernels otherwise.
CASES = [
    (72, 8, 1),      # latency strategy, SIMD 72 (two words, the second partial)
    (576, 64, 1),    # latency, a 3x3 conv at C = 64
    (72, 8, 4),      # output folds only (NF 4)
    (72, 8, 24),     # NF 8 x SF 3, SIMD 24
    (200, 16, 50),   # NF 2 x SF 25, SIMD 8 (rf <= n_in)
    (130, 4, 260),   # rf > n_in, rf % n_in == 0 (rf_gt_nin_rem0)
    (24, 10, 40),    # rf > n_in, rf % n_in != 0 (rf_gt_nin)
    (3136, 64, 28),  # a 7x7 conv at C = 64: NF 4 x SF 7, SIMD 448 (seven words)
    (128, 64, 64),   # SIMD exactly two words, NF 64
]

HARNESS = r'''
#include <cstdio>
#include <cstdlib>
#include "nnet_utils/nnet_dense.h"
#include "nnet_utils/nnet_hsbinet_xnor.h"

typedef ap_uint<1> bit_t;
typedef ap_int<16> res_t;

template <unsigned NIN, unsigned NOUT, unsigned RF, unsigned STRATEGY> struct cfg : nnet::dense_config {
    static const unsigned n_in = NIN, n_out = NOUT, reuse_factor = RF, strategy = STRATEGY, n_zeros = 0;
    static const unsigned multiplier_limit = DIV_ROUNDUP(NIN * NOUT, RF);
    typedef ap_fixed<16, 16> accum_t;
    typedef ap_fixed<3, 3> bias_t;
    typedef ap_uint<1> weight_t;
    template <class x_T, class y_T> using product = nnet::product::both_binary<x_T, y_T>;
};

template <class CFG> struct hls4ml_kernel {
    static void dense(bit_t *d, res_t *r, bit_t *w, typename CFG::bias_t *b) {
        if (CFG::strategy == nnet::latency) nnet::dense_latency<bit_t, res_t, CFG>(d, r, w, b);
        else if (CFG::reuse_factor <= CFG::n_in) nnet::dense_resource_rf_leq_nin<bit_t, res_t, CFG>(d, r, w, b);
        else if (CFG::reuse_factor % CFG::n_in == 0) nnet::dense_resource_rf_gt_nin_rem0<bit_t, res_t, CFG>(d, r, w, b);
        else nnet::dense_resource_rf_gt_nin<bit_t, res_t, CFG>(d, r, w, b);
    }
};

// Returns the number of mismatching outputs over `trials` random inputs; with `flip`, one weight
// bit is flipped for DenseXnor only (the count must then be non-zero).
template <unsigned NIN, unsigned NOUT, unsigned RF> int run(int trials, bool flip) {
    typedef cfg<NIN, NOUT, RF, RF == 1 ? nnet::latency : nnet::resource> C;
    static bit_t w[NIN * NOUT], wx[NIN * NOUT], d[NIN];
    typename C::bias_t b[NOUT];
    res_t r1[NOUT], r2[NOUT];
    for (unsigned i = 0; i < NIN * NOUT; i++) w[i] = wx[i] = rand() & 1;
    for (unsigned o = 0; o < NOUT; o++) b[o] = (int)(rand() % 8) - 4;
    if (flip) wx[(NIN * NOUT) / 3] = !wx[(NIN * NOUT) / 3];
    int bad = 0;
    for (int t = 0; t < trials; t++) {
        for (unsigned i = 0; i < NIN; i++) d[i] = rand() & 1;
        if (flip) for (unsigned i = 0; i < NIN; i++) d[i] = 1;  // every input bit meets the flipped weight
        hls4ml_kernel<C>::dense(d, r1, w, b);
        nnet::DenseXnor<bit_t, res_t, C>::dense(d, r2, wx, b);
        for (unsigned o = 0; o < NOUT; o++) bad += r1[o] != r2[o];
    }
    return bad;
}

int main() {
    srand(1);
    int bad = 0;
CASES
    printf("flipped %d\n", run<72, 8, 24>(1, true));
    return 0;
}
'''


@pytest.fixture(scope='module')
def harness(tmp_path_factory):
    if shutil.which('g++') is None:
        pytest.skip('g++ is not installed')
    tpl = Path(hls4ml.__file__).parent / 'templates' / 'vivado'
    d = tmp_path_factory.mktemp('xnor')
    (d / 'nnet_utils').mkdir()
    shutil.copytree(tpl / 'nnet_utils', d / 'nnet_utils', dirs_exist_ok=True)
    shutil.copyfile(HEADER_PATH, d / 'nnet_utils' / HEADER_PATH.name)
    cases = '\n'.join(f'    printf("case {n} {m} {r} %d\\n", run<{n}, {m}, {r}>(20, false));' for n, m, r in CASES)
    (d / 'h.cpp').write_text(HARNESS.replace('CASES', cases))
    subprocess.run(['g++', '-O1', '-std=c++14', f'-I{tpl / "ap_types"}', f'-I{d}', 'h.cpp', '-o', 'h'], cwd=d,
                   check=True, capture_output=True)
    out = subprocess.run([str(d / 'h')], check=True, capture_output=True, text=True).stdout
    return dict(line.rsplit(' ', 1) for line in out.strip().splitlines())


@pytest.mark.parametrize('n_in,n_out,rf', CASES)
def test_xnor_kernel_equals_hls4ml_binary_kernels(harness, n_in, n_out, rf):
    assert harness[f'case {n_in} {n_out} {rf}'] == '0'


def test_a_flipped_weight_bit_changes_the_xnor_kernel_output(harness):
    assert int(harness['flipped']) > 0


def test_lowered_project_uses_the_xnor_kernel_in_every_binary_conv_only(small_lowered):
    from hw.hls.project_edit import structs
    from hw.hls.xnor_kernel import _BINARY_PRODUCT
    params = (Path(small_lowered) / 'hls4ml_prj' / 'firmware' / 'parameters.h').read_text()
    binary = {name for name, a, b in structs(params) if _BINARY_PRODUCT in params[a:b]}
    assert binary and set(xnor_layers(Path(small_lowered) / 'hls4ml_prj')) == binary
    assert (Path(small_lowered) / 'hls4ml_prj' / 'firmware' / 'nnet_utils' / HEADER_PATH.name).is_file()


def test_a_binary_struct_without_a_known_kernel_line_stops_the_edit(small_lowered, tmp_path):
    from quant_models.common import HsbinetError
    prj = tmp_path / 'prj'
    shutil.copytree(Path(small_lowered) / 'hls4ml_prj' / 'firmware', prj / 'firmware')
    params = prj / 'firmware' / 'parameters.h'
    params.write_text(params.read_text().replace('nnet::DenseXnor<', 'nnet::SomethingElse<', 1))
    with pytest.raises(HsbinetError, match='XNOR-popcount'):
        use_xnor_kernels(prj)


def test_no_scale_or_bias_array_of_the_lowered_project_is_frame_sized(small_lowered):
    """hsbinet_per_channel_scale (hw/hls/ext/passes.py): hls4ml broadcasts each Quant's scale to the
    whole tensor (18 arrays of 16 x 16 x 8 in this project without the pass); every BatchNormalization
    / ApplyAlpha array is one value per channel, and its config indexes it per channel."""
    fw = Path(small_lowered) / 'hls4ml_prj' / 'firmware'
    shapes = {p.name: p.read_text().splitlines()[0] for p in sorted((fw / 'weights').glob('[sb]*.h'))}
    assert shapes and all(line.count(',') == 0 for line in shapes.values()), shapes
    assert 'n_filt = -1;' not in (fw / 'parameters.h').read_text()

"""Give the binary convs of the written project an XNOR-popcount dense kernel (``nnet::DenseXnor``).

Why this exists: hls4ml lowers a 1-bit x 1-bit conv as one ``both_binary`` product (``a == w``) and
one ``ap_fixed`` add per weight, in DenseLatency or, folded, in DenseResource. That is the right
arithmetic but a poor shape: the C-simulation spends about 96 % of its time there, one bit at a
time (a 128 x 128 patch at B = 191, C = 64 took 212-300 s), and the folded hardware is a
multiplexer per product in front of an adder tree. ``nnet_hsbinet_xnor.h`` is the kernel binary
networks are built with (FINN's matrix-vector unit): the fold's input bits and weight bits packed
into 64-bit words, XOR, popcount, accumulate, PE = n_out / NF lanes of SIMD = n_in / SF bits per
cycle for a reuse factor R = NF x SF at II = 1. The header says why its sums equal hls4ml's bit
for bit; the C-simulation's verdict checks it on every run.

The edit, after ``hm.write()``:

* ``firmware/nnet_utils/nnet_hsbinet_xnor.h`` (this folder's file) is copied into the project and
  included from ``firmware/parameters.h``;
* in every dense config struct whose product is ``nnet::product::both_binary`` (the binary convs;
  fixed-point layers keep hls4ml's kernels), the ``using kernel = nnet::DenseLatency`` or
  ``nnet::DenseResource_*`` line names ``nnet::DenseXnor``.

Each edited struct must hold exactly one kernel line of those hls4ml kernels, so an hls4ml version
that writes its configs differently stops the lower step rather than shipping an unpatched design.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from hw.hls.project_edit import add_include, structs
from quant_models.common import HsbinetError

HEADER = 'nnet_hsbinet_xnor.h'
HEADER_PATH = Path(__file__).resolve().with_name(HEADER)
KERNEL = 'nnet::DenseXnor'
_BINARY_PRODUCT = 'using product = nnet::product::both_binary<x_T, y_T>;'
_HLS4ML_KERNEL = re.compile(r'using kernel = nnet::(DenseLatency|DenseResource_rf_leq_nin|DenseResource_rf_gt_nin_rem0|'
                            r'DenseResource_rf_gt_nin)<data_T, res_T, CONFIG_T>;')


def use_xnor_kernels(prj: str | Path) -> list[str]:
    """Name :data:`KERNEL` in every binary conv's dense config of the written project ``prj``;
    returns the edited struct names (none: the project has no binary layer and is left as it is)."""
    fw = Path(prj) / 'firmware'
    params_path = fw / 'parameters.h'
    params = params_path.read_text()
    edited, pieces, last = [], [], 0
    for name, start, end in structs(params):
        body = params[start:end]
        if _BINARY_PRODUCT not in body:
            continue
        if f'using kernel = {KERNEL}<' in body:  # edited before (the edit is idempotent)
            edited.append(name)
            continue
        kernels = _HLS4ML_KERNEL.findall(body)
        if len(kernels) != 1:
            raise HsbinetError('Cannot give a binary layer the XNOR-popcount kernel', key=name, file=str(params_path),
                               expected='one hls4ml DenseLatency/DenseResource kernel line in the struct',
                               found=f'{len(kernels)}', hint='the hls4ml version writes its configs differently; '
                               'see hw/hls/xnor_kernel.py')
        pieces += [params[last:start], _HLS4ML_KERNEL.sub(f'using kernel = {KERNEL}<data_T, res_T, CONFIG_T>;', body)]
        last = end
        edited.append(name)
    if not edited:
        return []
    params = add_include(''.join(pieces) + params[last:], HEADER, params_path)
    shutil.copyfile(HEADER_PATH, fw / 'nnet_utils' / HEADER)
    params_path.write_text(params)
    return edited


def xnor_layers(prj: str | Path) -> list[str]:
    """Config structs of the project that use :data:`KERNEL` (for checks and tests)."""
    params = (Path(prj) / 'firmware' / 'parameters.h').read_text()
    return [name for name, start, end in structs(params) if f'using kernel = {KERNEL}<' in params[start:end]]

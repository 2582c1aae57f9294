"""Bind the products of chosen fixed-point conv layers to DSP48 slices in the written project.

Why this exists: hls4ml picks a layer's product implementation itself
(``FPGABackend.product_type``: ``mult`` for fixed-point operands) and offers no per-layer binding
knob, and Vitis HLS builds an 8 x 8-bit product in fabric (about 30-40 LUTs with its adder)
while 2,760 DSP48E2 slices of an XQRKU060 stay idle. The int8 B <-> C projections of HS-BiNet are
about a quarter of the design's LUTs that way. The folding plan (:mod:`hw.estimates.folding`,
``mult_impl``) names the layers to bind; this module makes the project say so:

* ``firmware/nnet_utils/nnet_hsbinet_mult.h`` defines ``nnet::product::mult_dsp``, hls4ml's
  ``mult`` with the product held in a variable bound to a DSP by pragma (``BIND_OP impl=dsp`` for
  Vitis HLS, ``RESOURCE core=DSP48`` for Vivado HLS). The arithmetic is the same C++ expression
  ``a * w``, so C-simulation (g++ ignores the pragmas) computes exactly what ``mult`` computes;
* ``firmware/parameters.h`` includes that header, and the ``using product = ...`` line of each
  chosen layer's dense (``config<N>_mult``) struct names ``mult_dsp``. The struct is found from the
  layer's function call in ``firmware/<project>.cpp`` (hls4ml ends it with ``// <layer name>``).

Every edit is checked (exactly one product line per layer, of hls4ml's ``mult``), so an hls4ml
version that writes its configs differently stops the lower step instead of shipping an unbound
design; the analytical model counts the bound layers' products as DSPs (``attrs.mult_impl``).
"""

from __future__ import annotations

import re
from pathlib import Path

from hw.hls.project_edit import add_include, structs
from quant_models.common import HsbinetError

HEADER = 'nnet_hsbinet_mult.h'
HEADER_TEXT = """#ifndef NNET_HSBINET_MULT_H_
#define NNET_HSBINET_MULT_H_
// Written by hsbinet (hw/hls/dsp_binding.py): hls4ml's nnet::product::mult with the product bound to
// a DSP48 slice. Same C++ arithmetic as mult; the pragmas only choose the hardware resource.
#include "nnet_mult.h"

namespace nnet {
namespace product {

template <class x_T, class w_T> class mult_dsp : public Product {
  public:
    static auto product(x_T a, w_T w) -> decltype(a * w) {
        #pragma HLS INLINE
        decltype(a * w) p = a * w;
#ifdef __VITIS_HLS__
        #pragma HLS BIND_OP variable=p op=mul impl=dsp
#else
        #pragma HLS RESOURCE variable=p core=DSP48
#endif
        return p;
    }
};

} // namespace product
} // namespace nnet

#endif
"""
_PRODUCT = 'using product = nnet::product::mult<x_T, y_T>;'
_PRODUCT_DSP = 'using product = nnet::product::mult_dsp<x_T, y_T>;'


def _config_of(top_cpp: str, layer: str) -> str:
    """The config struct name of ``layer``'s function call in the top function's source."""
    hits = re.findall(r'nnet::\w+<[^;]*?,\s*(config\w+)>\([^;]*\);\s*//\s*' + re.escape(layer) + r'\s*$', top_cpp,
                      flags=re.M)
    if len(hits) != 1:
        raise HsbinetError('Cannot find the layer\'s call in the hls4ml project', key=layer,
                           expected='one nnet:: call ending in "// ' + layer + '"', found=f'{len(hits)} calls',
                           hint='the hls4ml version writes its top function differently; see hw/hls/dsp_binding.py')
    return hits[0]


def bind_dsp_products(prj: str | Path, project: str, layers) -> list[str]:
    """Bind the products of ``layers`` (hls4ml layer names) to DSP48s in the written project ``prj``
    (see the module docstring); returns the edited config struct names. No layers: no change."""
    layers = sorted(layers)
    if not layers:
        return []
    fw = Path(prj) / 'firmware'
    params_path = fw / 'parameters.h'
    params = params_path.read_text()
    top = (fw / f'{project}.cpp').read_text()
    edited = []
    for layer in layers:
        cfg = _config_of(top, layer)
        found = [(start, end) for name, start, end in structs(params) if name == f'{cfg}_mult']
        start, end = found[0] if found else (0, 0)
        body = params[start:end]
        if body.count(_PRODUCT) != 1:
            raise HsbinetError('Cannot bind the layer\'s products to DSP48s', key=layer, file=str(params_path),
                               expected=f'one "{_PRODUCT}" in struct {cfg}_mult',
                               found=f'{body.count(_PRODUCT)} (struct {"found" if found else "missing"})',
                               hint='only fixed-point (mult) layers can be bound; see hw/hls/dsp_binding.py')
        params = params[:start] + body.replace(_PRODUCT, _PRODUCT_DSP) + params[end:]
        edited.append(f'{cfg}_mult')
    params = add_include(params, HEADER, params_path)
    (fw / 'nnet_utils' / HEADER).write_text(HEADER_TEXT)
    params_path.write_text(params)
    return edited


def bound_layers(prj: str | Path, project: str) -> list[str]:
    """Config structs of the project whose products are bound to DSP48s (for checks and tests)."""
    params = (Path(prj) / 'firmware' / 'parameters.h').read_text()
    return [name for name, start, end in structs(params) if _PRODUCT_DSP in params[start:end]]

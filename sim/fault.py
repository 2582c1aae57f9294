"""Fault injection: a copy of a lowered hls4ml project with one weight bit flipped.

The bit-exact check must be able to fail. :func:`inject_weight_fault` copies the project (never the
one that ships) and flips the least-significant bit of the first weight of one layer in both files
hls4ml wrote for it: ``firmware/weights/<w>.txt`` (read by the C-simulation, which is built with
``WEIGHTS_DIR``) and ``firmware/weights/<w>.h`` (read by synthesis). By default the layer is the
last one with fixed-point weights, the decoder's int8 C -> B projection: it reaches every output
pixel linearly, so the flip cannot hide behind a later binarisation.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from hw.design import BUILD_PRODUCTS
from quant_models.common import HsbinetError

_FIXED = re.compile(r'u?fixed<\s*(\d+)\s*,\s*(-?\d+)')
_NUMBER = re.compile(r'-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?')


def _flip_first(text: str, start: int, lsb: float) -> tuple[str, float, float]:
    m = _NUMBER.search(text, start)
    old = float(m.group(0))
    new = (round(old / lsb) ^ 1) * lsb  # flip bit 0 of the stored integer
    decimals = len(m.group(0).split('.')[1]) if '.' in m.group(0) else 0
    return text[:m.start()] + f'{new:.{max(decimals, 1)}f}' + text[m.end():], old, new


def inject_weight_fault(prj_dir: str | Path, design: dict, out_dir: str | Path, layer_name: str | None = None) -> dict:
    """Copy ``prj_dir`` to ``out_dir`` and flip one weight bit there; returns what was flipped.

    ``layer_name`` picks another layer with fixed-point weights (hls4ml name, from design.json).
    """
    candidates = [(lay, w) for lay in reversed(design['layers']) for w in lay['weights'].values()
                  if _FIXED.search(w.get('precision', '')) and w['shape'] and (layer_name in (None, lay['name']))]
    if not candidates:
        raise HsbinetError('No fixed-point weight found to inject a fault into', key=layer_name or 'design.json layers')
    layer, w = candidates[0]
    width, integer = (int(v) for v in _FIXED.search(w['precision']).groups())
    lsb = 2.0 ** -(width - integer)
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    shutil.copytree(prj_dir, out_dir, ignore=shutil.ignore_patterns(*(f'*{s}' for s in BUILD_PRODUCTS)))
    wdir = out_dir / 'firmware' / 'weights'
    txt, hdr = wdir / f'{w["variable"]}.txt', wdir / f'{w["variable"]}.h'
    new_txt, old, new = _flip_first(txt.read_text(), 0, lsb)
    txt.write_text(new_txt)
    h = hdr.read_text()
    h, old_h, _ = _flip_first(h, h.index('{', h.index('#else')) + 1, lsb)  # the synthesis initialiser
    hdr.write_text(h)
    if old_h != old:
        raise RuntimeError(f'{txt} and {hdr} disagree on the first weight: {old!r} vs {old_h!r}')
    return {'layer': layer['name'], 'module': layer.get('module'), 'weight': w['variable'], 'index': 0,
            'from': old, 'to': new, 'bit': 0, 'precision': w['precision'], 'project': str(out_dir)}

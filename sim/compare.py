"""Element-for-element comparison in the fixed-point domain, and the verdict it produces.

Arrays are compared as integers: each value is multiplied by 2^frac_bits of the hardware output
type (e.g. 14 for fixed<16,2>) and must be an integer there; two arrays agree when those integers
are equal everywhere (``np.array_equal``). There is no tolerance.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from quant_models.common import atomic_write_text


class NotOnGridError(ValueError):
    """An array that should hold fixed-point values has a value off the 2^-frac_bits grid."""


def to_fixed_ints(x: np.ndarray, frac_bits: int, name: str) -> np.ndarray:
    """``x * 2^frac_bits`` as int64; raises NotOnGridError naming the first off-grid element."""
    scaled = np.asarray(x, dtype=np.float64) * float(2 ** frac_bits)
    ints = np.round(scaled)
    off = np.flatnonzero(ints != scaled)
    if off.size:
        i = np.unravel_index(off[0], scaled.shape)
        raise NotOnGridError(f'{name}: {off.size} values are not multiples of 2^-{frac_bits}; first at index '
                             f'{tuple(int(v) for v in i)}: {float(np.asarray(x)[i])!r}')
    return ints.astype(np.int64)


@dataclass
class Comparison:
    """Result of comparing two arrays of the same shape (layout stated by the caller)."""

    reference: str
    candidate: str
    elements: int
    mismatches: int
    first_index: list[int] | None = None
    reference_value: float | None = None
    candidate_value: float | None = None
    max_abs_diff: float = 0.0

    @property
    def exact(self) -> bool:
        return self.mismatches == 0


def compare_exact(ref: np.ndarray, cand: np.ndarray, frac_bits: int, ref_name: str, cand_name: str) -> Comparison:
    """Compare two arrays in the fixed-point domain (2^-frac_bits grid)."""
    ref, cand = np.asarray(ref), np.asarray(cand)
    if ref.shape != cand.shape:
        raise ValueError(f'{ref_name} has shape {ref.shape} but {cand_name} has shape {cand.shape}')
    a = to_fixed_ints(ref, frac_bits, ref_name)
    b = to_fixed_ints(cand, frac_bits, cand_name)
    if np.array_equal(a, b):
        return Comparison(ref_name, cand_name, int(a.size), 0)
    diff = np.flatnonzero(a != b)
    i = np.unravel_index(diff[0], a.shape)
    return Comparison(ref_name, cand_name, int(a.size), int(diff.size), [int(v) for v in i],
                      float(ref[i]), float(cand[i]), float(np.abs(a - b).max()) / 2 ** frac_bits)


def verdict(comparisons: list[Comparison], patches: int, layout: str, frac_bits: int,
            first_layer: dict | None = None) -> dict:
    """The bit-exact verdict: ``bit_exact`` only if every comparison has zero mismatches.

    ``elements``/``mismatches`` are summed over the comparisons; ``first_mismatch`` describes the
    first failing comparison (index in ``layout``, both values, and, when a layer trace located it,
    the first differing layer: hls4ml ``layer``, ``onnx_node`` and PyTorch ``module``).
    """
    bad = [c for c in comparisons if not c.exact]
    out = {
        'bit_exact': not bad and bool(comparisons), 'patches': patches,
        'elements': sum(c.elements for c in comparisons), 'mismatches': sum(c.mismatches for c in comparisons),
        'layout': layout, 'grid': f'2^-{frac_bits}', 'comparisons': [asdict(c) for c in comparisons],
        'first_mismatch': None,
    }
    if bad:
        c = bad[0]
        out['first_mismatch'] = {'between': [c.reference, c.candidate], 'index': c.first_index,
                                 'reference_value': c.reference_value, 'candidate_value': c.candidate_value,
                                 'layer': None, 'onnx_node': None, 'module': None}
        if first_layer:
            out['first_mismatch'].update({k: first_layer.get(k) for k in ('layer', 'onnx_node', 'module')})
    return out


def write_verdict(path: str | Path, data: dict) -> Path:
    """Write the verdict JSON atomically (a half-written verdict never exists)."""
    return atomic_write_text(path, json.dumps(data, indent=2))


def format_summary(v: dict) -> str:
    """Human-readable summary of a verdict dict."""
    lines = [f'bit_exact: {str(v["bit_exact"]).lower()}  ({v["patches"]} patches, {v["elements"]:,} elements, '
             f'{v["mismatches"]:,} mismatches, compared on the {v["grid"]} grid, layout {v["layout"]})']
    for c in v['comparisons']:
        state = 'equal' if c['mismatches'] == 0 else f'{c["mismatches"]:,} mismatches'
        lines.append(f'  {c["reference"]:>10} vs {c["candidate"]:<10} {state}')
    fm = v.get('first_mismatch')
    if fm:
        where = f' in layer {fm["layer"]}' if fm.get('layer') else ''
        if fm.get('module'):
            where += f' (PyTorch {fm["module"]})'
        lines.append(f'  first mismatch{where} at index {fm["index"]}: {fm["between"][0]}={fm["reference_value"]!r} '
                     f'{fm["between"][1]}={fm["candidate_value"]!r}')
    g = v.get('golden_float32')  # the lower step's bounds (hw.hls.bounds.golden_float32)
    if g:
        lines.append('  float32 golden model: exact by construction' if g['exact'] else
                     f'  float32 golden model: not exact by construction ({", ".join(g["inexact_layers"])}); '
                     f'these patches are what was verified')
    return '\n'.join(lines)

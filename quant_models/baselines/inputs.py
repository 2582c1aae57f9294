"""Input checks shared by the baselines: shapes (H, W, B) / (H, W), ratio, finite values."""

from __future__ import annotations

import numpy as np

from quant_models.common import HsbinetError


def _finite(name: str, a: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(a)):
        raise HsbinetError(f'{name} contains non-finite values', key=name,
                           expected='finite values only',
                           found=f'{int(a.size - np.count_nonzero(np.isfinite(a)))} NaN/inf values '
                                 f'in an array of shape {a.shape}')
    return a


def check_inputs(ms, pan, lms, ratio) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """float64 copies of ``ms`` (h, w, B), ``pan`` (H, W), ``lms`` (H, W, B) and ``ratio`` as int.

    Raises:
        HsbinetError: a wrong rank, ``ratio`` not an integer >= 2, PAN/LMS grids that differ,
            ``(H, W) != ratio * (h, w)``, band counts that differ, NaN/inf values.
    """
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float, np.integer, np.floating)) \
            or int(ratio) != ratio or ratio < 2:
        raise HsbinetError('Invalid resolution ratio for pan-sharpening', key='ratio',
                           expected='an integer >= 2', found=repr(ratio))
    r = int(ratio)
    m = np.asarray(ms, dtype=np.float64)
    p = np.asarray(pan, dtype=np.float64)
    lo = np.asarray(lms, dtype=np.float64)
    for name, a, rank, layout in (('ms', m, 3, '(h, w, B)'), ('pan', p, 2, '(H, W)'),
                                  ('lms', lo, 3, '(H, W, B)')):
        if a.ndim != rank:
            raise HsbinetError(f'{name} has the wrong rank', key=name,
                               expected=f'an array of shape {layout}', found=f'shape {a.shape}')
    if lo.shape[:2] != p.shape:
        raise HsbinetError('LMS and PAN must share the PAN grid', key='lms/pan',
                           expected=f'lms of shape {p.shape + (m.shape[2],)}',
                           found=f'lms {lo.shape} vs pan {p.shape}')
    if p.shape != (m.shape[0] * r, m.shape[1] * r):
        raise HsbinetError('PAN is not ratio times the MS size', key='ms/pan',
                           expected=f'pan of shape {(m.shape[0] * r, m.shape[1] * r)} for ms '
                                    f'{m.shape} at ratio {r}',
                           found=f'pan {p.shape}')
    if lo.shape[2] != m.shape[2]:
        raise HsbinetError('MS and LMS band counts differ', key='ms/lms',
                           expected=f'{m.shape[2]} bands in lms', found=f'lms {lo.shape}')
    return _finite('ms', m), _finite('pan', p), _finite('lms', lo), r

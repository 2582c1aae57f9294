"""Pan-sharpening quality indices, as the pan-sharpening toolboxes define them.

Conventions follow Vivone's pansharpening toolbox / DLPan-Toolbox / HyperPanCollection (see
:data:`CONVENTIONS`, which callers copy into ``metrics.json``).

Array layout
------------
Every image is a numpy array in **band-first** layout ``(B, H, W)`` (bands, rows, columns).  A
batch ``(N, B, H, W)`` is accepted by :func:`reference_metrics`, :func:`no_reference_metrics` and
:func:`batch_mean`: the index is computed per image and the per-image results are averaged (the
HyperPanCollection convention).  A PAN image is ``(H, W)`` or ``(1, H, W)``.  Everything is
computed in float64.

Modules
-------
- :mod:`.reference`: reduced-resolution (Wald's protocol) indices against a reference:
  :func:`psnr` [dB] (per band: :func:`psnr_per_band`), :func:`cc`, :func:`ssim`, :func:`sam`
  [degrees], :func:`ergas`, and :func:`reference_metrics` (all five).
- :mod:`.q_index`: the block-averaged universal quality index Q (:func:`q_index`,
  :func:`q_index_pairwise`) that the full-resolution indices are built on.
- :mod:`.full_resolution`: no-reference (full-resolution, Alparone et al. 2008) indices
  :func:`d_lambda`, :func:`d_s`, :func:`qnr`, the degraded PAN :func:`degrade_pan`, and
  :func:`no_reference_metrics` (all three).
- :mod:`.inputs`: input checks (:class:`MetricInputError`) and per-image batching
  (:func:`batch_mean`).
- :mod:`.conventions`: :data:`CONVENTIONS`, the definitions above in words.

Invalid inputs (shape mismatch, wrong number of dimensions, non-finite values, bad ratio) raise
:class:`MetricInputError`, which is both a :class:`ValueError` and a
:class:`~quant_models.common.HsbinetError` (so the CLI prints one paragraph, no traceback).
"""

from quant_models.metrics.conventions import CONVENTIONS
from quant_models.metrics.full_resolution import (PAN_GNYQ, PAN_TAPS, d_lambda, d_s, degrade_pan,
                                                  no_reference_metrics, qnr)
from quant_models.metrics.inputs import MetricInputError, batch_mean
from quant_models.metrics.q_index import Q_BLOCK, q_index, q_index_pairwise
from quant_models.metrics.reference import (SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WIN, cc, ergas, psnr,
                                            psnr_per_band, reference_metrics, sam, ssim)

__all__ = [
    'CONVENTIONS', 'MetricInputError', 'psnr', 'psnr_per_band', 'cc', 'ssim', 'sam', 'ergas',
    'q_index', 'q_index_pairwise', 'degrade_pan', 'd_lambda', 'd_s', 'qnr', 'reference_metrics',
    'no_reference_metrics', 'batch_mean', 'Q_BLOCK', 'PAN_GNYQ', 'PAN_TAPS', 'SSIM_WIN',
    'SSIM_SIGMA', 'SSIM_K1', 'SSIM_K2',
]

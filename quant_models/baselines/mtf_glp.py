"""MTF-GLP with regression injection gains (Aiazzi et al. 2006; toolbox ``GS2_GLP.m``).

The additive generalised-Laplacian-pyramid fusion with an MTF-matched low-pass, in (H, W, B)
float64:

1. equalise the PAN to every band by mean/std matching (toolbox ``MTF_GLP.m``):
   ``P_k = (P - mean P) * std(LMS_k) / std(P) + mean(LMS_k)``;
2. low-pass it as the MS were made: MTF-filter, sample at the block centres and interpolate back
   with the LMS's bicubic (:func:`pan_lowpass`); ``PL_k`` is the same affine map of ``PL``;
3. regression gains ``g_k = cov(LMS_k, PL_k) / var(PL_k)``
   (:func:`~quant_models.baselines.regression.injection_gains`);
4. ``fused_k = LMS_k + g_k (P_k - PL_k)``.

The toolboxes decimate with ``imresize(.., 'nearest')`` and interpolate with ``interp23tap``;
here the decimation phase and the interpolation are those of the reduced-resolution data
(:mod:`quant_models.data.wald`, *Geometry*), so ``PL`` and ``LMS`` are degraded identically and
``P - PL`` is the detail LMS lacks, on its grid. With regression gains the result is invariant to
the equalisation (an affine change of ``P`` scales ``g_k`` inversely); it makes ``g_k``
dimensionless, 1 being plain MTF-GLP's unit gain. A flat PAN carries no detail: the result is
LMS.
"""

from __future__ import annotations

import numpy as np

from quant_models.baselines.inputs import check_inputs
from quant_models.baselines.regression import injection_gains, is_flat
from quant_models.data.wald import bicubic_upsample, decimate


def pan_lowpass(pan: np.ndarray, ratio: int, gnyq: float = 0.3, taps: int = 41) -> np.ndarray:
    """The PAN (H, W) degraded like the MS and interpolated back like the LMS: (H, W) float64.

    :func:`quant_models.data.wald.decimate` (MTF ``gnyq``/``taps``, block-centre samples) then
    :func:`quant_models.data.wald.bicubic_upsample`. Linear, and a constant stays constant.
    """
    low = decimate(np.asarray(pan, dtype=np.float64)[:, :, None], ratio, gnyq, taps)
    return bicubic_upsample(low, ratio)[:, :, 0]


def mtf_glp(ms, pan, lms, ratio: int, gnyq: float = 0.3, taps: int = 41) -> np.ndarray:
    """MTF-GLP-fused image (H, W, B) float64 from ``ms`` (h, w, B), ``pan`` (H, W), ``lms``
    (H, W, B); ``gnyq``/``taps`` set the PAN's low-pass (:func:`pan_lowpass`).

    ``ms`` only fixes the geometry (checked against PAN and LMS): the method injects into LMS.

    Raises:
        HsbinetError: inputs that :func:`quant_models.baselines.inputs.check_inputs` rejects.
    """
    ms, pan, lms, ratio = check_inputs(ms, pan, lms, ratio)
    if is_flat(pan):
        return lms
    scale = lms.std(axis=(0, 1)) / pan.std()                    # (B,) equalisation
    offset = lms.mean(axis=(0, 1)) - scale * pan.mean()
    pan_eq = pan[:, :, None] * scale + offset
    low_eq = pan_lowpass(pan, ratio, gnyq, taps)[:, :, None] * scale + offset
    return lms + injection_gains(lms, low_eq) * (pan_eq - low_eq)

"""GSA: Gram-Schmidt adaptive component substitution (Aiazzi, Baronti & Selva 2007).

As the pan-sharpening toolbox's ``GSA.m`` (Vivone et al. 2015), in (H, W, B) float64:

1. remove each band's mean from LMS (``lms0``) and MS (``ms0``), and the PAN's mean (``pan0``);
2. degrade ``pan0`` to the MS grid and regress it on the MS bands with a constant (least
   squares, :func:`~quant_models.baselines.regression.intensity_weights`): weights ``w``;
3. synthetic intensity ``I = sum_k w_k lms0_k + w_B``, then ``I0 = I - mean(I)``;
4. injection gains ``g_k = cov(lms0_k, I0) / var(I0)`` (:func:`injection_gains`);
5. ``fused_k = lms0_k + g_k (pan0 - I0)``, and finally each band's mean is set to LMS's.

The toolbox degrades the PAN for step 2 with a Starck-Murtagh low-pass and ``imresize(..,
'nearest')``; here it is degraded exactly as the MS were (:func:`quant_models.data.wald.decimate`:
the scene's MTF, block-centre sampling), so the regression relates PAN and MS at the same
resolution and on the same grid. The toolbox does no PAN histogram matching in GSA: the
regression absorbs the PAN's gain and offset (the result is invariant to an affine change of the
PAN). A flat PAN carries no detail: the result is LMS.
"""

from __future__ import annotations

import numpy as np

from quant_models.baselines.inputs import check_inputs
from quant_models.baselines.regression import injection_gains, intensity_weights, is_flat
from quant_models.data.wald import decimate


def gsa(ms, pan, lms, ratio: int, gnyq: float = 0.3, taps: int = 41) -> np.ndarray:
    """GSA-fused image (H, W, B) float64 from ``ms`` (h, w, B), ``pan`` (H, W), ``lms`` (H, W, B).

    ``gnyq``/``taps`` set the MTF used to degrade the PAN (:func:`quant_models.data.wald.decimate`).

    Raises:
        HsbinetError: inputs that :func:`quant_models.baselines.inputs.check_inputs` rejects.
    """
    ms, pan, lms, ratio = check_inputs(ms, pan, lms, ratio)
    if is_flat(pan):
        return lms
    lms_mean = lms.mean(axis=(0, 1))
    lms0 = lms - lms_mean
    ms0 = ms - ms.mean(axis=(0, 1))
    pan0 = pan - pan.mean()
    pan_lr = decimate(pan0[:, :, None], ratio, gnyq, taps)[:, :, 0]
    w = intensity_weights(ms0, pan_lr)
    i0 = lms0 @ w[:-1] + w[-1]
    i0 -= i0.mean()
    fused = lms0 + injection_gains(lms0, i0) * (pan0 - i0)[:, :, None]
    return fused - fused.mean(axis=(0, 1)) + lms_mean

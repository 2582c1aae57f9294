"""Classical pan-sharpening baselines, as the pan-sharpening toolboxes define them.

A model is worth flying only if it beats what a payload could run for almost nothing
(``DESIGN.md``, *The quality bar*): these methods, bicubic interpolation (the LMS) and bilinear
interpolation (the hardware upsampler). Every method is one module and one function with the
same signature::

    fused = method(ms, pan, lms, ratio, gnyq=0.3, taps=41)

* ``ms``  (h, w, B): the low-resolution MS/HS image;
* ``pan`` (H, W): the panchromatic image, ``H = ratio * h``, ``W = ratio * w``;
* ``lms`` (H, W, B): MS interpolated to the PAN grid (the data's bicubic LMS);
* ``ratio``: integer PAN/MS resolution ratio; ``gnyq``, ``taps``: the scene's MTF (gain at the
  MS Nyquist frequency, filter size), used wherever a method degrades the PAN;
* returns the fused image (H, W, B), float64, in the units of ``ms``/``lms``.

Image layout (H, W, B) as :mod:`quant_models.data.wald`; all arithmetic in float64, deterministic.
The PAN is degraded with :func:`quant_models.data.wald.decimate` and interpolated back with
:func:`quant_models.data.wald.bicubic_upsample`, i.e. with the same MTF, decimation phase (block
centre) and interpolation as the reduced-resolution data, so PAN detail is injected on the grid
of LMS and GT.

Modules: :mod:`.gsa` (Gram-Schmidt adaptive, Aiazzi et al. 2007), :mod:`.mtf_glp` (MTF-matched
generalised Laplacian pyramid with regression injection gains, Aiazzi et al. 2006),
:mod:`.regression` (the least-squares weights and gains both use), :mod:`.inputs` (checks).
"""

from quant_models.baselines.gsa import gsa
from quant_models.baselines.mtf_glp import mtf_glp, pan_lowpass

#: name -> fusion function, in the order the evaluation reports them.
BASELINES = {'gsa': gsa, 'mtf_glp': mtf_glp}

__all__ = ['BASELINES', 'gsa', 'mtf_glp', 'pan_lowpass']

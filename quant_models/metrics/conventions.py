"""The definitions of every index in words (:data:`CONVENTIONS`), copied into ``metrics.json``.

The numbers in the text are those of :mod:`quant_models.metrics.reference`
(``SSIM_*``), :mod:`quant_models.metrics.q_index` (``Q_BLOCK``) and
:mod:`quant_models.metrics.full_resolution` (``PAN_GNYQ``, ``PAN_TAPS``).
"""

CONVENTIONS = (
    "Layout: arrays are band-first (B,H,W), float64; a batch (N,B,H,W) is scored per image and "
    "the per-image values are averaged. "
    "PSNR [dB]: per band 10*log10(L_b^2/MSE_b) with L_b = max of the reference band (unless a "
    "scalar data_range is given), averaged over bands; a band with MSE 0 gives +inf. "
    "CC: Pearson correlation per band, averaged over bands (a zero-variance band scores 1 if "
    "reference and output are identical there, else 0). "
    "SSIM: Wang et al. 2004 per band, Gaussian window 11x11 sigma 1.5, K1=0.01, K2=0.03, "
    "population (biased) local moments, L_b = max-min of the reference band (1.0 if that is 0, "
    "or a scalar data_range), mean over the 'valid' part of the SSIM map (5-pixel border "
    "dropped; whole map when H or W < 11), averaged over bands. "
    "SAM [degrees]: per-pixel angle arccos(<r,o>/(|r||o|)) (cosine clipped to [-1,1]), averaged "
    "over pixels; pixels where either spectrum has zero norm are excluded (0 if none is left). "
    "ERGAS: 100/ratio*sqrt(mean_b(MSE_b/mu_b^2)), mu_b = mean of the reference band, ratio = "
    "PAN/MS resolution ratio. "
    "Q (UIQI, Wang-Bovik 2002): 4*cov*mx*my/((vx+vy)*(mx^2+my^2)) on non-overlapping 32x32 "
    "blocks (toolbox blockproc; trailing partial blocks dropped, whole image if smaller), "
    "averaged over blocks; degenerate blocks: vx+vy=0 -> 2*mx*my/(mx^2+my^2), mx^2+my^2=0 -> "
    "2*cov/(vx+vy), both 0 -> 1. "
    "D_lambda (p=1): (mean over band pairs i<j of |Q(F_i,F_j) - Q(MS_i,MS_j)|^p)^(1/p); F on "
    "32-pixel blocks, MS at its own (low) resolution on 32/ratio-pixel blocks (original QNR "
    "paper), or on 32-pixel blocks when MS is given already upsampled to the PAN grid "
    "(toolbox 1.0). "
    "D_s (q=1): (mean_b |Q(F_b,P) - Q(MS_b,P_LR)|^q)^(1/q), P_LR = PAN degraded as the MS are "
    "(quant_models.data.wald.decimate: the toolbox genMTF filter, 41 taps, Gaussian response of gain "
    "0.3 at the low-resolution Nyquist 1/(2*ratio), Kaiser-windowed, edge-replicate, sampled at the "
    "block centres j*ratio+(ratio-1)/2); low-passed on the PAN grid, not decimated, when MS is given "
    "on the PAN grid. "
    "QNR = (1-D_lambda)^alpha * (1-D_s)^beta, alpha = beta = 1."
)

"""Figures for pan-sharpening results (PNG files).

Every plotting function takes band-first float cubes ``(B, H, W)`` (or, for curves, per-band or
per-epoch series), writes one PNG atomically (parent folders created) and returns its
:class:`pathlib.Path`.  Figures are drawn on
:class:`matplotlib.figure.Figure` objects with the Agg canvas directly, so importing this module
neither needs a display nor changes pyplot's global backend, and nothing is left open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from quant_models.common import atomic_write

__all__ = ['RGB_TARGETS_NM', 'RGB_FRACTIONS', 'rgb_bands', 'stretch_limits', 'pseudo_colour',
           'comparison_png', 'error_map_png', 'band_psnr_png', 'spectral_curves_png',
           'training_curves_png', 'choose_pixels']

# Target wavelengths of the R, G, B display channels.
RGB_TARGETS_NM = (650.0, 550.0, 450.0)
# Without wavelengths: R, G, B bands at these fractions of the band range (index 0 .. B-1).
RGB_FRACTIONS = (0.75, 0.5, 0.25)
# Percentile stretch of the pseudo-colour images.
STRETCH_PERCENTILES = (2.0, 98.0)
DPI = 110


def _cube(x, name='cube') -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f'{name} must be a band-first cube (B, H, W); got shape {a.shape}')
    return a


def _save(fig: Figure, path) -> Path:
    FigureCanvasAgg(fig)
    return atomic_write(path, lambda p: fig.savefig(p, format='png', dpi=DPI))


def rgb_bands(wavelengths_nm: Sequence[float] | None, n_bands: int) -> tuple[int, int, int]:
    """(r, g, b) band indices for a pseudo-colour composite.

    With wavelengths (one per band, nm): the bands nearest to 650 / 550 / 450 nm.  Without: the
    bands at fractions 0.75 / 0.5 / 0.25 of the index range ``0 .. n_bands-1``.
    """
    n = int(n_bands)
    if n < 1:
        raise ValueError(f'n_bands must be >= 1; got {n_bands}')
    if wavelengths_nm is not None:
        wl = np.asarray(wavelengths_nm, dtype=np.float64).ravel()
        if wl.size != n:
            raise ValueError(f'{wl.size} wavelengths given for {n} bands')
        return tuple(int(np.argmin(np.abs(wl - t))) for t in RGB_TARGETS_NM)
    return tuple(int(round(f * (n - 1))) for f in RGB_FRACTIONS)


def stretch_limits(cube, bands: Sequence[int]) -> np.ndarray:
    """(3, 2) array of per-channel (low, high) = 2nd / 98th percentiles of the chosen bands."""
    c = _cube(cube)
    lo_p, hi_p = STRETCH_PERCENTILES
    lim = np.empty((len(bands), 2))
    for i, b in enumerate(bands):
        lo, hi = np.percentile(c[b], [lo_p, hi_p])
        if not hi > lo:
            hi = lo + 1.0
        lim[i] = lo, hi
    return lim


def _rgb(cube, bands, limits) -> np.ndarray:
    c = _cube(cube)
    img = np.stack([c[b] for b in bands], axis=-1)
    img = (img - limits[:, 0]) / (limits[:, 1] - limits[:, 0])
    return np.clip(img, 0.0, 1.0)


def pseudo_colour(cube, bands: Sequence[int], path, title: str | None = None) -> Path:
    """Pseudo-colour PNG of ``cube`` using bands (r, g, b), 2%-98% stretch per channel."""
    c = _cube(cube)
    bands = tuple(int(b) for b in bands)
    img = _rgb(c, bands, stretch_limits(c, bands))
    H, W = c.shape[1:]
    fig = Figure(figsize=(max(3.0, 4.0 * W / max(H, W)), max(3.0, 4.0 * H / max(H, W)) + 0.4))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(img, interpolation='nearest')
    ax.set_axis_off()
    ax.set_title(title if title is not None else f'bands (R,G,B) = {bands}, 2-98% stretch',
                 fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def comparison_png(panels: Mapping[str, np.ndarray], bands: Sequence[int], path,
                   reference: str | None = None, title: str | None = None) -> Path:
    """Side-by-side pseudo-colour panels (e.g. LR-upsampled | model | reference).

    All panels use the SAME stretch, computed from the reference panel: ``panels[reference]``,
    else a panel named 'reference' / 'ref' / 'gt' (case-insensitive), else the last panel.
    Panels may have different sizes (an LR cube is shown on its own grid).
    """
    if not panels:
        raise ValueError('comparison_png needs at least one panel')
    cubes = {k: _cube(v, k) for k, v in panels.items()}
    if reference is None:
        lowered = {k.lower(): k for k in cubes}
        reference = next((lowered[n] for n in ('reference', 'ref', 'gt') if n in lowered),
                         list(cubes)[-1])
    if reference not in cubes:
        raise ValueError(f'reference panel {reference!r} not among {list(cubes)}')
    bands = tuple(int(b) for b in bands)
    limits = stretch_limits(cubes[reference], bands)
    n = len(cubes)
    fig = Figure(figsize=(3.2 * n, 3.6))
    for i, (name, c) in enumerate(cubes.items()):
        ax = fig.add_subplot(1, n, i + 1)
        ax.imshow(_rgb(c, bands, limits), interpolation='nearest')
        ax.set_title(f'{name} ({c.shape[1]}x{c.shape[2]})', fontsize=9)
        ax.set_axis_off()
    fig.suptitle(title if title is not None else
                 f'bands (R,G,B) = {bands}; 2-98% stretch of {reference!r} for all panels',
                 fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def error_map_png(ref, out, path, units: str = 'data units', title: str | None = None) -> Path:
    """Per-pixel mean absolute error over bands, with a colourbar; units in the title.

    ``out`` is one cube, or a mapping name -> cube for one panel per method: every panel then
    uses the SAME colour scale (0 .. the 99.5th percentile of all panels' errors), so the maps
    compare directly.
    """
    r = _cube(ref, 'ref')
    outs = {k: _cube(v, k) for k, v in out.items()} if isinstance(out, Mapping) else {None: _cube(out, 'out')}
    if not outs:
        raise ValueError('error_map_png needs at least one output cube')
    for k, o in outs.items():
        if r.shape != o.shape:
            raise ValueError(f'ref and {k or "out"} must have the same shape; got {r.shape} vs {o.shape}')
    maes = {k: np.mean(np.abs(r - o), axis=0) for k, o in outs.items()}
    every = np.concatenate([m.ravel() for m in maes.values()])
    vmax = float(np.percentile(every, 99.5)) if np.any(every > 0) else 1.0
    n = len(maes)
    fig = Figure(figsize=(5.6 if n == 1 else 3.4 * n + 1.0, 4.6 if n == 1 else 3.8),
                 layout='constrained')
    axes = [fig.add_subplot(1, n, i + 1) for i in range(n)]
    for ax, (name, mae) in zip(axes, maes.items()):
        im = ax.imshow(mae, cmap='inferno', vmin=0.0, vmax=vmax if vmax > 0 else 1.0,
                       interpolation='nearest')
        ax.set_axis_off()
        stats = f'mean {mae.mean():.4g}, max {mae.max():.4g}'
        ax.set_title(stats if name is None else f'{name}\n{stats}', fontsize=9)
    cb = fig.colorbar(im, ax=axes)
    cb.set_label(f'|ref - out| averaged over {r.shape[0]} bands [{units}]', fontsize=8)
    head = title if title is not None else 'Mean absolute error over bands'
    scale = 'one scale for all panels, ' if n > 1 else ''
    fig.suptitle(f'{head} [{units}]; {scale}scale to 99.5th pct', fontsize=9)
    return _save(fig, path)


def band_psnr_png(curves: Mapping[str, np.ndarray], wavelengths_nm: Sequence[float] | None,
                  path, title: str | None = None) -> Path:
    """PSNR [dB] of every band, one curve per method (name -> (B,) values), against the band's
    wavelength [nm] (or band index without wavelengths). Infinite values (exact bands) are not drawn.
    """
    if not curves:
        raise ValueError('band_psnr_png needs at least one curve')
    ys = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in curves.items()}
    sizes = {v.size for v in ys.values()}
    if len(sizes) != 1:
        raise ValueError(f'every curve needs the same number of bands; got {sorted(sizes)}')
    B = sizes.pop()
    xs, xlabel = _spectral_axis(wavelengths_nm, B)
    fig = Figure(figsize=(7.5, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    for name, y in ys.items():
        finite = np.isfinite(y)
        ax.plot(xs[finite], y[finite], lw=1.2, label=f'{name} (mean {np.mean(y):.2f} dB)')
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel('PSNR [dB]', fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title if title is not None else 'PSNR per band (reference max per band)', fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def _spectral_axis(wavelengths_nm: Sequence[float] | None, bands: int) -> tuple[np.ndarray, str]:
    """x values and label of a per-band plot: wavelengths in nm when known, else band indices."""
    if wavelengths_nm is None:
        return np.arange(bands), 'band index'
    xs = np.asarray(wavelengths_nm, dtype=np.float64).ravel()
    if xs.size != bands:
        raise ValueError(f'{xs.size} wavelengths given for {bands} bands')
    return xs, 'wavelength [nm]'


def spectral_curves_png(ref, out_dict: Mapping[str, np.ndarray], pixels: Sequence[tuple[int, int]],
                        wavelengths_nm: Sequence[float] | None, path,
                        units: str = 'data units') -> Path:
    """One subplot per pixel (y, x): the reference spectrum and each method's spectrum."""
    r = _cube(ref, 'ref')
    outs = {k: _cube(v, k) for k, v in out_dict.items()}
    for k, v in outs.items():
        if v.shape != r.shape:
            raise ValueError(f'{k} must have the reference shape {r.shape}; got {v.shape}')
    if not pixels:
        raise ValueError('spectral_curves_png needs at least one pixel')
    B, H, W = r.shape
    xs, xlabel = _spectral_axis(wavelengths_nm, B)
    n = len(pixels)
    ncol = min(n, 3)
    nrow = -(-n // ncol)
    fig = Figure(figsize=(4.2 * ncol, 3.2 * nrow))
    for i, (y, x) in enumerate(pixels):
        y, x = int(y), int(x)
        if not (0 <= y < H and 0 <= x < W):
            raise ValueError(f'pixel {(y, x)} outside the {H}x{W} image')
        ax = fig.add_subplot(nrow, ncol, i + 1)
        ax.plot(xs, r[:, y, x], color='black', lw=2.0, label='reference')
        for name, c in outs.items():
            ax.plot(xs, c[:, y, x], lw=1.0, label=name)
        ax.set_title(f'pixel (y={y}, x={x})', fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(units, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def training_curves_png(history: Sequence[Mapping], path) -> Path:
    """Loss curves (train / val, log scale when positive) and learning rate per epoch.

    ``history`` is a list of dicts with keys ``epoch``, ``train_loss``, ``val_loss``, ``lr``; a
    missing or None value is skipped.
    """
    if not history:
        raise ValueError('training_curves_png needs a non-empty history')

    def series(key):
        pts = [(h.get('epoch', i), h.get(key)) for i, h in enumerate(history)]
        pts = [(float(e), float(v)) for e, v in pts if v is not None and np.isfinite(v)]
        return (np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))

    fig = Figure(figsize=(9.0, 3.6))
    ax = fig.add_subplot(1, 2, 1)
    plotted = []
    for key, style in (('train_loss', '-o'), ('val_loss', '-s')):
        e, v = series(key)
        if e.size:
            ax.plot(e, v, style, ms=3, label=key.replace('_', ' '))
            plotted.append(v)
    if plotted and all(np.all(v > 0) for v in plotted):
        ax.set_yscale('log')
    ax.set_xlabel('epoch')
    ax.set_ylabel('loss')
    ax.set_title('loss', fontsize=9)
    ax.grid(alpha=0.3)
    if plotted:
        ax.legend(fontsize=8)
    ax2 = fig.add_subplot(1, 2, 2)
    e, v = series('lr')
    if e.size:
        ax2.plot(e, v, '-', color='tab:green')
        if np.all(v > 0):
            ax2.set_yscale('log')
    ax2.set_xlabel('epoch')
    ax2.set_ylabel('learning rate')
    ax2.set_title('learning rate', fontsize=9)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def choose_pixels(ref, n: int = 3, seed: int = 0, margin: int | None = None) -> list[tuple[int, int]]:
    """``n`` deterministic, well-separated pixels (y, x) of a (B, H, W) cube (fewer if the image
    has fewer distinct pixels).

    Draws 256 candidates (seeded) away from the border (``margin`` = 1/8 of the size by
    default), starts with the candidate of largest spectral norm and then adds, one at a time,
    the candidate farthest (Euclidean, in pixels) from those already chosen.  The same cube,
    ``n`` and ``seed`` always give the same pixels.
    """
    c = _cube(ref, 'ref')
    _, H, W = c.shape
    n = int(n)
    if n < 1:
        return []
    if margin is None:
        margin = min(H, W) // 8
    y0, y1 = (margin, H - margin) if H - 2 * margin > 0 else (0, H)
    x0, x1 = (margin, W - margin) if W - 2 * margin > 0 else (0, W)
    rng = np.random.default_rng(seed)
    total = (y1 - y0) * (x1 - x0)
    k = min(256, total)
    flat = rng.choice(total, size=k, replace=False)
    cand = np.stack([y0 + flat // (x1 - x0), x0 + flat % (x1 - x0)], axis=1)
    norms = np.linalg.norm(c[:, cand[:, 0], cand[:, 1]], axis=0)
    chosen = [int(np.argmax(norms))]
    dist = np.linalg.norm(cand - cand[chosen[0]], axis=1)
    while len(chosen) < min(n, k):
        nxt = int(np.argmax(dist))
        if dist[nxt] == 0:
            break
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(cand - cand[nxt], axis=1))
    return [(int(cand[i, 0]), int(cand[i, 1])) for i in chosen]

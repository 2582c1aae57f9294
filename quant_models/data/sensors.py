"""Multispectral sensors synthesised from a hyperspectral cube (``data.sensor``).

S2BNet and BNNPan are multispectral pan-sharpeners (4-band QuickBird/GaoFen-2, 8-band WorldView).
With ``data.sensor`` set, Wald's protocol runs on a multispectral reference made from the
hyperspectral cube with that sensor's band passes, and the PAN is made from the hyperspectral cube
with the sensor's panchromatic band pass: the MS-pan-sharpening setting on real spectra.

Band passes: rectangular between the published band edges of each sensor's datasheet (the
50 %-response edges; the measured relative spectral response curves are published as tables by the
vendors but are not available here): every hyperspectral band whose centre wavelength lies in
[lo, hi] nm gets the same weight, the weights of a band summing to 1, so a multispectral value is
the mean radiance/reflectance over its pass band (the [0, 1] range is kept). A sensor band that no
hyperspectral band falls into is refused (the cube does not cover it), and so is a cube without
wavelengths.
"""

from __future__ import annotations

import numpy as np

from quant_models.common import HsbinetError

#: name -> bands [(name, lo_nm, hi_nm)], PAN (lo_nm, hi_nm), the source of the edges.
SENSORS = {
    'worldview3': {
        'bands': [('coastal', 400, 450), ('blue', 450, 510), ('green', 510, 580), ('yellow', 585, 625),
                  ('red', 630, 690), ('red_edge', 705, 745), ('nir1', 770, 895), ('nir2', 860, 1040)],
        'pan': (450, 800),
        'source': 'DigitalGlobe WorldView-3 datasheet, VNIR multispectral and panchromatic band edges',
    },
    'quickbird': {
        'bands': [('blue', 450, 520), ('green', 520, 600), ('red', 630, 690), ('nir', 760, 900)],
        'pan': (450, 900),
        'source': 'DigitalGlobe QuickBird datasheet, multispectral and panchromatic band edges',
    },
}


def _rect(wl: np.ndarray, lo: float, hi: float) -> np.ndarray:
    inside = (wl >= lo) & (wl <= hi)
    return inside.astype(np.float64) / max(int(inside.sum()), 1)


def sensor_responses(sensor: str, wavelengths_nm, source: str = 'the cube') -> dict:
    """The band-pass weights of ``sensor`` on a cube's band centres.

    Returns ``{'weights': (K, B) float64 (rows sum to 1), 'pan_weights': (B,), 'names': [K],
    'centres_nm': (K,), 'source': str}``. Raises :class:`HsbinetError` for an unknown sensor, a
    cube without wavelengths, or a sensor band (or the PAN band) the cube does not cover.
    """
    if sensor not in SENSORS:
        raise HsbinetError('Unknown multispectral sensor', key='data.sensor', expected=' or '.join(SENSORS),
                           found=repr(sensor))
    if wavelengths_nm is None:
        raise HsbinetError('A multispectral sensor needs the cube\'s band wavelengths', file=source,
                           key='data.sensor', expected='a cube with band centres in nm (ENVI header, '
                           'GeoTIFF metadata, the embedded indian_pines)', found='no wavelengths',
                           hint='drop data.sensor to pan-sharpen the hyperspectral cube itself')
    wl = np.asarray(wavelengths_nm, dtype=np.float64).reshape(-1)
    spec = SENSORS[sensor]
    rows, missing = [], []
    for name, lo, hi in spec['bands']:
        w = _rect(wl, lo, hi)
        if not w.any():
            missing.append(f'{name} {lo}-{hi} nm')
        rows.append(w)
    pan = _rect(wl, *spec['pan'])
    if not pan.any():
        missing.append(f'PAN {spec["pan"][0]}-{spec["pan"][1]} nm')
    if missing:
        raise HsbinetError(f'The cube does not cover every band of {sensor}', file=source, key='data.sensor',
                           expected='hyperspectral bands inside ' + ', '.join(missing),
                           found=f'band centres {wl.min():.0f}-{wl.max():.0f} nm ({wl.size} bands)')
    return {'weights': np.stack(rows), 'pan_weights': pan, 'names': [b[0] for b in spec['bands']],
            'centres_nm': np.array([(lo + hi) / 2 for _, lo, hi in spec['bands']], dtype=np.float64),
            'source': spec['source']}


def synthesize(cube: np.ndarray, responses: dict) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, B) hyperspectral -> ((H, W, K) multispectral, (H, W) PAN), float32, by the weights of
    :func:`sensor_responses`."""
    c = np.asarray(cube, dtype=np.float64)
    ms = np.tensordot(c, responses['weights'], axes=([2], [1])).astype(np.float32)
    pan = np.tensordot(c, responses['pan_weights'], axes=([2], [0])).astype(np.float32)
    return ms, pan

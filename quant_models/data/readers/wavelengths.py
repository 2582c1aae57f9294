"""Band centres read from a sensor header, converted to nanometres.

ENVI headers give ``wavelength = {...}`` with ``wavelength units`` (``Micrometers``,
``Nanometers``, ...); GDAL exposes the same per band as the items ``wavelength`` and
``wavelength_units`` and, since GDAL 3.10, as ``CENTRAL_WAVELENGTH_UM`` in the ``IMAGERY``
metadata domain. :func:`to_nanometres` turns any of these into the float64 (B,) vector in nm that
:func:`quant_models.data.wald.pan_spectral_response` expects.

Units: nanometres x1, micrometres/microns x1000, millimetres x1e6, centimetres x1e7, metres x1e9,
wavenumber (cm^-1) -> 1e7 / value. Without units (or ``Unknown``) the rule of
:func:`quant_models.data.readers.keys.find_wavelengths` applies: values below 30 are micrometres,
others nanometres, and the words returned say the unit was assumed. Units that are not a
wavelength (``Index``, ``GHz``, ``MHz``) give no wavelengths (and the words say why).
"""

from __future__ import annotations

import re

import numpy as np

from quant_models.common import HsbinetError


_NM_PER_UNIT = {
    'nanometers': 1.0, 'nanometer': 1.0, 'nanometres': 1.0, 'nanometre': 1.0, 'nm': 1.0,
    'micrometers': 1e3, 'micrometer': 1e3, 'micrometres': 1e3, 'micrometre': 1e3, 'microns': 1e3,
    'micron': 1e3, 'um': 1e3, '\u00b5m': 1e3, '\u03bcm': 1e3,
    'millimeters': 1e6, 'millimeter': 1e6, 'millimetres': 1e6, 'millimetre': 1e6, 'mm': 1e6,
    'centimeters': 1e7, 'centimeter': 1e7, 'centimetres': 1e7, 'centimetre': 1e7, 'cm': 1e7,
    'meters': 1e9, 'meter': 1e9, 'metres': 1e9, 'metre': 1e9, 'm': 1e9,
}
_WAVENUMBER = ('wavenumber', 'wavenumbers', 'cm-1', 'cm^-1', '1/cm')
_NOT_WAVELENGTH = ('index', 'ghz', 'mhz', 'khz', 'hz')
_UNKNOWN = ('', 'unknown', 'none')

#: "450.5 nm", "0.45 um", "Band 3 (1.2 micrometers)": a number followed by a length unit.
DESCRIPTION_WAVELENGTH = re.compile(
    r'([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*(nm|nanomet(?:er|re)s?|um|\u00b5m|\u03bcm|'
    r'micromet(?:er|re)s?|microns?)(?![a-z])', re.IGNORECASE)


def unit_key(units) -> str:
    """Lower-case, stripped unit text (``None`` -> ``''``)."""
    return '' if units is None else str(units).strip().strip('{}').strip().lower()


def to_nanometres(values, units, n_bands: int, file: str, key: str
                  ) -> tuple[np.ndarray | None, str]:
    """Band centres ``values`` in ``units`` as float64 (B,) nanometres, plus how they were read.

    Args:
        values: sequence of numbers or numeric strings (one per band).
        units: the header's unit text (``None`` when absent).
        n_bands: B of the cube; the list must have exactly this many entries.
        file, key: for error messages (the header file and the field name).

    Returns:
        (wavelengths in nm or ``None`` for a non-wavelength unit, words).

    Raises:
        HsbinetError: an entry is not a number, the count differs from B, a value is not finite
            or not positive, or the unit is not one this module knows.
    """
    raw = list(values)
    try:
        v = np.array([float(str(x).strip()) for x in raw], dtype=np.float64)
    except ValueError:
        bad = next(str(x) for x in raw if not _is_float(x))
        raise HsbinetError('Wavelength list has an entry that is not a number', file=file, key=key,
                           expected='one number per band', found=f'{bad!r} among {len(raw)} '
                                                                 'entries') from None
    if v.size != n_bands:
        raise HsbinetError('Wavelength list does not match the band count', file=file, key=key,
                           expected=f'{n_bands} band centres (one per band)',
                           found=f'{v.size} values',
                           hint='fix or remove the wavelength field; the PAN spectral response '
                                'is built from it')
    if not np.all(np.isfinite(v)) or not np.all(v > 0):
        n_bad = int(np.count_nonzero(~np.isfinite(v) | ~(v > 0)))
        raise HsbinetError('Wavelength list has values that are not positive finite numbers',
                           file=file, key=key, expected='positive finite band centres',
                           found=f'{n_bad} of {v.size} values (e.g. {v[~(np.isfinite(v) & (v > 0))][0]!r})')
    u = unit_key(units)
    shown = str(units).strip() if units is not None else None
    if u in _NM_PER_UNIT:
        f = _NM_PER_UNIT[u]
        how = f'{key} in {shown!r}' + ('' if f == 1.0 else f' (x{f:g} -> nm)')
        return v * f, how
    if u in _WAVENUMBER:
        return 1e7 / v, f'{key} in {shown!r} (wavenumber cm^-1: 1e7 / value -> nm)'
    if u in _NOT_WAVELENGTH:
        return None, f'{key} in {shown!r} is not a wavelength: no wavelengths'
    if u in _UNKNOWN:
        if v.max() < 30:
            return v * 1000.0, (f'{key} without a known unit ({shown!r}): values < 30 taken as '
                                'micrometres (x1000 -> nm)')
        return v, f'{key} without a known unit ({shown!r}): values >= 30 taken as nanometres'
    raise HsbinetError('Unknown wavelength unit', file=file, key=f'{key} units',
                       expected='Nanometers, Micrometers (um, microns), Millimeters, '
                                'Centimeters, Meters, Wavenumber, Index or Unknown',
                       found=repr(shown))


def _is_float(x) -> bool:
    try:
        float(str(x).strip())
        return True
    except ValueError:
        return False

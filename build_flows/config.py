"""One typed build configuration: every option of every step, one default each, one merge.

A config is YAML in the style of hls4ml/FINN build configs: top-level ``scene`` and ``seed`` and
one section per stage (``data``, ``model``, ``train``, ``hw``). Defaults live in the dataclasses
below (``model`` and ``train`` are the model's and the trainer's own dataclasses); the embedded
demo config ``configs/default.yaml`` overlays them, a user's YAML overlays that, and CLI options
overlay last (:func:`load_config`, the only place they are merged). Unknown keys, wrong types
and out-of-range values are refused with one paragraph (file, key, expected vs found).

Dataclasses with explicit checks rather than pydantic: the model and trainer sections are the
dataclasses of ``quant_models`` (which must not depend on a validation library), and the few
types used (int, float, str, bool, optional, fixed-length tuples) need a 40-line checker.
"""

from __future__ import annotations

import copy
import types
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import yaml

from hw.estimates.explore import MULTIPLIER_POLICIES
from hw.parts import DEFAULT_CLOCK_MHZ, DEFAULT_PART, get_part
from quant_models.common import HsbinetError
from quant_models.archs import config_class
from quant_models.hsbinet import HSBiNetConfig
from quant_models.train import TrainConfig

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs'
DEFAULT_CONFIG = CONFIG_DIR / 'default.yaml'


@dataclass
class DataConfig:
    """Wald's-protocol simulation and patching (sizes in PAN pixels), see quant_models.data.prepare.

    ``stride``: train stride (None: patch/4); ``augment``: 8 dihedral flips/rotations at train time;
    ``sensor``: None (the hyperspectral cube) or a multispectral sensor (quant_models.data.sensors).
    """
    ratio: int = 4
    gnyq: float = 0.3
    patch: int = 32
    test_patch: int = 64
    stride: int | None = None
    val_fraction: float = 0.15
    test_fraction: float = 0.25
    augment: bool = True
    sensor: str | None = None   # multispectral setting: worldview3 (8 bands) | quickbird (4) from the cube's spectra


@dataclass
class HwConfig:
    """The accelerator: target part and clock (MHz), hls4ml backend, folding, C-simulated patches.

    ``band_multiple``, ``tdata_bits``, ``tlast``: the core's band padding and the AXI4-Stream
    adapter around it (hw/hls/axis.py). ``multipliers``: which fixed-point conv products the
    folding may bind to DSP48s by pragma (hw/hls/dsp_binding.py, hw.estimates.explore.multiplier_variants).
    ``folding``: ``fit`` (the fastest balanced folding that fits ``part``, or with ``target_mpx``
    the cheapest that reaches that many Mpixel/s of PAN), ``none`` (reuse 1 everywhere) or the path
    of a folding file (``folding.json`` of a build, ``explore.json`` of ``hsbinet explore``); every
    choice also writes branch-balancing FIFO depths (hw.estimates.folding).
    """
    part: str = DEFAULT_PART
    clock_mhz: float = DEFAULT_CLOCK_MHZ
    backend: str = 'Vitis'
    folding: str = 'fit'
    target_mpx: float | None = None
    patches: int = 4
    band_multiple: int = 8      # the core's bands: B rounded up to this multiple (zero bands, exact)
    tdata_bits: int = 512       # AXI4-Stream TDATA width of the adapter around the core
    tlast: str = 'line'         # TLAST on the last beat of every row ('line') or of the frame
    workers: int | None = None  # C-simulation worker processes (sim/parallel.py); null: every core
    residual_delay: str = 'lr'  # the global residual delays the LR-HS stream ('lr') or the upsampled cube ('hr')
    multipliers: str = 'auto'   # fixed-point products: auto (DSP48 when that fits) | dsp | fabric (the tool's binding)
    frame: tuple[int, int] | None = None  # [lines, columns] of the accelerator's frame (null: the test patch, square)
    swath_width: int | None = None     # pushbroom swath, PAN columns: the report covers it with frame tiles (hw.estimates.swath)
    line_rate_hz: float | None = None  # the sensor's lines/s: the swath verdict, and the folding target when target_mpx is null


@dataclass
class BuildConfig:
    scene: str = 'indian_pines'
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: HSBiNetConfig = field(default_factory=HSBiNetConfig)  # or the config of another model.arch
    train: TrainConfig = field(default_factory=TrainConfig)
    hw: HwConfig = field(default_factory=HwConfig)
    source: str = str(DEFAULT_CONFIG)  # where the values came from (not a config key)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop('source')
        for k in ('bands', 'ratio'):  # from the data, not the config
            d['model'].pop(k)
        return d


SECTIONS = {'data': DataConfig, 'model': HSBiNetConfig, 'train': TrainConfig, 'hw': HwConfig}
NOT_CONFIGURABLE = {'model': {'bands', 'ratio'}}  # the model takes them from the data


def _type_name(tp) -> str:
    return getattr(tp, '__name__', str(tp)).replace('NoneType', 'null')


def _coerce(value, tp, key: str, src: str):
    """``value`` checked against the annotation ``tp`` (int accepted for float; lists for tuples)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for a in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, a, key, src)
            except HsbinetError:
                continue
    elif origin is tuple:
        if isinstance(value, (list, tuple)) and (args[-1] is Ellipsis or len(value) == len(args)):
            items = args[:1] * len(value) if args[-1] is Ellipsis else args
            return tuple(_coerce(v, a, f'{key}[{i}]', src) for i, (v, a) in enumerate(zip(value, items)))
    elif tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    elif tp in (int, str, bool) and type(value) is tp:
        return value
    raise HsbinetError('Config value of the wrong type', file=src, key=key, expected=_type_name(tp),
                       found=f'{value!r} ({type(value).__name__})')


def _section(cls, values, name: str, src: str):
    if not isinstance(values, dict):
        raise HsbinetError('Config section must be a mapping', file=src, key=name, found=repr(values))
    hints = typing.get_type_hints(cls)
    allowed = {f.name for f in fields(cls)} - NOT_CONFIGURABLE.get(name, set())
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise HsbinetError('Unknown config key', file=src, key=f'{name}.{unknown[0]}',
                           expected='one of ' + ', '.join(sorted(allowed)), found=', '.join(unknown))
    return cls(**{k: _coerce(v, hints[k], f'{name}.{k}', src) for k, v in values.items()})


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise HsbinetError('Config file not found', file=str(path))
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise HsbinetError('Config file is not valid YAML', file=str(path), found=str(e).replace('\n', ' ')) from None
    if not isinstance(cfg, dict):
        raise HsbinetError('Config must be a mapping of sections', file=str(path), found=type(cfg).__name__)
    return cfg


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _range_checks(cfg: BuildConfig, src: str) -> None:
    def need(ok: bool, key: str, expected: str, found):
        if not ok:
            raise HsbinetError('Config value out of range', file=src, key=key, expected=expected, found=repr(found))
    d, h = cfg.data, cfg.hw
    try:  # the model section's own rules (e.g. S2BNet-style's one scale in hardware) before any step runs
        cfg.model.validate()
    except HsbinetError as e:
        raise HsbinetError(e.what, file=src, key=e.key, expected=e.expected, found=e.found, hint=e.hint) from None
    need(d.ratio >= 2, 'data.ratio', 'an integer >= 2', d.ratio)
    need(0 < d.gnyq < 1, 'data.gnyq', 'a gain in (0, 1)', d.gnyq)
    for k in ('patch', 'test_patch'):
        v = getattr(d, k)
        need(v >= d.ratio and v % d.ratio == 0, f'data.{k}', f'a positive multiple of data.ratio ({d.ratio})', v)
    need(d.stride is None or (d.stride >= d.ratio and d.stride % d.ratio == 0), 'data.stride',
         f'null or a positive multiple of data.ratio ({d.ratio})', d.stride)
    for k in ('val_fraction', 'test_fraction'):
        need(0 < getattr(d, k) < 1, f'data.{k}', 'a fraction in (0, 1)', getattr(d, k))
    from quant_models.data.sensors import SENSORS
    need(d.sensor is None or d.sensor in SENSORS, 'data.sensor', 'null (the hyperspectral cube) or ' + ' or '.join(SENSORS),
         d.sensor)
    need(d.val_fraction + d.test_fraction < 1, 'data.test_fraction',
         f'data.val_fraction + data.test_fraction below 1 (val_fraction {d.val_fraction})', d.test_fraction)
    need(cfg.model.hidden >= 1 and cfg.model.blocks >= 0, 'model.hidden/blocks', 'hidden >= 1, blocks >= 0',
         (cfg.model.hidden, cfg.model.blocks))
    need(getattr(cfg.model, 'attention_rows', 0) >= 0, 'model.attention_rows', '0 (the frame) or a row count >= 1',
         getattr(cfg.model, 'attention_rows', 0))
    need(h.clock_mhz > 0, 'hw.clock_mhz', 'a clock in MHz > 0', h.clock_mhz)
    need(h.backend in ('Vitis', 'Vivado'), 'hw.backend', "'Vitis' or 'Vivado'", h.backend)
    need(h.patches >= 1, 'hw.patches', 'an integer >= 1', h.patches)
    need(h.workers is None or h.workers >= 1, 'hw.workers', 'an integer >= 1 or null (every core)', h.workers)
    need(h.target_mpx is None or h.target_mpx > 0, 'hw.target_mpx', 'Mpixel/s > 0 or null', h.target_mpx)
    need(h.band_multiple >= 1, 'hw.band_multiple', 'an integer >= 1', h.band_multiple)
    need(8 <= h.tdata_bits <= 512 and h.tdata_bits & (h.tdata_bits - 1) == 0, 'hw.tdata_bits',
         'a power of two from 8 to 512 (bits)', h.tdata_bits)
    need(h.tlast in ('line', 'frame'), 'hw.tlast', "'line' or 'frame'", h.tlast)
    need(h.residual_delay in ('lr', 'hr'), 'hw.residual_delay', "'lr' or 'hr'", h.residual_delay)
    need(h.multipliers in MULTIPLIER_POLICIES, 'hw.multipliers', ' or '.join(repr(m) for m in MULTIPLIER_POLICIES),
         h.multipliers)
    need(h.frame is None or all(v >= d.ratio and v % d.ratio == 0 for v in h.frame), 'hw.frame',
         f'null or [lines, columns], each a positive multiple of data.ratio ({d.ratio})', h.frame)
    need(h.swath_width is None or h.swath_width >= 1, 'hw.swath_width', 'null or PAN columns >= 1', h.swath_width)
    need(h.line_rate_hz is None or h.line_rate_hz > 0, 'hw.line_rate_hz', 'null or lines/s > 0', h.line_rate_hz)
    need(h.line_rate_hz is None or h.swath_width is not None, 'hw.line_rate_hz',
         'set together with hw.swath_width (the line rate is of a swath)', h.line_rate_hz)
    need(h.folding in ('fit', 'none') or Path(h.folding).is_file(), 'hw.folding',
         "'fit', 'none' or an existing folding file", h.folding)
    get_part(h.part)  # names the known parts if unknown
    try:
        cfg.train.validate()
    except HsbinetError as e:
        raise HsbinetError(e.what, file=src, key=e.key, expected=e.expected, found=e.found) from None


def load_config(path: str | Path | None = None, overrides: dict | None = None,
                flags: dict[str, str] | None = None) -> BuildConfig:
    """Dataclass defaults <- configs/default.yaml <- ``path`` <- ``overrides`` (nested dict), checked.

    ``flags`` maps a dotted key to the CLI option that set it (``{'hw.clock_mhz': '--clock'}``), so
    that an error about a value from the command line names the option, not a file.
    """
    try:
        return _load(path, overrides)
    except HsbinetError as e:
        given = _dotted(overrides or {})
        if e.key in given:
            flag = (flags or {}).get(e.key)
            raise HsbinetError(e.what, file='command line', key=f'{flag} ({e.key})' if flag else e.key,
                               expected=e.expected, found=e.found, hint=e.hint) from None
        raise


def _dotted(d: dict, prefix: str = '') -> set[str]:
    out = set()
    for k, v in d.items():
        out |= _dotted(v, f'{prefix}{k}.') if isinstance(v, dict) else {f'{prefix}{k}'}
    return out


def _section_class(name: str, raw: dict, src: str):
    """The dataclass of a section: the model section's is the one of its ``arch`` (quant_models.archs)."""
    if name != 'model':
        return SECTIONS[name]
    arch = (raw.get('model') or {}).get('arch', 'hsbinet') if isinstance(raw.get('model'), dict) else 'hsbinet'
    try:
        return config_class(arch)
    except HsbinetError as e:
        raise HsbinetError(e.what, file=src, key=e.key, expected=e.expected, found=e.found) from None


def _load(path, overrides) -> BuildConfig:
    raw = _read_yaml(DEFAULT_CONFIG)
    src = str(DEFAULT_CONFIG)
    if path is not None:
        src = str(path)
        raw = _merge(raw, _read_yaml(Path(path)))
    if overrides:
        raw = _merge(raw, overrides)
    top = {'scene', 'seed', *SECTIONS}
    unknown = sorted(set(raw) - top)
    if unknown:
        raise HsbinetError('Unknown config key', file=src, key=unknown[0], expected='one of ' + ', '.join(sorted(top)),
                           found=', '.join(unknown))
    hints = typing.get_type_hints(BuildConfig)
    cfg = BuildConfig(
        scene=str(_coerce(raw.get('scene', 'indian_pines'), hints['scene'], 'scene', src)),
        seed=_coerce(raw.get('seed', 0), int, 'seed', src),
        **{name: _section(_section_class(name, raw, src), raw.get(name, {}) or {}, name, src)
           for name in SECTIONS}, source=src)
    if 'seed' not in (raw.get('train') or {}):
        cfg.train.seed = cfg.seed
    _range_checks(cfg, src)
    return cfg


def model_config(cfg: BuildConfig, bands: int):
    """The model section + the data's band count and ratio -> the validated config of its arch."""
    return replace(cfg.model, bands=bands, ratio=cfg.data.ratio).validate()

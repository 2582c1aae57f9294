"""YAML build configuration: load, merge with defaults, validate, and split per stage.

A config has top-level keys ``scene``, ``seed`` and one section per stage (``data``, ``model``,
``train``). Unknown keys are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import copy
from dataclasses import fields
from pathlib import Path

import yaml

from quant_models.errors import HsbinetError
from quant_models.hsbinet import HSBiNetConfig
from quant_models.train import TrainConfig

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs'
DEFAULT_CONFIG = CONFIG_DIR / 'default.yaml'
DATA_KEYS = {'ratio', 'gnyq', 'patch', 'test_patch', 'stride', 'val_fraction', 'test_fraction'}
TOP_KEYS = {'scene', 'seed', 'data', 'model', 'train', 'hw'}
HW_KEYS = {'part', 'clock_mhz'}


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


def _check_keys(section: dict, allowed: set[str], where: str, path: str) -> None:
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise HsbinetError('Unknown config key', file=path, key=f'{where}{unknown[0]}',
                           expected='one of ' + ', '.join(sorted(allowed)), found=', '.join(unknown))


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> dict:
    """Default config, overlaid with ``path`` (if given), overlaid with ``overrides``; validated."""
    cfg = _read_yaml(DEFAULT_CONFIG)
    src = str(DEFAULT_CONFIG)
    if path is not None:
        src = str(path)
        cfg = _merge(cfg, _read_yaml(Path(path)))
    if overrides:
        cfg = _merge(cfg, overrides)
    _check_keys(cfg, TOP_KEYS, '', src)
    for sec in ('data', 'model', 'train', 'hw'):
        if not isinstance(cfg.get(sec, {}), dict):
            raise HsbinetError('Config section must be a mapping', file=src, key=sec, found=repr(cfg[sec]))
    _check_keys(cfg['data'], DATA_KEYS, 'data.', src)
    _check_keys(cfg.setdefault('hw', {}), HW_KEYS, 'hw.', src)
    model_keys = {f.name for f in fields(HSBiNetConfig)} - {'bands', 'ratio'}
    _check_keys(cfg['model'], model_keys, 'model.', src)
    _check_keys(cfg['train'], {f.name for f in fields(TrainConfig)}, 'train.', src)
    cfg['_source'] = src
    return cfg


def model_config(cfg: dict, bands: int) -> HSBiNetConfig:
    """Model section + the data's band count and ratio -> validated HSBiNetConfig."""
    return HSBiNetConfig(bands=bands, ratio=int(cfg['data'].get('ratio', 4)), **cfg['model']).validate()


def train_config(cfg: dict) -> TrainConfig:
    t = dict(cfg['train'])
    t.setdefault('seed', cfg.get('seed', 0))
    try:
        return TrainConfig(**t).validate()
    except TypeError as e:
        raise HsbinetError('Bad training config', file=cfg.get('_source'), key='train', found=str(e)) from None

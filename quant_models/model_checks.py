"""The checks every architecture's model configuration shares (``model.arch``, ``model.profile``,
sizes, block count, ``model.binary``): one paragraph per bad value, naming the key."""

from __future__ import annotations

from dataclasses import asdict

from quant_models.common import HsbinetError

PROFILES = ('paper', 'hardware')


def config_dict(cfg) -> dict:
    """A model config dataclass as a stored dict: ``asdict`` with the fixed-point pairs as lists."""
    d = asdict(cfg)
    d['feature_bits'], d['io_bits'] = list(cfg.feature_bits), list(cfg.io_bits)
    return d


def check_common(cfg, arch: str, display: str, sizes: tuple[str, ...] = ('bands', 'hidden', 'ratio')) -> None:
    """Raise :class:`HsbinetError` unless ``cfg.arch == arch``, the profile is known, every field of
    ``sizes`` is >= 1, ``cfg.blocks`` >= 0 and ``cfg.binary`` is a bool. ``display``: the network's
    name in the message."""
    if cfg.arch != arch:
        raise HsbinetError(f'Not an {display} configuration' if display[0] in 'AEIOUH' else
                           f'Not a {display} configuration', key='model.arch', expected=repr(arch),
                           found=repr(cfg.arch))
    if cfg.profile not in PROFILES:
        raise HsbinetError('Unknown model profile', key='model.profile', expected=' or '.join(PROFILES),
                           found=repr(cfg.profile))
    for key in sizes:
        if int(getattr(cfg, key)) < 1:
            raise HsbinetError('Model size must be positive', key=f'model.{key}', expected='an integer >= 1',
                               found=repr(getattr(cfg, key)))
    if cfg.blocks < 0:
        raise HsbinetError('Negative block count', key='model.blocks', expected='>= 0', found=repr(cfg.blocks))
    if not isinstance(cfg.binary, bool):
        raise HsbinetError('model.binary must be true or false', key='model.binary',
                           expected='true (binary network) or false (its full-precision twin)', found=repr(cfg.binary))

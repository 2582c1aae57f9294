"""The checks every architecture's model configuration shares (``model.arch``, ``model.profile``,
sizes, block count, ``model.binary``, the ablation list ``model.changes``): one paragraph per bad
value, naming the key."""

from __future__ import annotations

from dataclasses import asdict

from quant_models.common import HsbinetError

PROFILES = ('paper', 'hardware')


def config_dict(cfg) -> dict:
    """A model config dataclass as a stored dict: ``asdict`` with the fixed-point pairs and the
    ablation list as lists (no ``changes`` key for the profile's own set)."""
    d = asdict(cfg)
    d['feature_bits'], d['io_bits'] = list(cfg.feature_bits), list(cfg.io_bits)
    if cfg.changes is None:
        del d['changes']  # the two plain profiles keep their stored form
    else:
        d['changes'] = list(cfg.changes)
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


def check_changes(cfg, all_changes: tuple[str, ...]) -> None:
    """Validate and normalise ``cfg.changes`` (ablations: hardware-profile changes on top of the
    paper profile) against the architecture's named changes ``all_changes`` (e.g. H1..H7).

    ``None`` = the profile's own set (hardware: all, paper: none). A list becomes a sorted tuple; the
    hardware profile takes only the full set (a lowerable model has every change).
    """
    if cfg.changes is None:
        return
    if isinstance(cfg.changes, str) or not isinstance(cfg.changes, (list, tuple)):
        raise HsbinetError('Bad hardware-profile change list', key='model.changes',
                           expected=f'a list, a subset of {", ".join(all_changes)}', found=repr(cfg.changes))
    if not all(isinstance(c, str) for c in cfg.changes):
        raise HsbinetError('Bad hardware-profile change list', key='model.changes',
                           expected=f'names, a subset of {", ".join(all_changes)}', found=repr(list(cfg.changes)))
    cfg.changes = tuple(sorted(set(cfg.changes)))
    bad = [c for c in cfg.changes if c not in all_changes]
    if bad:
        raise HsbinetError('Unknown hardware-profile change', key='model.changes',
                           expected=f'a subset of {", ".join(all_changes)}', found=', '.join(map(str, bad)))
    if cfg.profile == 'hardware' and cfg.changes != tuple(all_changes):
        raise HsbinetError('The hardware profile has all its changes; ablations start from the paper profile',
                           key='model.changes', expected=f'omitted, or all of {", ".join(all_changes)}',
                           found=', '.join(cfg.changes) or 'none',
                           hint=f'use profile: paper with changes: [{all_changes[0]}, ...] to measure single changes')


def has_change(cfg, change: str, all_changes: tuple[str, ...]) -> bool:
    """Whether hardware-profile change ``change`` applies: never for a name that is not one of the
    architecture's ``all_changes``; else the profile's own set when ``cfg.changes`` is None
    (hardware: all, paper: none), or membership in the list."""
    if change not in all_changes:
        return False
    if cfg.changes is None:
        return cfg.profile == 'hardware'
    return change in cfg.changes

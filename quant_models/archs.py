"""The architectures ``model.arch`` names: their config dataclasses and constructors, in one place.

``hsbinet`` (:mod:`quant_models.hsbinet`, the default), ``s2bnet`` (:mod:`quant_models.s2bnet`,
S2BNet-style) and ``bnnpan`` (:mod:`quant_models.bnnpan`, BNNPan-style). Every stage builds a model through :func:`build_model` and reads a stored model
configuration (a checkpoint's, a graph's) through :func:`model_config_from_dict`, so an
architecture is added here and nowhere else. A configuration without ``arch`` is HS-BiNet's
(checkpoints and graphs written before architectures were selectable).
"""

from __future__ import annotations

from torch import nn

from quant_models.common import HsbinetError
from quant_models.hsbinet import HW_CHANGES, HSBiNet, HSBiNetConfig
from quant_models.bnnpan import BNNPAN_CHANGES, BNNPan, BNNPanConfig
from quant_models.s2bnet import S2B_CHANGES, S2BNet, S2BNetConfig

ARCHS = {'hsbinet': (HSBiNetConfig, HSBiNet), 's2bnet': (S2BNetConfig, S2BNet), 'bnnpan': (BNNPanConfig, BNNPan)}
DISPLAY = {'hsbinet': 'HS-BiNet', 's2bnet': 'S2BNet-style', 'bnnpan': 'BNNPan-style'}
# Each network's named hardware-profile changes (docs/model.md), in order.
CHANGES = {'hsbinet': HW_CHANGES, 's2bnet': S2B_CHANGES, 'bnnpan': BNNPAN_CHANGES}
# The change that puts the ms/pan inputs and the output on the fixed<io_bits> grid (docs/model.md).
IO_GRID_CHANGE = {'hsbinet': 'H6', 's2bnet': 'S7', 'bnnpan': 'B2'}


def config_class(arch: str):
    """The config dataclass of ``arch``; one paragraph naming the known ones otherwise."""
    if arch not in ARCHS:
        raise HsbinetError('Unknown model architecture', key='model.arch', expected=' or '.join(ARCHS),
                           found=repr(arch))
    return ARCHS[arch][0]


def arch_of(cfg) -> str:
    """The ``arch`` of a config dataclass or dict (``'hsbinet'`` when it has none)."""
    return (cfg.get('arch') if isinstance(cfg, dict) else getattr(cfg, 'arch', None)) or 'hsbinet'


def model_config_from_dict(d: dict):
    """A stored model configuration (``to_dict()`` form: lists for tuples) -> validated dataclass."""
    return config_class(arch_of(d))(**{**d, 'arch': arch_of(d)}).validate()


def build_model(cfg) -> nn.Module:
    """The model of a config dataclass or dict (any architecture of :data:`ARCHS`)."""
    if isinstance(cfg, dict):
        cfg = model_config_from_dict(cfg)
    return ARCHS[arch_of(cfg)][1](cfg)


def display_name(cfg) -> str:
    return DISPLAY[arch_of(cfg)]


def has_io_grid(cfg) -> bool:
    """Whether the model takes its ms/pan inputs on the fixed<io_bits> grid (H6, S7 or B2 applied)."""
    return cfg.has(IO_GRID_CHANGE[arch_of(cfg)])

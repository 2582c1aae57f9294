"""benchmarks/profile_cost.py: the models --each trains, per architecture (no training here): the
base first, a second seed of it, one row per change not in the base, the hardware profile last;
every row's model section loads and builds."""

from __future__ import annotations

import pytest

from build_flows.config import load_config
from quant_models.archs import build_model
from tests.conftest import load_benchmark


@pytest.fixture(scope='module')
def bench():
    return load_benchmark('profile_cost')


@pytest.mark.parametrize('arch,base', [('hsbinet', 'paper'), ('s2bnet', 'paper+S6'), ('bnnpan', 'paper')])
def test_each_row_is_one_change_on_the_base(bench, arch, base):
    rows = bench.variants(arch, each=True)
    names = [r[0] for r in rows]
    singles = [c for c in bench.CHANGES[arch] if c not in base]
    assert names == [base, f'{base} seed+1'] + [f'{base}+{c}' for c in singles] + ['hardware']
    for name, over, _ in rows:
        cfg = load_config(None, {'model': {**over, 'arch': arch, 'hidden': 4, 'blocks': 1}})
        model = build_model(cfg.model)
        applied = {c for c in bench.CHANGES[arch] if model.cfg.has(c)}
        expected = set(bench.CHANGES[arch]) if name == 'hardware' else set(name.split(' ')[0].split('+')[1:])
        assert applied == expected, name


def test_s2bnet_unet_base(bench):
    rows = bench.variants('s2bnet', each=False, unet=True)
    assert [r[0] for r in rows] == ['paper', 'hardware'] and rows[0][1]['levels'] == 2


def test_a_finished_model_of_another_setting_is_not_reused(bench, tmp_path):
    from quant_models.common import HsbinetError
    a = {'arch': 'bnnpan', 'bands': 200, 'ratio': 4, 'hidden': 32, 'changes': ['B7']}
    bench._same_model_or_refuse(tmp_path, a, {**a, 'bands': 8})  # the data's bands are not the model's setting
    with pytest.raises(HsbinetError, match='another setting'):
        bench._same_model_or_refuse(tmp_path, a, {**a, 'arch': 'hsbinet'})
    with pytest.raises(HsbinetError, match='another setting'):
        bench._same_model_or_refuse(tmp_path, a, {**a, 'changes': ['B8']})

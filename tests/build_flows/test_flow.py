"""End-to-end flow, exact resume after an interruption, CLI errors without tracebacks."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from build_flows.cli import main
from build_flows.config import load_config, model_config
from build_flows.steps import run
from quant_models.data.prepare import prepare_dataset
from quant_models.common import HsbinetError
from quant_models.train import load_checkpoint, train

TINY = {'model': {'hidden': 8, 'blocks': 1}, 'train': {'epochs': 2, 'time_budget_min': None},
        'data': {'test_patch': 32}}


@pytest.fixture(scope='module')
def indian_pines_data(tmp_path_factory):
    out = tmp_path_factory.mktemp('ip_data')
    prepare_dataset('indian_pines', out, ratio=4, patch=32, test_patch=32, log=lambda s: None)
    return out


def test_resume_after_interruption_reproduces_the_uninterrupted_run(indian_pines_data, tmp_path):
    cfg = load_config(None, {'model': {'hidden': 8, 'blocks': 1}, 'train': {'epochs': 4, 't0': 2,
                                                                            'time_budget_min': None}})
    mcfg, tcfg = model_config(cfg, bands=200), cfg.train
    quiet = {'log': lambda s: None, 'progress': False}
    train(mcfg, tcfg, indian_pines_data, tmp_path / 'full', **quiet)
    first = train(mcfg, tcfg, indian_pines_data, tmp_path / 'cut', stop_after_epochs=2, **quiet)
    assert first['epochs_completed'] == 2
    resumed = train(mcfg, tcfg, indian_pines_data, tmp_path / 'cut', resume=True, **quiet)
    assert resumed['epochs_completed'] == 4
    a = load_checkpoint(tmp_path / 'full' / 'last.pt')
    b = load_checkpoint(tmp_path / 'cut' / 'last.pt')
    assert a['epoch'] == b['epoch'] == 3
    for k, v in a['state_dict'].items():
        assert torch.equal(v, b['state_dict'][k]), k
    assert [h['val_loss'] for h in a['history']] == [h['val_loss'] for h in b['history']]


def test_resume_refuses_a_different_model(indian_pines_data, tmp_path):
    cfg = load_config(None, TINY)
    quiet = {'log': lambda s: None, 'progress': False}
    train(model_config(cfg, 200), cfg.train, indian_pines_data, tmp_path, stop_after_epochs=1, **quiet)
    other = load_config(None, {**TINY, 'model': {'hidden': 16, 'blocks': 1}})
    with pytest.raises(HsbinetError, match='another model configuration'):
        train(model_config(other, 200), other.train, indian_pines_data, tmp_path, resume=True, **quiet)


def test_run_writes_a_complete_build_folder_with_manifest(tmp_path):
    out = tmp_path / 'build'
    man = run(load_config(None, TINY), out=out, log=lambda s: None, progress=False)
    assert man['status'] == 'complete'
    on_disk = json.loads((out / 'manifest.json').read_text())
    assert on_disk['status'] == 'complete'
    assert on_disk['inputs']['scene']['sha256']
    assert on_disk['versions']['torch'].startswith('2.13.0') and on_disk['versions']['brevitas'] == '0.13.4'
    for name, art in on_disk['artifacts'].items():
        p = out / art['path']
        assert p.is_file() and p.stat().st_size == art['bytes'], name
    metrics = json.loads((out / 'eval' / 'metrics.json').read_text())
    assert set(metrics['methods']) == {'hsbinet', 'bicubic', 'bilinear', 'gsa', 'mtf_glp'}
    assert {'psnr', 'cc', 'ssim', 'sam', 'ergas', 'd_lambda', 'd_s', 'qnr'} <= set(metrics['methods']['hsbinet'])
    for png in ('composite', 'error_map', 'spectra', 'training'):
        assert (out / 'eval' / f'{png}.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    # the run ends with the resource/latency report for the default part, recorded in the manifest
    assert on_disk['stages']['report']['part'] == 'XQRKU060'
    assert {'report_json', 'report_md', 'report_png'} <= set(on_disk['artifacts'])
    report = json.loads((out / 'hw' / 'report.json').read_text())
    assert set(report['parts']) == {'XQRKU060', 'ZU9EG', 'XC7Z020'}
    assert set(on_disk['verdicts']['fits']) == set(report['parts'])
    # one design identity: the verdict and the report name the lowered project by the same hash
    design = json.loads((out / 'hw' / 'design.json').read_text())
    assert on_disk['verdicts']['csim']['design_sha256'] == report['design_sha256'] == design['sha256']
    assert design['model']['hidden'] == 8 and design['model']['blocks'] == 1
    # the design that is verified and reported is folded to fit the default part
    assert design['folding']['policy'].startswith('fastest folding that fits XQRKU060')
    assert on_disk['verdicts']['fits']['XQRKU060'] is True and report['folding'] == design['folding']
    assert any(lay['module'] == 'decoder.proj' for lay in design['layers'])
    # every named step ran once, in order
    assert list(on_disk['stages']) == ['data', 'train', 'evaluate', 'export', 'verify_qonnx', 'lower', 'csim', 'report']
    # --from resumes the folder: report again without training, exporting or lowering
    stamp = (out / 'hw' / 'design.json').stat().st_mtime_ns
    man = run(load_config(None, TINY), out=out, start='report', log=lambda s: None, progress=False)
    assert man['status'] == 'complete' and (out / 'hw' / 'design.json').stat().st_mtime_ns == stamp
    assert man['verdicts']['bit_exact'] is True


def test_run_never_deletes_a_folder_that_is_not_a_build_folder(tmp_path):
    (tmp_path / 'precious.txt').write_text('user data')
    with pytest.raises(HsbinetError, match='not an hsbinet build folder'):
        run(load_config(None, TINY), out=tmp_path, log=lambda s: None, progress=False)
    assert (tmp_path / 'precious.txt').read_text() == 'user data'


def test_failed_run_leaves_a_manifest_marked_failed(tmp_path):
    out = tmp_path / 'build'
    with pytest.raises(HsbinetError):
        run(load_config(None, {**TINY, 'scene': str(tmp_path / 'missing.mat')}), out=out, log=lambda s: None,
            progress=False)
    man = json.loads((out / 'manifest.json').read_text())
    assert man['status'] == 'failed' and man['stages']['data']['status'] == 'failed'


def test_unknown_config_key_is_an_error(tmp_path):
    cfg = tmp_path / 'c.yaml'
    cfg.write_text('model:\n  hiden: 32\n')
    with pytest.raises(HsbinetError, match='model.hiden'):
        load_config(cfg)


@pytest.mark.parametrize('text, key', [('model:\n  hidden: eight\n', 'model.hidden'),
                                       ('hw:\n  clock_mhz: fast\n', 'hw.clock_mhz'),
                                       ('hw:\n  clock_mhz: -5\n', 'hw.clock_mhz'),
                                       ('data:\n  patch: 30\n', 'data.patch'),
                                       ('model:\n  io_bits: [16]\n', 'model.io_bits'),
                                       ('hw:\n  part: XYZ\n', '--part'),
                                       ('train:\n  epochs: 0\n', 'train.epochs'),
                                       ('hw:\n  frame: [30, 64]\n', 'hw.frame'),
                                       ('hw:\n  line_rate_hz: 1000\n', 'hw.line_rate_hz'),
                                       ('model:\n  attention_rows: -2\n', 'model.attention_rows'),
                                       ('data:\n  sensor: landsat\n', 'data.sensor'),
                                       ('model:\n  arch: s2bnet\n  attention_rows: 4\n', 'model.attention_rows'),
                                       ('model:\n  arch: s2bnet\n  levels: 2\n', 'model.levels')])
def test_wrong_config_types_and_ranges_are_one_paragraph(tmp_path, text, key):
    cfg = tmp_path / 'c.yaml'
    cfg.write_text(text)
    with pytest.raises(HsbinetError, match=key.replace('.', r'\.')) as e:
        load_config(cfg)
    assert 'Expected' in str(e.value) or 'expected' in str(e.value).lower()


def test_config_defaults_are_one_typed_object():
    cfg = load_config()
    assert cfg.hw.part == 'XQRKU060' and cfg.hw.clock_mhz == 200.0 and isinstance(cfg.model.io_bits, tuple)
    assert load_config(None, {'hw': {'clock_mhz': 150}}).hw.clock_mhz == 150.0  # int accepted for a float


def test_cli_wrong_config_type_exits_2_without_traceback(tmp_path):
    cfg = tmp_path / 'c.yaml'
    cfg.write_text('model:\n  hidden: eight\n')
    r = _cli('train', '--data', str(tmp_path), '--out', str(tmp_path / 'o'), '--config', str(cfg))
    assert r.returncode == 2 and 'Traceback' not in r.stderr and 'model.hidden' in r.stderr


def test_unknown_step_names_are_refused():
    from build_flows.steps import select_steps
    assert select_steps(start='lower', stop='csim') == ['lower', 'csim']
    with pytest.raises(HsbinetError, match='--from'):
        select_steps(start='synth')


def _cli(*args):
    return subprocess.run([sys.executable, '-m', 'build_flows.cli', *args], capture_output=True, text=True,
                          timeout=300)


def test_cli_bad_input_gives_one_paragraph_and_exit_2(tmp_path):
    bad_dir = tmp_path / 'bad'
    bad_dir.mkdir()
    with h5py.File(bad_dir / 'train.h5', 'w') as f:
        f['GT'] = np.zeros((1, 4, 8, 8), np.float32)
        f['LMS'] = np.zeros((1, 4, 8, 8), np.float32)
        f['PAN'] = np.zeros((1, 1, 8, 8), np.float32)  # MS missing
    ckpt_dir = tmp_path / 'ckpt'
    r = _cli('train', '--data', str(bad_dir), '--out', str(ckpt_dir))
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert 'train.h5' in r.stderr and 'MS' in r.stderr  # names the file and the missing dataset
    assert not (ckpt_dir / 'last.pt').exists()
    r = _cli('evaluate', '--checkpoint', str(ckpt_dir / 'none.pt'), '--test', str(bad_dir / 'train.h5'),
             '--out', str(tmp_path / 'e'))
    assert r.returncode == 2
    assert 'Traceback' not in r.stderr and 'none.pt' in r.stderr
    r = _cli('train', '--data', str(tmp_path / 'empty'), '--out', str(ckpt_dir))
    assert r.returncode == 2 and 'Traceback' not in r.stderr and 'train.h5' in r.stderr
    r = _cli('data', '--scene', str(tmp_path / 'nope.mat'), '--out', str(tmp_path / 'd'))
    assert r.returncode == 2 and 'Traceback' not in r.stderr and 'nope.mat' in r.stderr
    assert not (tmp_path / 'd' / 'train.h5').exists()


def test_cli_data_crops_and_says_so(tmp_path, capsys):
    assert main(['data', '--scene', 'indian_pines', '--out', str(tmp_path), '--test-patch', '32']) == 0
    out = capsys.readouterr().out
    assert 'cropped 145x145 -> 144x144' in out
    assert all((tmp_path / f'{s}.h5').is_file() for s in ('train', 'val', 'test'))


def test_evaluate_rejects_a_test_file_with_the_wrong_band_count(indian_pines_data, tmp_path):
    from quant_models.evaluate import evaluate
    from quant_models.hsbinet import HSBiNetConfig
    from quant_models.train import TrainConfig
    cfg = HSBiNetConfig(bands=200, hidden=8, blocks=1)
    train(cfg, TrainConfig(epochs=1), indian_pines_data, tmp_path / 'ck', log=lambda s: None, progress=False)
    from quant_models.data.hpc_format import read_hpc, write_hpc
    d = read_hpc(indian_pines_data / 'test.h5')
    write_hpc(tmp_path / 'fewer.h5', d.gt[:, :100], d.lms[:, :100], d.ms[:, :100], d.pan)
    with pytest.raises(HsbinetError, match='200'):
        evaluate(tmp_path / 'ck' / 'last.pt', tmp_path / 'fewer.h5', tmp_path / 'ev', log=lambda s: None)


@pytest.mark.slow
@pytest.mark.parametrize('arch,name,model', [
    ('s2bnet', 'S2BNet-style', {'hidden': 8, 'blocks': 1, 'levels': 0}),
    ('bnnpan', 'BNNPan-style', {'hidden': 4, 'blocks': 1}),
])
def test_other_architectures_run_bit_exact_with_a_report(tmp_path, arch, name, model):
    # issue 12: the hardware profiles of S2BNet-style and BNNPan-style (Haar DWT/IDWT extension
    # layers) through every named step, C-simulated bit-exact, reported as lowered
    cfg = load_config(None, {'model': {'arch': arch, **model}, 'train': {'epochs': 1, 'time_budget_min': None},
                             'data': {'test_patch': 32}, 'hw': {'patches': 1}})
    out = tmp_path / 'build'
    man = run(cfg, out=out, log=lambda s: None, progress=False)
    assert man['status'] == 'complete' and man['verdicts']['bit_exact'] is True
    design = json.loads((out / 'hw' / 'design.json').read_text())
    assert design['model']['arch'] == arch and design['model']['hidden'] == model['hidden']
    assert design['golden_float32']['exact'], design['golden_float32']  # S4, B4: exact by construction
    if arch == 'bnnpan':
        assert {'HaarDWT', 'HaarIDWT'} <= {lay['class'] for lay in design['layers']}
    report = json.loads((out / 'hw' / 'report.json').read_text())
    assert report['design_sha256'] == design['sha256'] == man['verdicts']['csim']['design_sha256']
    assert report['performance']['token_simulated']['deadlock'] is False
    metrics = json.loads((out / 'eval' / 'metrics.json').read_text())
    assert metrics['network'] == name and 'psnr' in metrics['methods']['hsbinet']


def test_unknown_arch_is_one_paragraph(tmp_path):
    with pytest.raises(HsbinetError) as e:
        load_config(None, {'model': {'arch': 'bnn'}})
    assert e.value.key == 'model.arch' and 's2bnet' in e.value.expected and 'bnnpan' in e.value.expected

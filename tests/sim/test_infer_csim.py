"""``hsbinet infer`` with the engines that need a lowered design: the C-simulated accelerator and the
final QONNX graph give, tile for tile, exactly the PyTorch engine's cube (np.array_equal on the
fixed-point integers) on a 40 x 48 PAN scene with the small design's 16 x 16 frame."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest
import torch

from quant_models.common import HsbinetError
from quant_models.infer import TorchEngine, on_io_grid, plan_tiles, prepare_scene, receptive_radius, run_tiles
from sim.compare import to_fixed_ints
from sim.infer import fresh_library, make_engine
from tests.conftest import hardware_model
from tests.quant_models.test_infer import scene_tif

FRAC = 14  # fixed<16,2>


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    return scene_tif(tmp_path_factory.mktemp('infer_scene') / 'scene.tif', 40, 48)


@pytest.fixture(scope='module')
def checkpoint(small_model, tmp_path_factory):
    path = tmp_path_factory.mktemp('infer_ckpt') / 'm.pt'
    torch.save({'model_config': small_model.cfg.to_dict(), 'state_dict': small_model.state_dict()}, path)
    return path


def _fused(out_dir):
    with h5py.File(out_dir / 'fused.h5', 'r') as f:
        return f['FUSED'][0]


def test_cli_csim_and_torch_engines_give_identical_cubes(small_lowered, scene, checkpoint, tmp_path, capsys):
    from build_flows.cli import main
    outs = {}
    for engine in ('torch', 'csim'):
        outs[engine] = tmp_path / engine
        code = main(['infer', '--checkpoint', str(checkpoint), '--scene', str(scene), '--out', str(outs[engine]),
                     '--engine', engine, '--build', str(small_lowered), '--reduced', '--no-progress'])
        assert code == 0, capsys.readouterr().err
    torch_cube, csim_cube = _fused(outs['torch']), _fused(outs['csim'])
    assert torch_cube.shape == (8, 40, 48)
    assert np.array_equal(to_fixed_ints(torch_cube, FRAC, 'torch'), to_fixed_ints(csim_cube, FRAC, 'csim'))
    assert '30 tiles' in capsys.readouterr().out  # 5 x 6 frames of 16 x 16 (halo cut to 4 px, centre 8)
    design = json.loads((small_lowered / 'design.json').read_text())
    summary = json.loads((outs['csim'] / 'infer.json').read_text())
    assert summary['design_sha256'] == design['sha256'] and summary['tiling']['frame_pan'] == [16, 16]
    # the compiled library is reused while it is newer than every source, and rebuilt otherwise
    prj = small_lowered / design['project_dir']
    lib = fresh_library(prj, design['project'])
    assert lib is not None and summary['csim_library'].endswith(('(build_lib.sh)', 'source of the project)'))
    st = lib.stat()
    os.utime(lib, ns=(st.st_atime_ns, (prj / 'build_lib.sh').stat().st_mtime_ns - 1))
    try:
        assert fresh_library(prj, design['project']) is None
    finally:
        os.utime(lib, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert summary['metrics']['hsbinet']['psnr'] == json.loads((outs['torch'] / 'infer.json').read_text())[
        'metrics']['hsbinet']['psnr']


def test_qonnx_engine_equals_torch(small_model, small_lowered, scene, checkpoint):
    inp = prepare_scene(str(scene), 4, 0.3, True, bands=8)
    ms, pan = on_io_grid(small_model, inp.ms, inp.pan)
    qonnx, frame, record = make_engine('qonnx', small_model, build=small_lowered, checkpoint=checkpoint)
    assert frame == (16, 16) and record['design_sha256']
    # rows 0..23 of the scene: 3 x 6 tiles keep qonnx's node-by-node execution short
    plan = plan_tiles((24, 48), frame, receptive_radius(small_model)['halo'], 4)
    a = run_tiles(plan, ms[:, :6], pan[:, :24], TorchEngine(small_model))
    b = run_tiles(plan, ms[:, :6], pan[:, :24], qonnx)
    assert np.array_equal(to_fixed_ints(a, FRAC, 'torch'), to_fixed_ints(b, FRAC, 'qonnx'))


def test_design_checks(small_lowered, checkpoint, small_model):
    with pytest.raises(HsbinetError, match='needs the lowered design'):
        make_engine('csim', small_model)
    with pytest.raises(HsbinetError, match='frame the design was lowered for'):
        make_engine('torch', small_model, build=small_lowered, tile=32)
    with pytest.raises(HsbinetError, match='model.hidden'):
        make_engine('torch', hardware_model(8, 16, 1), build=small_lowered, checkpoint=checkpoint)

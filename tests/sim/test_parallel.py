"""Parallel C-simulation (sim/parallel.py): worker processes and a Dask cluster give the serial
verdict, a patch's output does not depend on the patches simulated before it in the same library
instance, and a worker refuses a library that is not the one compiled for the run."""

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from build_flows.config import load_config
from hw.design import load_design, project_dir
from hw.hls.axis import geometry_of
from quant_models.common import HsbinetError
from quant_models.data.hpc_format import write_hpc
from sim.csim import compile_project, run_csim
from sim.parallel import CsimLibrary, _load, resolve_workers, run_frames
from tests.conftest import grid_inputs

QUIET = lambda s: None  # noqa: E731


@pytest.fixture(scope='module')
def serial(small_model, small_lowered, tmp_path_factory):
    """(checkpoint, test file, out folder, serial verdict JSON) of 6 patches of the small design."""
    root = tmp_path_factory.mktemp('csim_parallel')
    ckpt = root / 'm.pt'
    torch.save({'model_config': small_model.cfg.to_dict(), 'state_dict': small_model.state_dict()}, ckpt)
    ms, pan = grid_inputs(small_model.cfg.bands, 16, seed=2)
    ms2, pan2 = grid_inputs(small_model.cfg.bands, 16, seed=5)
    ms, pan = torch.cat([ms, ms2[:2]]), torch.cat([pan, pan2[:2]])
    test = root / 'test.h5'
    write_hpc(test, None, torch.nn.functional.interpolate(ms, scale_factor=4).numpy(), ms.numpy(), pan.numpy())
    out = root / 'v'
    v = run_csim(small_lowered, ckpt, test, out, patches=6, workers=1, log=QUIET)
    assert v['bit_exact'] is True and v['timings']['csim_mode'] == 'serial'
    return ckpt, test, out, json.loads((out / 'verdict.json').read_text())


def _without_timings(v: dict) -> dict:
    return {k: x for k, x in v.items() if k != 'timings'}


def test_two_worker_processes_give_the_serial_verdict(serial, small_lowered):
    ckpt, test, out, want = serial
    v = run_csim(small_lowered, ckpt, test, out, patches=6, workers=2, log=QUIET)
    got = json.loads((out / 'verdict.json').read_text())
    assert v['timings']['csim_mode'] == 'processes' and v['timings']['csim_workers'] == 2
    # same comparisons, elements, mismatches, first mismatch, hashes, paths: all but the timings
    assert json.dumps(_without_timings(got), sort_keys=True) == json.dumps(_without_timings(want), sort_keys=True)


def test_a_local_two_worker_dask_cluster_gives_the_serial_verdict(serial, small_lowered):
    distributed = pytest.importorskip('distributed')
    ckpt, test, out, want = serial
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        v = run_csim(small_lowered, ckpt, test, out, patches=6, cluster=cluster.scheduler_address, log=QUIET)
    got = json.loads((out / 'verdict.json').read_text())
    assert v['timings']['csim_mode'] == 'cluster' and v['timings']['csim_workers'] == 2
    assert json.dumps(_without_timings(got), sort_keys=True) == json.dumps(_without_timings(want), sort_keys=True)


@pytest.fixture(scope='module')
def frames(small_lowered):
    """(library, geometry, loaded instance, ms, pan stream integers) of 6 patches of the small design."""
    design, path = load_design(small_lowered)
    linked = compile_project(project_dir(design, path))  # compiled once per process (the verdict tests' one)
    lib = CsimLibrary.of(linked._top_function_lib._name, design['project'])
    geo = geometry_of(design, design['axis']['tdata_bits'], design['axis']['tlast'])
    ms, pan = grid_inputs(geo.bands, 16, seed=7)
    ms2, pan2 = grid_inputs(geo.bands, 16, seed=8)
    frac = design['io_bits'][0] - design['io_bits'][1]
    bits = design['io_bits'][0]
    grid = lambda x: np.clip(np.round(x.numpy().astype(np.float64) * 2 ** frac), -2 ** (bits - 1),  # noqa: E731
                             2 ** (bits - 1) - 1).astype(np.int64)  # the input streams' integers (saturated)
    ms_int = grid(torch.cat([ms, ms2[:2]]).permute(0, 2, 3, 1))
    pan_int = grid(torch.cat([pan, pan2[:2]])[:, 0])
    return lib, geo, linked._top_function_lib, ms_int, pan_int


def test_a_patch_output_does_not_depend_on_the_patches_before_it(frames):
    """The generated C++ keeps state in statics (weights loaded once, line buffers, pixel counters,
    the channel gate's frame buffer): run the patches forward, shuffled, with repeats, in the same
    library instance and in a fresh one, and each patch gives the same output and TLAST."""
    lib, geo, cdll, ms, pan = frames
    y, last, info = run_frames(lib, geo, ms, pan, workers=1, cdll=cdll)
    assert info['mode'] == 'serial' and y.shape == (6, 16, 16, geo.bands)
    assert len({y[i].tobytes() for i in range(6)}) == 6  # six different patches, six different outputs
    order = np.array([3, 0, 5, 0, 2, 4, 1, 3])
    y2, last2, _ = run_frames(lib, geo, ms[order], pan[order], workers=1, cdll=cdll)  # same instance, new history
    np.testing.assert_array_equal(y2, y[order])
    np.testing.assert_array_equal(last2, last[order])
    rev = order[::-1].copy()
    y3, last3, _ = run_frames(lib, geo, ms[rev], pan[rev], workers=1)  # a fresh instance (private copy), reversed
    np.testing.assert_array_equal(y3, y[rev])
    np.testing.assert_array_equal(last3, last[rev])


def test_a_worker_refuses_a_library_that_is_not_the_compiled_one(frames, tmp_path):
    lib, geo, _, ms, pan = frames
    other = replace(lib, sha256='0' * 64)
    with pytest.raises(HsbinetError, match='not the one compiled'):
        _load(other)
    with pytest.raises(HsbinetError, match='not the one compiled'):  # raised in a worker process, reported here
        run_frames(other, geo, ms[:2], pan[:2], workers=2)
    gone = replace(lib, path=str(tmp_path / 'nowhere.so'), sha256='1' * 64)
    with pytest.raises(HsbinetError, match='shared filesystem'):
        _load(gone)


def test_workers_default_to_every_core_and_zero_is_refused():
    assert resolve_workers(None) == (os.cpu_count() or 1) and resolve_workers(3) == 3
    assert load_config(None, {'hw': {'workers': 2}}).hw.workers == 2
    assert load_config(None, {}).hw.workers is None
    with pytest.raises(HsbinetError, match='hw.workers'):
        load_config(None, {'hw': {'workers': 0}})
    from build_flows.cli import build_parser
    a = build_parser().parse_args(['csim', '--build', str(Path('b')), '--workers', '2', '--cluster', 'tcp://h:8786'])
    assert a.workers == 2 and a.cluster == 'tcp://h:8786'

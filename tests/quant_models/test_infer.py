"""Scene inference (quant_models/infer.py): the tiling geometry, a one-frame scene equal to the
model's direct output, georeferencing and wavelengths carried into the written cube, the PNG, the
full-resolution mode with a real PAN, bad inputs refused with one paragraph and no output."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from quant_models.common import HsbinetError
from quant_models.data.readers import Georef, load_cube, write_geotiff
from quant_models.infer import (TorchEngine, infer, on_io_grid, plan_axis, plan_tiles, prepare_scene,
                                receptive_radius, run_tiles)

QUIET = lambda s: None  # noqa: E731
WAVELENGTHS = np.linspace(450.0, 900.0, 8)
UTM33 = ('PROJCS["WGS 84 / UTM zone 33N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
         'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
         'PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",15],PARAMETER["scale_factor",0.9996],'
         'PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1],AUTHORITY["EPSG","32633"]]')
GEOREF = Georef(transform=(30.0, 0.0, 500000.0, 0.0, -30.0, 4_000_000.0), crs_wkt=UTM33)


def synthetic_cube(h: int, w: int, bands: int = 8, seed: int = 0) -> np.ndarray:
    """(H, W, B) float32 DN-like cube: smooth spectra varying over the scene, plus texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    b = np.arange(bands)[None, None, :]
    smooth = 0.5 + 0.3 * np.sin(xx[..., None] / 5.0 + b / 3.0) * np.cos(yy[..., None] / 7.0 - b / 5.0)
    return (1000.0 * (smooth + 0.1 * rng.random((h, w, bands)))).astype(np.float32)


def scene_tif(path, h, w, bands=8, seed=0, georef=GEOREF):
    write_geotiff(path, synthetic_cube(h, w, bands, seed), wavelengths_nm=WAVELENGTHS[:bands], georef=georef)
    return path


def test_receptive_field_and_tiling_geometry(small_model):
    rf = receptive_radius(small_model)
    # head 1x1, MSFE 7x7 branch (3), 1 block of two 3x3 (2), fusion (1), decoder 3x3 (1); bilinear x4 (4)
    assert rf == {'conv': 7, 'upsampler': 4, 'radius': 11, 'halo': 12}
    a = plan_axis(100, 64, 12, 4)
    assert (a.tiles, a.centre, a.pad_before, a.pad_after, a.halo_truncated) == (3, 40, 12, 32, False)
    assert plan_axis(16, 16, 12, 4).tiles == 1 and plan_axis(16, 16, 12, 4).halo == 0  # exactly one frame
    t = plan_axis(40, 16, 12, 4)  # a 16-px frame cannot hold a 12-px halo: cut to 4, centre 8
    assert (t.halo, t.centre, t.tiles, t.halo_truncated) == (4, 8, 5, True)
    p = plan_tiles((40, 48), (16, 16), 12, 4)
    assert p.count == 5 * 6 and p.to_dict()['halo_truncated'] is True
    with pytest.raises(HsbinetError, match='smaller than one tile'):
        plan_axis(12, 16, 12, 4)


def test_stitching_covers_every_pixel_once_with_aligned_tiles(small_model):
    """An engine that returns its upsampled MS tile: the stitched cube is the upsampled padded
    scene, so LR and PAN tiles are aligned and every output pixel comes from one kept centre."""
    class Echo:
        name, batch = 'echo', 3

        def __call__(self, ms, pan):
            return np.repeat(np.repeat(ms, 4, axis=2), 4, axis=3) + 0 * pan

    ms = np.random.default_rng(1).random((2, 10, 12)).astype(np.float32)
    pan = np.zeros((1, 40, 48), np.float32)
    out = run_tiles(plan_tiles((40, 48), (16, 16), 12, 4), ms, pan, Echo())
    assert np.array_equal(out, np.repeat(np.repeat(ms, 4, axis=1), 4, axis=2))


def test_one_frame_scene_equals_the_direct_output(small_model, tmp_path):
    scene = scene_tif(tmp_path / 'one.tif', 16, 16)
    r = infer(small_model, str(scene), tmp_path / 'out', TorchEngine(small_model), frame=(16, 16), reduced=True,
              log=QUIET, progress=False)
    assert r['tiling']['tiles'] == 1 and r['tiling']['halo_pan'] == [0, 0]
    inp = prepare_scene(str(scene), 4, 0.3, True, bands=8)
    ms, pan = on_io_grid(small_model, inp.ms[None], inp.pan[None])
    with torch.no_grad():
        direct = small_model(torch.from_numpy(ms), torch.from_numpy(pan))[0].numpy()
    assert np.array_equal(r['fused'], direct)


def test_georef_wavelengths_png_and_summary_carried_over(small_model, tmp_path):
    scene = scene_tif(tmp_path / 'scene.tif', 40, 48)
    out = tmp_path / 'out'
    r = infer(small_model, str(scene), out, TorchEngine(small_model), frame=(16, 16), reduced=True, log=QUIET,
              progress=False)
    written = load_cube(out / 'fused.tif')
    assert written.shape == (40, 48, 8)
    assert np.allclose(written.wavelengths_nm, WAVELENGTHS)
    assert written.georef.transform == GEOREF.transform  # reduced: the output is on the input's grid
    assert 'UTM zone 33N' in written.georef.crs_wkt
    assert np.allclose(written.data, np.transpose(r['fused'], (1, 2, 0)) * r['max_value'], rtol=1e-6)
    png = (out / 'fused.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
    s = json.loads((out / 'infer.json').read_text())
    assert s['tiling']['tiles'] == 30 and s['mode'] == 'reduced' and s['engine'] == 'torch'
    assert {'psnr', 'sam', 'ergas'} <= set(s['metrics']['hsbinet']) and 'bicubic' in s['metrics']
    import h5py
    with h5py.File(out / 'fused.h5', 'r') as f:
        assert f['FUSED'].shape == (1, 8, 40, 48) and f['GT'].shape == (1, 8, 40, 48)
        assert f['MS'].shape == (1, 8, 10, 12) and f['PAN'].shape == (1, 1, 40, 48)
        assert np.array_equal(f['FUSED'][0], r['fused'])
    assert not [p for p in out.iterdir() if p.name.startswith('.')]  # no staging folder left


def test_full_resolution_with_a_real_pan_scales_the_georef_and_writes_envi(small_model, tmp_path):
    ms_scene = scene_tif(tmp_path / 'ms.tif', 10, 12)
    pan = synthetic_cube(40, 48, 1, seed=3)[..., 0] * 3.0 + 7.0  # other radiometry: matched to the MS
    np.save(tmp_path / 'pan.npy', pan)
    out = tmp_path / 'full'
    r = infer(small_model, str(ms_scene), out, TorchEngine(small_model), frame=(16, 16), pan=str(tmp_path / 'pan.npy'),
              fmt='envi', log=QUIET, progress=False)
    assert r['mode'] == 'full' and r['fused'].shape == (8, 40, 48) and {'d_lambda', 'd_s', 'qnr'} <= set(
        r['metrics']['hsbinet'])
    written = load_cube(out / 'fused.hdr')
    assert written.shape == (40, 48, 8) and np.allclose(written.wavelengths_nm, WAVELENGTHS)
    assert np.allclose(written.georef.transform, GEOREF.scaled(4).transform)  # LR input: pixel size / ratio
    assert (out / 'fused.img').is_file() and (out / 'fused.png').is_file()


def _cli(args, capsys):
    from build_flows.cli import main
    code = main(args)
    return code, capsys.readouterr().err


def test_bad_inputs_are_refused_with_one_paragraph_and_no_output(small_model, tmp_path, capsys, monkeypatch):
    ckpt = tmp_path / 'm.pt'
    torch.save({'model_config': small_model.cfg.to_dict(), 'state_dict': small_model.state_dict()}, ckpt)
    base = ['infer', '--checkpoint', str(ckpt), '--no-progress']
    cases = {
        'smaller than one tile': (scene_tif(tmp_path / 'tiny.tif', 12, 12), ['--reduced', '--tile', '16']),
        'another band count': (scene_tif(tmp_path / 'b7.tif', 40, 48, bands=7), ['--reduced', '--tile', '16']),
        'needs the lowered design': (scene_tif(tmp_path / 'ok.tif', 40, 48), ['--reduced', '--engine', 'csim']),
        'needs a real PAN': (tmp_path / 'ok.tif', []),
    }
    for i, (what, (scene, extra)) in enumerate(cases.items()):
        out = tmp_path / f'out{i}'
        code, err = _cli(base + ['--scene', str(scene), '--out', str(out)] + extra, capsys)
        assert code == 2, (what, err)
        assert what in err and 'Traceback' not in err and err.count('\n') == 1, err
        assert not out.exists() or not any(out.iterdir()), what
    # a failure while writing leaves nothing that looks complete (the staging folder is removed)
    import quant_models.plots as plots

    def broken(*a, **k):
        raise OSError('disk full')
    monkeypatch.setattr(plots, 'pseudo_colour', broken)
    out = tmp_path / 'broken'
    with pytest.raises(OSError):
        infer(small_model, str(tmp_path / 'ok.tif'), out, TorchEngine(small_model), frame=(16, 16), reduced=True,
              log=QUIET, progress=False)
    assert list(out.iterdir()) == []

"""C-simulation wall time: serial against worker processes (sim/parallel.py), per patch, and compile.

Exports and lowers a hardware-profile model (the lower step's functions), compiles the project
once with g++ (as ``csim`` does), then runs the same patches through the AXI4-Stream adapter and
the core serially (one library instance in this process) and in ``--workers`` processes (each
its own instance); both must agree and match PyTorch bit for bit. Weights are from an untrained
model with BN statistics from a few training-mode forwards (timings do not depend on the values).

    python benchmarks/bench_csim.py                      # small design: 8 bands, C = 8, PAN 16 x 16
    python benchmarks/bench_csim.py --bands 191 --hidden 64 --blocks 2 --patch 128   # WDC-size design
    [--patches 8] [--workers N (default: every core)]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--bands', type=int, default=8)
    p.add_argument('--hidden', type=int, default=8)
    p.add_argument('--blocks', type=int, default=1)
    p.add_argument('--patch', type=int, default=16, help='PAN patch size (pixels)')
    p.add_argument('--patches', type=int, default=8)
    p.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    a = p.parse_args()

    import numpy as np
    import torch

    from hw.design import load_design
    from hw.export import build_final_qonnx, export_qonnx
    from hw.hls.axis import geometry_of
    from hw.hls.lower import lower_project
    from quant_models.hsbinet import HSBiNetConfig, build_model
    from quant_models.layers import fixed_point_act
    from sim.csim import compile_project
    from sim.golden import nhwc
    from sim.parallel import CsimLibrary, run_frames

    torch.manual_seed(0)
    model = build_model(HSBiNetConfig(bands=a.bands, hidden=a.hidden, blocks=a.blocks, profile='hardware'))
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(2, a.bands, a.patch // 4, a.patch // 4), torch.rand(2, 1, a.patch, a.patch))
    model.eval()
    q = fixed_point_act(16, 2).eval()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        t = time.time()
        final = build_final_qonnx(export_qonnx(model, d / 'raw.onnx', patch=(a.patch, a.patch), log=lambda s: None),
                                  d / 'final.onnx')
        lower_project(final, d / 'hw', log=lambda s: None)
        t_lower = time.time() - t
        t = time.time()
        linked = compile_project(d / 'hw' / 'hls4ml_prj')
        t_comp = time.time() - t
        design, _ = load_design(d / 'hw')
        geo = geometry_of(design, design['axis']['tdata_bits'], design['axis']['tlast'])
        frac = design['io_bits'][0] - design['io_bits'][1]
        with torch.no_grad():
            ms = q(torch.rand(a.patches, a.bands, a.patch // 4, a.patch // 4) * 2 - 0.5)
            pan = q(torch.rand(a.patches, 1, a.patch, a.patch))
            ref = nhwc(model(ms, pan).numpy())
        ms_int = np.round(nhwc(ms.numpy()) * 2 ** frac).astype(np.int64)
        pan_int = np.round(pan.numpy()[:, 0] * 2 ** frac).astype(np.int64)
        lib = CsimLibrary.of(linked._top_function_lib._name, design['project'])
        y1, _, serial = run_frames(lib, geo, ms_int, pan_int, workers=1, cdll=linked._top_function_lib)
        yn, _, par = run_frames(lib, geo, ms_int, pan_int, workers=a.workers)
        exact = np.array_equal(y1, yn) and np.array_equal(y1 / 2 ** frac, ref)

    n = a.patches
    print(f'hardware profile, B={a.bands}, C={a.hidden}, blocks={a.blocks}, PAN {a.patch}x{a.patch}, Vitis backend, '
          f'g++ C-simulation of {n} patches through the AXI4-Stream adapter; {os.cpu_count()} cores')
    print(f'export + lower {t_lower:.1f} s, compile {t_comp:.1f} s; one frame in one process '
          f'{np.median(serial["frame_s"]):.3f} s (median; the first, with the weights loading, '
          f'{serial["frame_s"][0]:.3f} s)')
    print(f'{"run":>22} {"wall (s)":>9} {"wall/patch (s)":>15} {"speed-up":>9}')
    print(f'{"serial (1 process)":>22} {serial["wall_s"]:>9.2f} {serial["wall_s"] / n:>15.3f} {1:>9.2f}')
    label = f'{par["workers"]} worker processes'
    print(f'{label:>22} {par["wall_s"]:>9.2f} {par["wall_s"] / n:>15.3f} '
          f'{serial["wall_s"] / par["wall_s"]:>9.2f}')
    print(f'bit-exact (serial == parallel == PyTorch): {exact}')
    if not exact:
        raise SystemExit(1)


if __name__ == '__main__':
    main()

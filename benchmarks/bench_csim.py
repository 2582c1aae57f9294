"""hls4ml compile time and C-simulation time per patch, hardware profile, 191 bands, C = 64.

For each PAN patch size (32, 64, 128): export + final QONNX, lowering with bounds-derived
precisions (the lower step), g++ compile of the written project (as csim does), and ``predict`` on one random patch on the fixed<16,2> input grid;
torch == C-sim is checked too. Weights are from an untrained model with BN statistics from a few
training-mode forwards (timings do not depend on the values). Prints a table.

    python benchmarks/bench_csim.py [--sizes 32 64 128] [--hidden 64] [--bands 191]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hw.export import build_final_qonnx, export_qonnx
from hw.hls.lower import lower_project
from quant_models.hsbinet import HSBiNetConfig, build_model
from quant_models.layers import fixed_point_act
from sim.csim import compile_project
from sim.golden import nhwc


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--sizes', type=int, nargs='+', default=[32, 64, 128])
    p.add_argument('--hidden', type=int, default=64)
    p.add_argument('--bands', type=int, default=191)
    p.add_argument('--blocks', type=int, default=2)
    a = p.parse_args()
    torch.manual_seed(0)
    model = build_model(HSBiNetConfig(bands=a.bands, hidden=a.hidden, blocks=a.blocks))
    model.train()
    for _ in range(3):
        model(torch.rand(4, a.bands, 8, 8), torch.rand(4, 1, 32, 32))
    model.eval()
    q = fixed_point_act(16, 2).eval()
    print(f'hardware profile, B={a.bands}, C={a.hidden}, blocks={a.blocks}, Vitis backend, g++ C-simulation')
    print(f'{"PAN patch":>10} {"export (s)":>11} {"convert (s)":>12} {"compile (s)":>12} {"C-sim/patch (s)":>16} '
          f'{"bit-exact":>10}')
    for size in a.sizes:
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            t = time.time()
            final = build_final_qonnx(export_qonnx(model, d / 'raw.onnx', patch=(size, size), log=lambda s: None),
                                      d / 'final.onnx')
            t_exp = time.time() - t
            t = time.time()
            lower_project(final, d / 'hw', log=lambda s: None)
            t_conv = time.time() - t
            t = time.time()
            hm = compile_project(d / 'hw' / 'hls4ml_prj')
            t_comp = time.time() - t
            with torch.no_grad():
                ms = q(torch.rand(1, a.bands, size // 4, size // 4))
                pan = q(torch.rand(1, 1, size, size))
                ref = nhwc(model(ms, pan).numpy())
            t = time.time()
            out = np.asarray(hm.predict([nhwc(ms.numpy()), nhwc(pan.numpy())])).reshape(ref.shape)
            t_sim = time.time() - t
            print(f'{size:>7}x{size:<3}{t_exp:>11.1f} {t_conv:>12.1f} {t_comp:>12.1f} {t_sim:>16.2f} '
                  f'{str(np.array_equal(ref, out)):>10}')


if __name__ == '__main__':
    main()

"""CPU benchmark: training throughput and single-patch forward time of HS-BiNet.

Prints a table (no assertions: targets live here, not in unit tests). Inputs are random tensors of
the WDC geometry (191 bands, ratio 4): the timing of a convolutional net does not depend on the
values. Training: batch 4 of 32x32-PAN patches (8x8 MS), L1 + Adam step, both profiles, C = 32 and
64. Forward: one 128x128-PAN patch (32x32 MS), eval mode, no autograd.

    python benchmarks/bench_training.py [--bands 191] [--steps 6] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from quant_models.hsbinet import HSBiNetConfig, build_model, model_summary


def _train_rate(cfg: HSBiNetConfig, steps: int, batch: int = 4, patch: int = 32) -> float:
    torch.manual_seed(0)
    model = build_model(cfg).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    ms = torch.rand(batch, cfg.bands, patch // cfg.ratio, patch // cfg.ratio)
    pan = torch.rand(batch, 1, patch, patch)
    gt = torch.rand(batch, cfg.bands, patch, patch)
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        opt.zero_grad()
        torch.nn.functional.l1_loss(model(ms, pan), gt).backward()
        opt.step()
        if i:  # the first step pays one-off allocation costs
            times.append(time.perf_counter() - t)
    return batch / statistics.median(times)


def _forward_time(cfg: HSBiNetConfig, repeats: int, size: int = 128) -> float:
    torch.manual_seed(0)
    model = build_model(cfg)
    ms = torch.rand(4, cfg.bands, 8, 8)
    model.train()
    model(ms, torch.rand(4, 1, 32, 32))  # BN statistics, so eval mode is representative
    model.eval()
    ms, pan = torch.rand(1, cfg.bands, size // cfg.ratio, size // cfg.ratio), torch.rand(1, 1, size, size)
    times = []
    with torch.no_grad():
        for i in range(repeats + 1):
            t = time.perf_counter()
            model(ms, pan)
            if i:
                times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--bands', type=int, default=191)
    p.add_argument('--blocks', type=int, default=2)
    p.add_argument('--steps', type=int, default=6)
    p.add_argument('--threads', type=int, default=None)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, B={a.bands}, blocks={a.blocks}, ratio 4')
    head = (f'{"profile":<9} {"C":>3} {"params":>10} {"weight bits":>12} {"train patches/s":>16} '
            f'{"fwd 128x128 (s)":>16}')
    print(head)
    print('-' * len(head))
    for profile in ('hardware', 'paper'):
        for hidden in (32, 64):
            cfg = HSBiNetConfig(bands=a.bands, hidden=hidden, blocks=a.blocks, profile=profile)
            s = model_summary(build_model(cfg))
            rate = _train_rate(cfg, a.steps)
            fwd = _forward_time(cfg, 3)
            print(f'{profile:<9} {hidden:>3} {s["parameters"]:>10,} {s["weight_memory_bits"]:>12,} '
                  f'{rate:>16.2f} {fwd:>16.3f}')


if __name__ == '__main__':
    main()

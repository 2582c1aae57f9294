"""Open-source synthesis of the binary conv kernel at a reuse factor: LUTs per XNOR lane.

Evidence for the analytical model's binary-conv coefficients (docs/resources.md, "Binary kernel
synthesis"). The kernel is the one hls4ml's Resource strategy builds for a binary conv
(``dense_resource_rf_leq_nin``, 1-bit inputs and weights, ``both_binary`` product = XNOR) at reuse
factor R <= n_in: every cycle r = 0..R-1, P = n_in * n_out / R lanes each XNOR one weight bit
(a ROM of R words x P bits, addressed by the cycle counter) with one input bit (lane p reads input
r + (p mod n_in/R) * R), and each output accumulates the popcount of its n_in / R lanes. The
Verilog written here is that datapath with random weights (seeded), registered inputs/outputs;
yosys ``synth_xilinx -family xcu`` maps it to UltraScale primitives. Printed: LUT (all LUT1..6),
CARRY4/8, FF, MUXF7/8/9 per configuration and LUT per lane, next to the analytical model's figure
(``layer_estimate`` on the same conv at the same R, weights and line buffer excluded).

    apt-get install yosys    # 0.23 on Debian bookworm
    python benchmarks/synth_binary_kernel.py [--configs 576x64r18,1600x64r20,3136x64r16] [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from hw.estimates.analytical import layer_estimate


def kernel_verilog(n_in: int, n_out: int, reuse: int, seed: int = 0) -> str:
    """Verilog of the binary dense kernel (see module docstring)."""
    lanes = n_in * n_out // reuse
    per_out = n_in // reuse  # lanes (popcount terms) per output per cycle
    acc_w = math.ceil(math.log2(n_in + 1)) + 1
    cnt_w = max(1, math.ceil(math.log2(reuse)))
    rng = np.random.default_rng(seed)
    rom = rng.integers(0, 2, (reuse, lanes), dtype=np.uint8)
    words = '\n'.join(f"      {cnt_w}'d{r}: w = {lanes}'b{''.join(str(b) for b in rom[r, ::-1])};" for r in range(reuse))
    sums = []
    for o in range(n_out):
        terms = ' + '.join(f'x[{o * per_out + k}]' for k in range(per_out))
        sums.append(f'      acc[{o}] <= (cnt == 0 ? {acc_w}\'d0 : acc[{o}]) + ({terms});')
    if reuse == 1:
        sel = '\n'.join(f'    xs[{k}] = d[{k}];' for k in range(per_out))
    else:  # lane group k reads input r + k*R at cycle r: an R:1 multiplexer per group
        sel = '\n'.join('    case (cnt)\n' + ''.join(f"      {cnt_w}'d{r}: xs[{k}] = d[{r + k * reuse}];\n"
                                                    for r in range(reuse)) + f'      default: xs[{k}] = 1\'b0;\n    endcase'
                         for k in range(per_out))
    return f"""// binary dense kernel: n_in={n_in} n_out={n_out} reuse={reuse} lanes={lanes}
module kernel(input clk, input [{n_in - 1}:0] din, output reg [{n_out * acc_w - 1}:0] dout);
  reg [{n_in - 1}:0] d;
  reg [{cnt_w - 1}:0] cnt = 0;
  reg [{lanes - 1}:0] w;
  reg [{per_out - 1}:0] xs;
  wire [{lanes - 1}:0] x;
  reg [{acc_w - 1}:0] acc [0:{n_out - 1}];
  integer i;
  always @* begin
    case (cnt)
{words}
      default: w = {lanes}'b0;
    endcase
  end
  always @* begin
{sel}
  end
  genvar g;
  generate for (g = 0; g < {lanes}; g = g + 1) begin : lane
    assign x[g] = ~(xs[g % {per_out}] ^ w[g]);
  end endgenerate
  always @(posedge clk) begin
    d <= din;
    cnt <= (cnt == {reuse - 1}) ? 0 : cnt + 1;
{chr(10).join(sums)}
    for (i = 0; i < {n_out}; i = i + 1) dout[i * {acc_w} +: {acc_w}] <= acc[i];
  end
endmodule
"""


def synthesize(verilog: str, work: Path) -> dict:
    (work / 'kernel.v').write_text(verilog)
    script = 'read_verilog kernel.v; synth_xilinx -family xcu -top kernel -flatten; stat'
    t = time.time()
    r = subprocess.run(['yosys', '-q', '-p', script, '-l', 'yosys.log'], cwd=work, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    log = (work / 'yosys.log').read_text()
    cells = {m.group(2): int(m.group(1)) for m in re.finditer(r'^\s+(\d+)\s+\$?(\w+)\s*$', log, re.M)}
    if not cells:  # yosys 0.23 prints "     <name>   <count>"
        cells = {m.group(1): int(m.group(2)) for m in re.finditer(r'^\s+(\w+)\s+(\d+)\s*$', log, re.M)}
    lut = sum(v for k, v in cells.items() if re.fullmatch(r'LUT[1-6]', k))
    return {'lut': lut, 'carry': cells.get('CARRY4', 0) + cells.get('CARRY8', 0), 'ff': sum(v for k, v in cells.items() if k.startswith('FD')),
            'muxf': cells.get('MUXF7', 0) + cells.get('MUXF8', 0) + cells.get('MUXF9', 0), 'seconds': round(time.time() - t, 1)}


def analytical(n_in: int, n_out: int, reuse: int) -> float:
    """The model's LUTs for the same kernel (logic only: weights ROM and line buffer excluded)."""
    layer = {'name': 'k', 'class': 'PointwiseConv2D', 'in_bits': [1], 'result_bits': 16,
             'attrs': {'filt_height': 1, 'filt_width': 1, 'n_chan': n_in, 'n_filt': n_out, 'in_height': 1,
                       'in_width': 1, 'out_height': 1, 'out_width': 1},
             'weights': {'weight': {'bits': 1}}}
    e = layer_estimate(layer, reuse)
    return e.lut + sum(m.lut for m in e.memories)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--configs', default='64x64r1,576x64r18,1600x64r20,3136x64r16',
                   help='n_in x n_out r reuse, comma-separated (a 3x3 64->64 conv has n_in = 576)')
    p.add_argument('--keep', help='keep the Verilog and yosys logs in this folder')
    a = p.parse_args()
    if shutil.which('yosys') is None:
        raise SystemExit('yosys not found (apt-get install yosys)')
    rows = []
    for c in a.configs.split(','):
        m = re.fullmatch(r'(\d+)x(\d+)r(\d+)', c.strip())
        n_in, n_out, reuse = (int(g) for g in m.groups())
        work = Path(a.keep or tempfile.mkdtemp(prefix='hsbinet_synth_')) / c
        work.mkdir(parents=True, exist_ok=True)
        s = synthesize(kernel_verilog(n_in, n_out, reuse), work)
        lanes = n_in * n_out // reuse
        rows.append({'config': c, 'lanes': lanes, **s, 'lut_per_lane': s['lut'] / lanes,
                     'model_lut_per_lane': analytical(n_in, n_out, reuse) / lanes})
        print(rows[-1], flush=True)
    print(f'\n{"config":>14} {"lanes":>7} {"LUT":>8} {"CARRY":>7} {"FF":>7} {"MUXF":>6} {"LUT/lane":>9} '
          f'{"model LUT/lane":>15} {"yosys s":>8}')
    for r in rows:
        print(f'{r["config"]:>14} {r["lanes"]:>7} {r["lut"]:>8} {r["carry"]:>7} {r["ff"]:>7} {r["muxf"]:>6} '
              f'{r["lut_per_lane"]:>9.2f} {r["model_lut_per_lane"]:>15.2f} {r["seconds"]:>8}')
    print('(yosys synth_xilinx -family xcu; the model figure includes the weight memory, the synthesis folds the '
          'weight ROM into the XNOR LUTs)')


if __name__ == '__main__':
    main()

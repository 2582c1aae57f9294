#!/usr/bin/env bash
# run_all.sh -- the whole vendor flow for the HS-BiNet accelerator (@@top), in order:
#   1. Vitis HLS  01_hls_synth.tcl       C synthesis + IP export  -> @@{top}_prj/@@hls_solution/
#   2. Vivado     02_block_design.tcl    block design + wrapper   -> vivado/@@{bd_project}.xpr
#   3. Vivado     03_impl_bitstream.tcl  synth, impl, reports     -> reports/, output/*.bit
# Needs AMD Vitis HLS and Vivado @@tool_version (2024.1/2024.2: vitis-run replaces vitis_hls) on PATH.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p logs
if command -v vitis_hls >/dev/null 2>&1; then
    HLS=(vitis_hls -f)
elif command -v vitis-run >/dev/null 2>&1; then
    HLS=(vitis-run --mode hls --tcl)
else
    echo "run_all.sh: neither vitis_hls nor vitis-run is on PATH (source <Vitis>/settings64.sh)" >&2
    exit 3
fi
if ! command -v vivado >/dev/null 2>&1; then
    echo "run_all.sh: vivado is not on PATH (source <Vivado>/settings64.sh)" >&2
    exit 3
fi
"${HLS[@]}" 01_hls_synth.tcl > logs/01_hls_synth.log 2>&1
vivado -mode batch -nojournal -nolog -source 02_block_design.tcl > logs/02_block_design.log 2>&1
vivado -mode batch -nojournal -nolog -source 03_impl_bitstream.tcl > logs/03_impl_bitstream.log 2>&1
echo "bitstream: $(ls output/*.bit)"

"""Vendor project (AMD Vitis HLS + Vivado) around an hls4ml io_stream project: scripts to a bitstream.

:func:`write_vendor_project` writes ``<out_dir>/vendor/``, a self-contained folder:

    project.tcl              settings every script sources (part, clock, top, IP name)
    01_hls_synth.tcl         Vitis HLS: C synthesis of the hls4ml design, export as Vivado IP
    02_block_design.tcl      Vivado: block design (Zynq: PS + AXI DMAs; no-PS part: external AXIS)
    03_impl_bitstream.tcl    Vivado: synthesis, implementation, reports, bitstream (+ .xsa for Zynq)
    constraints/<top>_<PART>.xdc   clock and pin placeholders
    rtl/hsbinet_axis_tlast.v TLAST generator for the output stream (Zynq designs: the DMA needs TLAST)
    hls_src/                 copy of the hls4ml sources (firmware/, testbench, tb_data/)
    run_all.sh, README.md, manifest.json

The folder is written into a temporary sibling and renamed into place, so a half-written project
never looks complete. Nothing inside the scripts depends on the time of generation (only the
manifest records it), so two runs on the same inputs give identical scripts.

Targets Vivado / Vitis HLS 2023.2 (``vitis_hls -f``); Vitis 2024.1/2024.2 run the same HLS script
through ``vitis-run --mode hls --tcl``. Units: clock in MHz (``clock_mhz``) and ns (periods).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hw.parts import Part, get_part
from quant_models.errors import HsbinetError

VENDOR_FORMAT = 'hsbinet-vendor-project/1'
TOOL_VERSION = '2023.2'
TOOLS_REQUIRED = {
    'vitis_hls': f'AMD Vitis HLS {TOOL_VERSION} (or `vitis-run --mode hls` from Vitis 2024.1/2024.2)',
    'vivado': f'AMD Vivado {TOOL_VERSION} (2024.1/2024.2 also run these scripts)',
}
IP_VENDOR, IP_LIBRARY, IP_VERSION = 'hsbinet', 'hls', '1.0'
HLS_SOLUTION = 'solution1'
BD_PROJECT, BD_NAME = 'hsbinet_bd', 'design_1'
MAX_DMA_STREAM_BYTES = 16  # AXI DMA stream width kept <= 128 bits (the HP ports are 128 / 64 bits wide)

# Zynq parts: the PS configuration keys (pins and properties differ between the two PS IPs)
PS = {
    'ZU9EG': {
        'vlnv': 'xilinx.com:ip:zynq_ultra_ps_e', 'rule': 'xilinx.com:bd_rule:zynq_ultra_ps_e',
        'master': 'M_AXI_HPM0_FPD', 'master_clk': 'maxihpm0_fpd_aclk',
        'slave': 'S_AXI_HP0_FPD', 'slave_clk': 'saxihp0_fpd_aclk',
        'clk': 'pl_clk0', 'resetn': 'pl_resetn0', 'irq': 'pl_ps_irq0', 'addr_width': 64,
        'config': ('CONFIG.PSU__USE__M_AXI_GP0 {1} CONFIG.PSU__USE__M_AXI_GP1 {0} CONFIG.PSU__USE__M_AXI_GP2 {0} '
                   'CONFIG.PSU__USE__S_AXI_GP2 {1} CONFIG.PSU__SAXIGP2__DATA_WIDTH {128} CONFIG.PSU__USE__IRQ0 {1} '
                   'CONFIG.PSU__FPGA_PL0_ENABLE {1} CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $clock_mhz'),
        'actual_freq': 'CONFIG.PSU__CRL_APB__PL0_REF_CTRL__ACT_FREQMHZ',
    },
    'XC7Z020': {
        'vlnv': 'xilinx.com:ip:processing_system7', 'rule': 'xilinx.com:bd_rule:processing_system7',
        'master': 'M_AXI_GP0', 'master_clk': 'M_AXI_GP0_ACLK',
        'slave': 'S_AXI_HP0', 'slave_clk': 'S_AXI_HP0_ACLK',
        'clk': 'FCLK_CLK0', 'resetn': 'FCLK_RESET0_N', 'irq': 'IRQ_F2P', 'addr_width': 32,
        'config': ('CONFIG.PCW_USE_M_AXI_GP0 {1} CONFIG.PCW_USE_S_AXI_HP0 {1} CONFIG.PCW_S_AXI_HP0_DATA_WIDTH {64} '
                   'CONFIG.PCW_USE_FABRIC_INTERRUPT {1} CONFIG.PCW_IRQ_F2P_INTR {1} CONFIG.PCW_EN_CLK0_PORT {1} '
                   'CONFIG.PCW_EN_RST0_PORT {1} CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $clock_mhz'),
        'actual_freq': 'CONFIG.PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ',
    },
}


# ----------------------------------------------------------------------------- the hls4ml project

@dataclass
class StreamPort:
    """One top-level hls::stream argument. Widths in bits; ``beats`` = stream words per frame."""
    name: str
    direction: str          # 'in' | 'out'
    ctype: str
    element_bits: int
    elements: int
    tdata_bits: int         # element_bits * elements rounded up to whole bytes (Vitis HLS packs the array)
    shape: list[int] = field(default_factory=list)  # H, W, C (channels-last, as hls4ml writes it)

    @property
    def tdata_bytes(self) -> int:
        return self.tdata_bits // 8

    @property
    def beats(self) -> int:
        n = 1
        for d in self.shape[:-1]:
            n *= d
        return n

    @property
    def dma_bytes(self) -> int:
        """AXI DMA stream width in bytes: the largest power of two that divides the HLS TDATA width
        (so a data-width converter has an integer ratio), at most MAX_DMA_STREAM_BYTES."""
        b = 1
        while b * 2 <= min(self.tdata_bytes, MAX_DMA_STREAM_BYTES) and self.tdata_bytes % (b * 2) == 0:
            b *= 2
        return b


@dataclass
class HlsProject:
    path: Path
    top: str
    backend: str
    io_type: str
    clock_uncertainty: str
    ports: list[StreamPort]
    sha256: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d['path'] = str(self.path)
        for p, src in zip(d['ports'], self.ports):
            p.update(tdata_bytes=src.tdata_bytes, beats_per_frame=src.beats, dma_bytes=src.dma_bytes)
        return d


def find_hls_project(build_dir) -> Path:
    """The hls4ml project folder in ``build_dir`` (itself, or the shallowest folder below it that
    holds ``hls4ml_config.yml``; hls4ml's internal ``_probe`` projects and vendor copies are skipped)."""
    build_dir = Path(build_dir)
    if not build_dir.is_dir():
        raise HsbinetError('Build folder not found', file=str(build_dir),
                           hint='pass the folder `hsbinet csim` / `hsbinet lower` wrote (--build DIR)')
    if (build_dir / 'hls4ml_config.yml').is_file():
        return build_dir
    found = []
    for root, dirs, files in os.walk(build_dir):
        dirs[:] = sorted(d for d in dirs if d not in ('_probe', 'vendor', 'firmware', 'tb_data', '.autopilot'))
        if 'hls4ml_config.yml' in files:
            found.append(Path(root))
            dirs[:] = []
    if not found:
        raise HsbinetError('No hls4ml project in the build folder', file=str(build_dir), key='hls4ml_config.yml',
                           expected='an hls4ml io_stream project (e.g. <build>/hls4ml_prj or runs/<scene>/hw/hls4ml_prj)',
                           found='none', hint='run `hsbinet csim` or `hsbinet lower` first')
    depth = min(len(p.parts) for p in found)
    top = [p for p in found if len(p.parts) == depth]
    if len(top) > 1:
        raise HsbinetError('Several hls4ml projects in the build folder', file=str(build_dir),
                           found=', '.join(str(p) for p in top), hint='pass --build one of them')
    return top[0]


def _config_scalar(text: str, key: str) -> str | None:
    m = re.search(rf'^{key}:\s*(\S.*?)\s*$', text, re.M)
    return m.group(1).strip('\'"') if m else None


def _config_shapes(text: str, key: str) -> dict[str, list[int]]:
    """``InputShapes:`` / ``OutputShapes:`` blocks of hls4ml_config.yml (the file carries a pickled
    ONNX model under a python tag, so yaml.safe_load cannot read it; these blocks are plain)."""
    out: dict[str, list[int]] = {}
    lines = text.splitlines()
    try:
        i = lines.index(f'{key}:')
    except ValueError:
        return out
    name = None
    for line in lines[i + 1:]:
        if not line.startswith(' '):
            break
        m = re.match(r'^  (\S+):\s*$', line)
        if m:
            name = m.group(1)
            out[name] = []
            continue
        m = re.match(r'^  -\s*(\d+)\s*$', line)
        if m and name is not None:
            out[name].append(int(m.group(1)))
    return out


_ARRAY_T = re.compile(r'typedef\s+nnet::array<\s*ap_u?(?:fixed|int)<\s*(\d+)[^;]*?>\s*,\s*([\d\s*]+)>\s+(\w+)\s*;')
_SCALAR_T = re.compile(r'typedef\s+ap_u?(?:fixed|int)<\s*(\d+)[^;]*?>\s+(\w+)\s*;')


def _type_widths(defines: str) -> dict[str, tuple[int, int]]:
    """C type name -> (element bits, elements) from hls4ml's firmware/defines.h."""
    out = {}
    for m in _ARRAY_T.finditer(defines):
        n = 1
        for f in m.group(2).split('*'):
            n *= int(f.strip())
        out[m.group(3)] = (int(m.group(1)), n)
    for m in _SCALAR_T.finditer(defines):
        out.setdefault(m.group(2), (int(m.group(1)), 1))
    return out


_BUILD_PRODUCTS = {'.so', '.o', '.a'}  # g++ C-simulation libraries hls4ml's compile() leaves in firmware/


def _tree_sha256(root: Path, rel_paths: list[str]) -> str:
    h = hashlib.sha256()
    for rel in rel_paths:
        p = root / rel
        files = sorted(q for q in p.rglob('*') if q.is_file() and q.suffix not in _BUILD_PRODUCTS) \
            if p.is_dir() else ([p] if p.is_file() else [])
        for f in files:
            h.update(str(f.relative_to(root)).encode() + b'\0')
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def read_hls_project(prj_dir) -> HlsProject:
    """Top name, backend, stream ports (names, directions, TDATA widths in bits) and a content hash
    (sha256 over firmware/, the testbench and tb_data/) of an hls4ml project folder."""
    prj_dir = Path(prj_dir)
    cfg_path = prj_dir / 'hls4ml_config.yml'
    text = cfg_path.read_text(errors='replace')
    top = _config_scalar(text, 'ProjectName')
    ptcl = prj_dir / 'project.tcl'
    if ptcl.is_file():  # hls4ml's own record of the top function (its report reader uses it too)
        m = re.search(r'set project_name "([^"]+)"', ptcl.read_text())
        top = m.group(1) if m else top
    backend = _config_scalar(text, 'Backend') or 'Vitis'
    io_type = _config_scalar(text, 'IOType') or ''
    if io_type != 'io_stream':
        raise HsbinetError('The hls4ml project is not io_stream', file=str(cfg_path), key='IOType',
                           expected='io_stream', found=io_type or 'missing')
    if not top:
        raise HsbinetError('The hls4ml project has no ProjectName', file=str(cfg_path), key='ProjectName')
    header = prj_dir / 'firmware' / f'{top}.h'
    defines = prj_dir / 'firmware' / 'defines.h'
    if not header.is_file() or not defines.is_file():
        raise HsbinetError('The hls4ml project was not written (no firmware)', file=str(header),
                           hint='hls4ml writes firmware/ on write() or compile(); rerun `hsbinet lower`')
    proto = re.search(rf'void\s+{re.escape(top)}\s*\((.*?)\)\s*;', header.read_text(), re.S)
    if not proto:
        raise HsbinetError('Top function prototype not found', file=str(header), key=top)
    args = re.findall(r'hls::stream<\s*(\w+)\s*>\s*&\s*(\w+)', proto.group(1))
    widths = _type_widths(defines.read_text())
    ins, outs = _config_shapes(text, 'InputShapes'), _config_shapes(text, 'OutputShapes')
    ports = []
    for ctype, name in args:
        if ctype not in widths:
            raise HsbinetError('Cannot size a stream port', file=str(defines), key=ctype,
                               expected='typedef nnet::array<ap_fixed<W,I>, N> or ap_fixed<W,I>')
        bits, n = widths[ctype]
        direction = 'out' if name in outs else 'in' if name in ins else ('out' if name.endswith('_out') else 'in')
        shape = outs.get(name) or ins.get(name) or []
        ports.append(StreamPort(name, direction, ctype, bits, n, -(-bits * n // 8) * 8, shape))
    if not any(p.direction == 'in' for p in ports) or not any(p.direction == 'out' for p in ports):
        raise HsbinetError('The top function needs stream inputs and an output', file=str(header),
                           found=', '.join(f'{p.name} ({p.direction})' for p in ports))
    unc = '27%'
    if ptcl.is_file():
        m = re.search(r'set clock_uncertainty (\S+)', ptcl.read_text())
        unc = m.group(1) if m else unc
    digest = _tree_sha256(prj_dir, ['firmware', f'{top}_test.cpp', 'tb_data'])
    return HlsProject(prj_dir.resolve(), top, backend, io_type, unc, ports, digest)


# ----------------------------------------------------------------------------- script text

def _project_tcl(h: HlsProject, part: Part, clock_mhz: float, board: str | None, board_part: str | None) -> str:
    axis = ' '.join(p.name for p in h.ports)
    return f'''# project.tcl -- settings sourced by every script of this vendor project (generated by hsbinet).
# hls4ml's report reader (hls4ml.report.parse_vivado_report) reads the two quoted lines below.
variable project_name
set project_name "{h.top}"
variable backend
set backend "vitis"

set top {h.top}
set part {part.vendor_part}
set part_key {part.key}
set board {board or '""'}
set board_part {board_part or '""'}
set has_ps {int(part.key in PS)}
# clock: {clock_mhz:g} MHz -> period in ns; uncertainty as hls4ml set it for this project
set clock_mhz {clock_mhz:g}
set clock_period {1000.0 / clock_mhz:.3f}
set clock_uncertainty {h.clock_uncertainty}
set axis_ports {{{axis}}}
set ip_vendor {IP_VENDOR}
set ip_library {IP_LIBRARY}
set ip_version {IP_VERSION}
set hls_solution {HLS_SOLUTION}
set bd_project {BD_PROJECT}
set bd_name {BD_NAME}
set jobs 4
# 01_hls_synth.tcl steps: C simulation and C/RTL co-simulation are off (the bit-exact check is
# `hsbinet csim`); set cosim 1 to co-simulate the RTL against tb_data/ (hours for a full frame).
array set opt {{
    csim   0
    synth  1
    cosim  0
    export 1
}}
'''


def _hls_tcl(h: HlsProject) -> str:
    directives = '\n'.join(f'set_directive_interface -mode axis -register_mode both $top {p.name}' for p in h.ports)
    return f'''# 01_hls_synth.tcl -- Vitis HLS: C synthesis of the hls4ml io_stream design, export as a Vivado IP.
#   Vitis HLS 2023.2:        vitis_hls -f 01_hls_synth.tcl
#   Vitis 2024.1 / 2024.2:   vitis-run --mode hls --tcl 01_hls_synth.tcl
# Reports: ${{top}}_prj/${{hls_solution}}/syn/report/csynth.xml (+ one <module>_csynth.xml per layer).
# IP:      ${{top}}_prj/${{hls_solution}}/impl/ip (VLNV ${{ip_vendor}}:${{ip_library}}:${{top}}:${{ip_version}}).
# Based on hls4ml's build_prj.tcl (same sources, flags and config_* settings), with the part and
# clock of this build, AXI4-Stream ports and a free-running (ap_ctrl_none) block protocol.
set tcldir [file dirname [file normalize [info script]]]
cd $tcldir
source [file join $tcldir project.tcl]

open_project -reset ${{top}}_prj
set_top $top
add_files hls_src/firmware/${{top}}.cpp -cflags "-std=c++0x"
add_files -tb hls_src/${{top}}_test.cpp -cflags "-std=c++0x"
add_files -tb hls_src/firmware/weights
if {{[file isdirectory hls_src/tb_data]}} {{ add_files -tb hls_src/tb_data }}

open_solution -reset $hls_solution -flow_target vivado
set_part $part
create_clock -period $clock_period -name default
set_clock_uncertainty $clock_uncertainty default
config_compile -name_max_length 80
config_schedule -enable_dsp_full_reg=false
catch {{config_array_partition -maximum_size 4096}}

# Stream ports as AXI4-Stream (restates hls4ml's "#pragma HLS INTERFACE axis"), registered both
# ways; no ap_start/ap_done: the dataflow design runs whenever data arrives (the DMAs or the
# payload interface pace it), so nothing has to drive a control register.
{directives}
set_directive_interface -mode ap_ctrl_none $top

if {{$opt(csim)}} {{ csim_design }}
if {{$opt(synth)}} {{ csynth_design }}
if {{$opt(cosim)}} {{ cosim_design -trace_level none }}
if {{$opt(export)}} {{
    export_design -format ip_catalog -vendor $ip_vendor -library $ip_library -ipname $top \\
        -version $ip_version -description "HS-BiNet binary pan-sharpening accelerator (hls4ml io_stream)"
}}
exit
'''


TLAST_V = '''// hsbinet_axis_tlast.v -- pass-through AXI4-Stream stage that asserts TLAST on the last beat of a frame.
// The hls4ml output stream has no TLAST; the AXI DMA S2MM channel ends a transfer on TLAST.
// BEATS = output pixels per frame (one beat = one pixel, all channels).
`timescale 1ns / 1ps
module hsbinet_axis_tlast #(
    parameter integer DATA_WIDTH = 128,
    parameter integer BEATS = 256
) (
    (* X_INTERFACE_INFO = "xilinx.com:signal:clock:1.0 aclk CLK" *)
    (* X_INTERFACE_PARAMETER = "ASSOCIATED_BUSIF s_axis:m_axis, ASSOCIATED_RESET aresetn" *)
    input  wire                  aclk,
    (* X_INTERFACE_INFO = "xilinx.com:signal:reset:1.0 aresetn RST" *)
    (* X_INTERFACE_PARAMETER = "POLARITY ACTIVE_LOW" *)
    input  wire                  aresetn,
    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    output wire [DATA_WIDTH-1:0] m_axis_tdata,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast
);
    reg [31:0] count;
    assign m_axis_tdata  = s_axis_tdata;
    assign m_axis_tvalid = s_axis_tvalid;
    assign s_axis_tready = m_axis_tready;
    assign m_axis_tlast  = (count == BEATS - 1);
    always @(posedge aclk) begin
        if (!aresetn)
            count <= 0;
        else if (s_axis_tvalid && m_axis_tready)
            count <= (count == BEATS - 1) ? 0 : count + 1;
    end
endmodule
'''


def _bd_common_head(h: HlsProject) -> str:
    checks = '\n'.join(f'check_tdata accel/{p.name} {p.tdata_bytes}' for p in h.ports)
    return f'''# 02_block_design.tcl -- Vivado: project, block design around the HLS IP, HDL wrapper.
#   vivado -mode batch -source 02_block_design.tcl      (after 01_hls_synth.tcl exported the IP)
set tcldir [file dirname [file normalize [info script]]]
cd $tcldir
source [file join $tcldir project.tcl]

create_project -force $bd_project vivado -part $part
if {{$board_part ne ""}} {{
    if {{[llength [get_board_parts -quiet $board_part]]}} {{
        set_property board_part $board_part [current_project]
    }} else {{
        puts "WARNING: board files for $board_part are not installed; building for the bare part $part"
        set board_part ""
    }}
}}
set_property ip_repo_paths [file join $tcldir ${{top}}_prj $hls_solution impl ip] [current_project]
update_ip_catalog
set hls_vlnv ${{ip_vendor}}:${{ip_library}}:${{top}}:${{ip_version}}
if {{![llength [get_ipdefs -quiet $hls_vlnv]]}} {{
    error "hsbinet: HLS IP $hls_vlnv not found; run 01_hls_synth.tcl first"
}}
add_files -fileset constrs_1 -norecurse [file join $tcldir constraints ${{top}}_${{part_key}}.xdc]

create_bd_design $bd_name
create_bd_cell -type ip -vlnv $hls_vlnv accel

# The generator sized the DMAs from firmware/defines.h; stop if Vitis HLS packed a port differently.
proc check_tdata {{pin expect}} {{
    set got [get_property CONFIG.TDATA_NUM_BYTES [get_bd_intf_pins $pin]]
    if {{$got != $expect}} {{
        error "hsbinet: $pin has TDATA_NUM_BYTES=$got, expected $expect; regenerate with `hsbinet build`"
    }}
}}
{checks}
'''


def _bd_zynq_tcl(h: HlsProject, part: Part) -> str:
    ps = PS[part.key]
    ins = [p for p in h.ports if p.direction == 'in']
    outs = [p for p in h.ports if p.direction == 'out']
    lines = [_bd_common_head(h)]
    cfg = ps['config']  # $clock_mhz is substituted by Tcl (project.tcl)
    if len(outs) != 1:
        raise HsbinetError('The Zynq block design streams exactly one output back through a DMA',
                           key='top-level outputs', found=', '.join(p.name for p in outs) or 'none')
    lines.append(f'''# ---- processing system: PL clock {ps['clk']} at $clock_mhz MHz (the PL clock comes from the PS)
create_bd_cell -type ip -vlnv {ps['vlnv']} ps
if {{$board_part ne ""}} {{
    apply_bd_automation -rule {ps['rule']} -config {{{'make_external "FIXED_IO, DDR" ' if part.key == 'XC7Z020' else ''}apply_board_preset "1"}} [get_bd_cells ps]
}} else {{
    {"apply_bd_automation -rule " + ps['rule'] + ' -config {make_external "FIXED_IO, DDR" apply_board_preset "0"} [get_bd_cells ps]' if part.key == 'XC7Z020' else '# no board preset: PS defaults (DDR/MIO settings come from the board design later)'}
}}
set_property -dict [list {cfg}] [get_bd_cells ps]
create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset rst_pl
connect_bd_net [get_bd_pins ps/{ps['clk']}] [get_bd_pins rst_pl/slowest_sync_clk]
connect_bd_net [get_bd_pins ps/{ps['resetn']}] [get_bd_pins rst_pl/ext_reset_in]
''')
    # DMAs: one per input stream (MM2S); the first one also carries the output (S2MM)
    dma_of = {}
    for i, p in enumerate(ins):
        dma = f'dma_{p.name}'
        dma_of[p.name] = dma
        with_s2mm = i == 0 and outs
        out = outs[0] if with_s2mm else None
        mm_bits = max(32, p.dma_bytes * 8, (out.dma_bytes * 8) if out else 0)
        props = ['CONFIG.c_include_sg {0}', 'CONFIG.c_sg_length_width {26}',
                 f'CONFIG.c_addr_width {{{ps["addr_width"]}}}', 'CONFIG.c_include_mm2s {1}',
                 f'CONFIG.c_m_axis_mm2s_tdata_width {{{p.dma_bytes * 8}}}',
                 f'CONFIG.c_m_axi_mm2s_data_width {{{mm_bits}}}', 'CONFIG.c_mm2s_burst_size {16}',
                 f'CONFIG.c_include_s2mm {{{1 if out else 0}}}']
        if out:
            props += [f'CONFIG.c_m_axi_s2mm_data_width {{{mm_bits}}}', 'CONFIG.c_s2mm_burst_size {16}']
        lines.append(f'''# ---- AXI DMA {dma}: MM2S -> {p.name} ({p.tdata_bits}-bit pixels, {p.beats} beats/frame)'''
                     + (f'; S2MM <- {out.name} ({out.tdata_bits}-bit pixels, {out.beats} beats/frame)' if out else '')
                     + f'''
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma {dma}
set_property -dict [list {' '.join(props)}] [get_bd_cells {dma}]
''')
        lines.append(_axis_link(f'{dma}/M_AXIS_MM2S', p.dma_bytes, f'accel/{p.name}', p.tdata_bytes, f'conv_{p.name}'))
    for o in outs:
        dma = dma_of[ins[0].name]
        lines.append(f'''# ---- {o.name}: TLAST after {o.beats} beats (one frame), then to the DMA's S2MM channel
add_files -norecurse [file join $tcldir rtl hsbinet_axis_tlast.v]
update_compile_order -fileset sources_1
create_bd_cell -type module -reference hsbinet_axis_tlast tlast_{o.name}
set_property -dict [list CONFIG.DATA_WIDTH {{{o.tdata_bits}}} CONFIG.BEATS {{{o.beats}}}] [get_bd_cells tlast_{o.name}]
connect_bd_intf_net [get_bd_intf_pins accel/{o.name}] [get_bd_intf_pins tlast_{o.name}/s_axis]
''')
        lines.append(_axis_link(f'tlast_{o.name}/m_axis', o.tdata_bytes, f'{dma}/S_AXIS_S2MM', o.dma_bytes,
                                f'conv_{o.name}'))
    dmas = [dma_of[p.name] for p in ins]
    masters = []
    for i, d in enumerate(dmas):
        masters.append(f'{d}/M_AXI_MM2S')
        if i == 0 and outs:
            masters.append(f'{d}/M_AXI_S2MM')
    irqs = []
    for i, d in enumerate(dmas):
        irqs.append(f'{d}/mm2s_introut')
        if i == 0 and outs:
            irqs.append(f'{d}/s2mm_introut')
    ctrl = '\n'.join(f'connect_bd_intf_net [get_bd_intf_pins ctrl_ic/M{i:02d}_AXI] [get_bd_intf_pins {d}/S_AXI_LITE]'
                     for i, d in enumerate(dmas))
    mem = '\n'.join(f'connect_bd_intf_net [get_bd_intf_pins {m}] [get_bd_intf_pins mem_ic/S{i:02d}_AXI]'
                    for i, m in enumerate(masters))
    irq = '\n'.join(f'connect_bd_net [get_bd_pins {s}] [get_bd_pins irq_concat/In{i}]' for i, s in enumerate(irqs))
    clk_pins = [f'ps/{ps["master_clk"]}', f'ps/{ps["slave_clk"]}', 'ctrl_ic/aclk', 'mem_ic/aclk', 'accel/ap_clk']
    for d in dmas:
        clk_pins += [f'{d}/s_axi_lite_aclk', f'{d}/m_axi_mm2s_aclk']
    if outs:
        clk_pins.append(f'{dmas[0]}/m_axi_s2mm_aclk')
        clk_pins += [f'tlast_{o.name}/aclk' for o in outs]
    conv_clk = [f'conv_{p.name}' for p in h.ports if p.dma_bytes != p.tdata_bytes]
    conv_wiring = (f"""foreach cell {{{' '.join(conv_clk)}}} {{{{
    connect_bd_net [get_bd_pins ps/{ps['clk']}] [get_bd_pins $cell/aclk]
    connect_bd_net [get_bd_pins rst_pl/peripheral_aresetn] [get_bd_pins $cell/aresetn]
}}}}
""" if conv_clk else '')
    rst_pins = ['ctrl_ic/aresetn', 'mem_ic/aresetn', 'accel/ap_rst_n'] + [f'{d}/axi_resetn' for d in dmas]
    rst_pins += [f'tlast_{o.name}/aresetn' for o in outs]
    lines.append(f'''# ---- control (PS master -> DMA registers) and memory (DMA masters -> PS HP0) interconnects
create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect ctrl_ic
set_property -dict [list CONFIG.NUM_SI {{1}} CONFIG.NUM_MI {{{len(dmas)}}}] [get_bd_cells ctrl_ic]
connect_bd_intf_net [get_bd_intf_pins ps/{ps['master']}] [get_bd_intf_pins ctrl_ic/S00_AXI]
{ctrl}
create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect mem_ic
set_property -dict [list CONFIG.NUM_SI {{{len(masters)}}} CONFIG.NUM_MI {{1}}] [get_bd_cells mem_ic]
{mem}
connect_bd_intf_net [get_bd_intf_pins mem_ic/M00_AXI] [get_bd_intf_pins ps/{ps['slave']}]

# ---- interrupts (DMA done) to the PS
create_bd_cell -type ip -vlnv xilinx.com:ip:xlconcat irq_concat
set_property CONFIG.NUM_PORTS {{{len(irqs)}}} [get_bd_cells irq_concat]
{irq}
connect_bd_net [get_bd_pins irq_concat/dout] [get_bd_pins ps/{ps['irq']}]

# ---- one clock domain: the PS PL clock; one synchronised reset
foreach pin {{{' '.join(clk_pins)}}} {{ connect_bd_net [get_bd_pins ps/{ps['clk']}] [get_bd_pins $pin] }}
{conv_wiring}foreach pin {{{' '.join(rst_pins)}}} {{ connect_bd_net [get_bd_pins rst_pl/peripheral_aresetn] [get_bd_pins $pin] }}

assign_bd_address
puts "hsbinet: PL clock requested $clock_mhz MHz, PS delivers [get_property {ps['actual_freq']} [get_bd_cells ps]] MHz"
''')
    lines.append(_bd_tail())
    return '\n'.join(lines)


def _axis_link(src: str, src_bytes: int, dst: str, dst_bytes: int, conv: str) -> str:
    if src_bytes == dst_bytes:
        return f'connect_bd_intf_net [get_bd_intf_pins {src}] [get_bd_intf_pins {dst}]\n'
    return (f'''# width conversion {src_bytes} -> {dst_bytes} bytes (integer ratio; pixels stay contiguous in memory)
create_bd_cell -type ip -vlnv xilinx.com:ip:axis_dwidth_converter {conv}
set_property -dict [list CONFIG.S_TDATA_NUM_BYTES {{{src_bytes}}} CONFIG.M_TDATA_NUM_BYTES {{{dst_bytes}}}] [get_bd_cells {conv}]
connect_bd_intf_net [get_bd_intf_pins {src}] [get_bd_intf_pins {conv}/S_AXIS]
connect_bd_intf_net [get_bd_intf_pins {conv}/M_AXIS] [get_bd_intf_pins {dst}]
''')


def _bd_tail() -> str:
    return '''validate_bd_design
save_bd_design
set wrapper [make_wrapper -files [get_files ${bd_name}.bd] -top]
add_files -norecurse $wrapper
set_property top ${bd_name}_wrapper [current_fileset]
update_compile_order -fileset sources_1
puts "hsbinet: block design ${bd_name} written; next: vivado -mode batch -source 03_impl_bitstream.tcl"
close_project
exit
'''


def _bd_nops_tcl(h: HlsProject) -> str:
    ext = '\n'.join(
        f'make_bd_intf_pins_external [get_bd_intf_pins accel/{p.name}]\n'
        f'set_property name {"s_axis" if p.direction == "in" else "m_axis"}_{p.name} '
        f'[get_bd_intf_ports {p.name}_0]' for p in h.ports)
    busif = ':'.join(f'{"s_axis" if p.direction == "in" else "m_axis"}_{p.name}' for p in h.ports)
    return _bd_common_head(h) + f'''# ---- no processor on this part: the accelerator's AXI4-Stream ports become top-level ports.
# The payload's own data interface (e.g. a SpaceWire codec or Serial RapidIO endpoint with an AXIS
# user side) attaches here in the integrator's design; this block design is the drop-in core.
{ext}
create_bd_port -dir I -type clk -freq_hz [expr {{int($clock_mhz * 1000000)}}] ap_clk
set_property CONFIG.ASSOCIATED_BUSIF {{{busif}}} [get_bd_ports ap_clk]
create_bd_port -dir I -type rst ap_rst_n
set_property CONFIG.POLARITY ACTIVE_LOW [get_bd_ports ap_rst_n]
set_property CONFIG.ASSOCIATED_RESET {{ap_rst_n}} [get_bd_ports ap_clk]
connect_bd_net [get_bd_ports ap_clk] [get_bd_pins accel/ap_clk]
connect_bd_net [get_bd_ports ap_rst_n] [get_bd_pins accel/ap_rst_n]
''' + _bd_tail()


def _impl_tcl(part: Part) -> str:
    xsa = ('write_hw_platform -fixed -include_bit -force -file [file join output ${top}_${part_key}.xsa]\n'
           'puts "hsbinet: hardware platform output/${top}_${part_key}.xsa (for Vitis / PYNQ software)"\n'
           if part.key in PS else '')
    return f'''# 03_impl_bitstream.tcl -- Vivado: synthesis, implementation, reports and bitstream.
#   vivado -mode batch -source 03_impl_bitstream.tcl      (after 02_block_design.tcl)
# Reports (read by `hsbinet report` through hw/vendor_reports.py):
#   reports/synth_utilization.rpt, synth_utilization_hier.rpt, synth_timing_summary.rpt
#   reports/impl_utilization.rpt, impl_utilization_hier.rpt, impl_timing_summary.rpt
# Bitstream: output/${{top}}_${{part_key}}.bit
set tcldir [file dirname [file normalize [info script]]]
cd $tcldir
source [file join $tcldir project.tcl]
file mkdir reports output
open_project [file join vivado ${{bd_project}}.xpr]

proc run_ok {{run}} {{
    if {{[get_property PROGRESS [get_runs $run]] ne "100%" || [string match "*ERROR*" [get_property STATUS [get_runs $run]]]}} {{
        error "hsbinet: $run failed: [get_property STATUS [get_runs $run]] (see [get_property DIRECTORY [get_runs $run]])"
    }}
}}

reset_run synth_1
launch_runs synth_1 -jobs $jobs
wait_on_run synth_1
run_ok synth_1
open_run synth_1 -name synth_1
report_utilization -file reports/synth_utilization.rpt
report_utilization -hierarchical -file reports/synth_utilization_hier.rpt
report_timing_summary -max_paths 10 -file reports/synth_timing_summary.rpt
close_design

launch_runs impl_1 -to_step write_bitstream -jobs $jobs
wait_on_run impl_1
run_ok impl_1
open_run impl_1
report_utilization -file reports/impl_utilization.rpt
report_utilization -hierarchical -file reports/impl_utilization_hier.rpt
report_timing_summary -max_paths 10 -report_unconstrained -file reports/impl_timing_summary.rpt
set wns [get_property SLACK [get_timing_paths -delay_type max -max_paths 1]]
if {{$wns ne "" && $wns < 0}} {{
    puts "WARNING: hsbinet: timing NOT met (WNS $wns ns at $clock_mhz MHz); see reports/impl_timing_summary.rpt"
}}
set bits [glob -nocomplain [file join [get_property DIRECTORY [get_runs impl_1]] *.bit]]
if {{![llength $bits]}} {{ error "hsbinet: impl_1 wrote no bitstream" }}
file copy -force [lindex $bits 0] [file join output ${{top}}_${{part_key}}.bit]
puts "hsbinet: bitstream output/${{top}}_${{part_key}}.bit"
{xsa}close_project
exit
'''


def _xdc(h: HlsProject, part: Part, clock_mhz: float) -> str:
    period = 1000.0 / clock_mhz
    head = f'''# {h.top}_{part.key}.xdc -- constraints for the HS-BiNet accelerator on {part.vendor_part}
# Clock: {clock_mhz:g} MHz = {period:.3f} ns (hsbinet build --clock).
'''
    if part.key in PS:
        ps = PS[part.key]
        return head + f'''#
# The programmable-logic clock comes from the processing system ({ps['clk']}), configured to the
# requested frequency in 02_block_design.tcl. The PS IP constrains that clock itself (its own XDC
# creates the clock on the PS output), so no create_clock is needed here; the PLL divider may round
# the frequency: 02_block_design.tcl prints what the PS delivers.
#
# Pins: the DDR and MIO pins are fixed by the PS (and the board preset when board files are
# installed). This design has no PL I/O. Placeholders for a board's PL pins, e.g. a status LED:
# set_property PACKAGE_PIN <pin> [get_ports led_done]
# set_property IOSTANDARD LVCMOS33 [get_ports led_done]
'''
    return head + f'''create_clock -period {period:.3f} -name ap_clk [get_ports ap_clk]
# The reset input is asynchronous to the design clock.
set_false_path -from [get_ports ap_rst_n]

# ---- pin placeholders: a board file / the payload schematic defines these -----------------------
# The clock input (e.g. a differential oscillator through an IBUFDS/MMCM in the payload design):
# set_property PACKAGE_PIN <pin> [get_ports ap_clk]
# set_property IOSTANDARD  <standard> [get_ports ap_clk]
# set_property PACKAGE_PIN <pin> [get_ports ap_rst_n]
# set_property IOSTANDARD  <standard> [get_ports ap_rst_n]
# The AXI4-Stream ports (s_axis_*, m_axis_*) are meant to connect to the payload's data interface
# (SpaceWire / SRIO core) inside the FPGA, not to pins.
#
# ---- evaluation-only bitstream -------------------------------------------------------------------
# Until real pins are assigned, the stream ports are top-level I/O without LOC/IOSTANDARD, which
# write_bitstream refuses (DRC NSTD-1, UCIO-1). The two lines below downgrade those checks so the
# flow produces a bitstream for resource and timing closure. NEVER load such a bitstream on
# hardware; delete these lines once pins are assigned.
set_property SEVERITY {{Warning}} [get_drc_checks NSTD-1]
set_property SEVERITY {{Warning}} [get_drc_checks UCIO-1]
'''


def _run_all_sh(h: HlsProject) -> str:
    return f'''#!/usr/bin/env bash
# run_all.sh -- the whole vendor flow for the HS-BiNet accelerator ({h.top}), in order:
#   1. Vitis HLS  01_hls_synth.tcl       C synthesis + IP export  -> {h.top}_prj/{HLS_SOLUTION}/
#   2. Vivado     02_block_design.tcl    block design + wrapper   -> vivado/{BD_PROJECT}.xpr
#   3. Vivado     03_impl_bitstream.tcl  synth, impl, reports     -> reports/, output/*.bit
# Needs AMD Vitis HLS and Vivado {TOOL_VERSION} (2024.1/2024.2: vitis-run replaces vitis_hls) on PATH.
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
"${{HLS[@]}}" 01_hls_synth.tcl > logs/01_hls_synth.log 2>&1
vivado -mode batch -nojournal -nolog -source 02_block_design.tcl > logs/02_block_design.log 2>&1
vivado -mode batch -nojournal -nolog -source 03_impl_bitstream.tcl > logs/03_impl_bitstream.log 2>&1
echo "bitstream: $(ls output/*.bit)"
'''


def _readme(h: HlsProject, part: Part, board: str | None, clock_mhz: float) -> str:
    ports = '\n'.join(f'| `{p.name}` | {p.direction} | `{p.ctype}` | {p.elements} x {p.element_bits} bit | '
                      f'{p.tdata_bits} | {p.beats} |' for p in h.ports)
    if part.key in PS:
        bd = (f'Zynq design: processing system ({PS[part.key]["vlnv"].split(":")[-1]}), one AXI DMA per input stream '
              '(MM2S), the output back through the first DMA (S2MM) after a TLAST generator, SmartConnect '
              'interconnects (PS master -> DMA registers; DMA masters -> PS HP0), DMA interrupts to the PS, '
              'one clock (the PS PL clock) and a proc_sys_reset. Also writes an .xsa for software.')
    else:
        bd = ('No processor: the HLS IP with its AXI4-Stream ports exported as top-level interfaces, an '
              'external clock `ap_clk` and active-low reset `ap_rst_n`. The payload\'s data interface '
              '(SpaceWire, Serial RapidIO, ...) attaches to these streams in the integrating design. The '
              'constraints downgrade two I/O DRCs so an evaluation bitstream (resources, timing) can be '
              'written without a pinout: never load it on hardware.')
    return f'''# Vendor project: HS-BiNet accelerator `{h.top}` on {part.vendor_part}

Generated by `hsbinet build` from the hls4ml io_stream project `{h.path}`
(content sha256 `{h.sha256[:16]}...`). Part {part.key} ({part.family}){f", board {board}" if board else ""};
clock {clock_mhz:g} MHz ({1000.0 / clock_mhz:.3f} ns). Tools: AMD Vitis HLS and Vivado {TOOL_VERSION}
(Vitis 2024.1/2024.2 run the HLS script through `vitis-run --mode hls --tcl`).

Run everything: `bash run_all.sh` (logs in `logs/`), or step by step:

    vitis_hls -f 01_hls_synth.tcl                       # or: vitis-run --mode hls --tcl 01_hls_synth.tcl
    vivado -mode batch -source 02_block_design.tcl
    vivado -mode batch -source 03_impl_bitstream.tcl

| File | What it does |
|---|---|
| `project.tcl` | settings every script sources: part, clock period, top function, IP name, step switches (`opt(cosim)` off by default) |
| `01_hls_synth.tcl` | Vitis HLS project `{h.top}_prj`: sources from `hls_src/`, `set_part`, `create_clock`, AXI4-Stream ports, `ap_ctrl_none`, `csynth_design`, `export_design -format ip_catalog` |
| `02_block_design.tcl` | Vivado project `vivado/{BD_PROJECT}.xpr`, block design `{BD_NAME}`, `validate_bd_design`, `make_wrapper` |
| `03_impl_bitstream.tcl` | `launch_runs synth_1`, `launch_runs impl_1 -to_step write_bitstream`, utilisation (flat + hierarchical) and timing-summary reports in `reports/`, bitstream in `output/` |
| `constraints/{h.top}_{part.key}.xdc` | clock constraint and commented pin placeholders |
| `rtl/hsbinet_axis_tlast.v` | marks the last beat of each output frame (AXI DMA S2MM needs TLAST) |
| `hls_src/` | the hls4ml sources (firmware, testbench, tb_data) this project was generated from |
| `manifest.json` | files, part, board, clock, hls4ml project path and hash, required tool versions |

Block design: {bd}

Stream ports (one beat = one pixel with all its channels, channels-last):

| port | dir | C type | element | TDATA bits | beats / frame |
|---|---|---|---|---|---|
{ports}

Reports the flow leaves and `hsbinet report` reads (hw/vendor_reports.py): Vitis HLS
`{h.top}_prj/{HLS_SOLUTION}/syn/report/csynth.xml` (latency and II in cycles, estimated clock,
resources) and `<module>_csynth.xml` (per layer); Vivado `reports/impl_utilization.rpt`,
`impl_utilization_hier.rpt`, `impl_timing_summary.rpt` (WNS/TNS/WHS in ns).
'''


# ----------------------------------------------------------------------------- writer

def _is_ours(vendor: Path) -> bool:
    try:
        return json.loads((vendor / 'manifest.json').read_text()).get('format') == VENDOR_FORMAT
    except (OSError, ValueError):
        return False


def write_vendor_project(hls_project_dir, out_dir, part, clock_mhz: float = 200.0, board: str | None = None) -> dict:
    """Write ``<out_dir>/vendor/`` for the hls4ml project ``hls_project_dir``; returns the manifest.

    ``part``: a :class:`hw.parts.Part` or a name :func:`hw.parts.get_part` knows. ``clock_mhz``:
    the accelerator clock in MHz. ``board``: board name (ZCU102, PYNQ-Z2) whose Vivado board part
    is applied when its board files are installed. An existing ``vendor/`` folder is replaced only
    if hsbinet wrote it.
    """
    part = part if isinstance(part, Part) else get_part(part)
    try:
        clock_mhz = float(clock_mhz)
    except (TypeError, ValueError):
        raise HsbinetError('Clock must be a number in MHz', key='--clock', found=repr(clock_mhz)) from None
    if not 10.0 <= clock_mhz <= 800.0:
        raise HsbinetError('Clock out of range', key='--clock', expected='10 to 800 MHz', found=f'{clock_mhz:g}')
    h = read_hls_project(hls_project_dir)
    board_part = part.board_part if board else None
    out_dir = Path(out_dir)
    vendor = out_dir / 'vendor'
    if vendor.exists() and not _is_ours(vendor):
        raise HsbinetError('Output folder exists and is not an hsbinet vendor project', file=str(vendor),
                           hint='choose another --out or remove it')
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f'.vendor.partial-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        files: dict[str, str] = {
            'project.tcl': _project_tcl(h, part, clock_mhz, board, board_part),
            '01_hls_synth.tcl': _hls_tcl(h),
            '02_block_design.tcl': _bd_zynq_tcl(h, part) if part.key in PS else _bd_nops_tcl(h),
            '03_impl_bitstream.tcl': _impl_tcl(part),
            f'constraints/{h.top}_{part.key}.xdc': _xdc(h, part, clock_mhz),
            'run_all.sh': _run_all_sh(h),
            'README.md': _readme(h, part, board, clock_mhz),
        }
        if part.key in PS:
            files['rtl/hsbinet_axis_tlast.v'] = TLAST_V
        for rel, text in files.items():
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        (tmp / 'run_all.sh').chmod(0o755)
        src = Path(hls_project_dir)
        shutil.copytree(src / 'firmware', tmp / 'hls_src' / 'firmware',
                        ignore=shutil.ignore_patterns(*(f'*{x}' for x in _BUILD_PRODUCTS)))
        copied = ['hls_src/firmware/']
        for name in (f'{h.top}_test.cpp',):
            if (src / name).is_file():
                shutil.copy2(src / name, tmp / 'hls_src' / name)
                copied.append(f'hls_src/{name}')
        if (src / 'tb_data').is_dir():
            shutil.copytree(src / 'tb_data', tmp / 'hls_src' / 'tb_data')
            copied.append('hls_src/tb_data/')
        steps = [
            {'name': 'hls', 'tool': 'vitis_hls', 'script': '01_hls_synth.tcl',
             'expects': f'{h.top}_prj/{HLS_SOLUTION}/syn/report/csynth.xml'},
            {'name': 'block_design', 'tool': 'vivado', 'script': '02_block_design.tcl',
             'expects': f'vivado/{BD_PROJECT}.xpr'},
            {'name': 'implementation', 'tool': 'vivado', 'script': '03_impl_bitstream.tcl',
             'expects': f'output/{h.top}_{part.key}.bit'},
        ]
        manifest = {
            'format': VENDOR_FORMAT,
            'created_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
            'part': part.to_dict(), 'board': board, 'board_part': board_part,
            'has_ps': part.key in PS, 'evaluation_bitstream_only': part.key not in PS,
            'clock_mhz': clock_mhz, 'clock_period_ns': round(1000.0 / clock_mhz, 3),
            'hls_project': h.to_dict(),
            'ip_vlnv': f'{IP_VENDOR}:{IP_LIBRARY}:{h.top}:{IP_VERSION}',
            'tools_required': TOOLS_REQUIRED, 'tool_version_targeted': TOOL_VERSION,
            'steps': steps, 'run': 'bash run_all.sh',
            'bitstream': steps[-1]['expects'],
            'files': sorted(files) + copied + ['manifest.json'],
        }
        (tmp / 'manifest.json').write_text(json.dumps(manifest, indent=2))
        if vendor.exists():
            old = out_dir / f'.vendor.old-{os.getpid()}'
            os.replace(vendor, old)
            os.replace(tmp, vendor)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, vendor)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest['path'] = str(vendor)
    return manifest

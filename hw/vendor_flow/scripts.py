"""The vendor project's scripts and texts other than the block design, filled from ``templates/``.

Units: ``clock_mhz`` in MHz, periods in ns (3 decimals), widths in bits.
"""

from __future__ import annotations

from hw.parts import Part
from hw.vendor_flow.block_design import PS, has_ps, s2mm_plan
from hw.vendor_flow.hls_project import HlsProject
from hw.vendor_flow.templates import render

TOOL_VERSION = '2023.2'
IP_VENDOR, IP_LIBRARY, IP_VERSION = 'hsbinet', 'hls', '1.0'
HLS_SOLUTION = 'solution1'
BD_PROJECT, BD_NAME = 'hsbinet_bd', 'design_1'


def _beats(n: int) -> str:
    return f'{n} beat' + ('' if n == 1 else 's')


def _period(clock_mhz: float) -> str:
    return f'{1000.0 / clock_mhz:.3f}'


def project_tcl(h: HlsProject, part: Part, clock_mhz: float, board: str | None, board_part: str | None) -> str:
    """project.tcl: the settings every other script sources (part, clock, top, IP and project names)."""
    return render('project.tcl', top=h.top, vendor_part=part.vendor_part, part_key=part.key,
                  board=board or '""', board_part=board_part or '""', has_ps=int(has_ps(part)),
                  clock_mhz=f'{clock_mhz:g}', clock_period=_period(clock_mhz),
                  clock_uncertainty=h.clock_uncertainty, axis_ports=' '.join(p.name for p in h.ports),
                  core=h.core, tdata_bits=h.axis['tdata_bits'], tlast=h.axis['tlast'],
                  axis_beats=' '.join(f'{p.name} {p.beats}' for p in h.ports),
                  ip_vendor=IP_VENDOR, ip_library=IP_LIBRARY, ip_version=IP_VERSION, hls_solution=HLS_SOLUTION,
                  bd_project=BD_PROJECT, bd_name=BD_NAME)


def hls_tcl(h: HlsProject) -> str:
    """01_hls_synth.tcl: Vitis HLS C synthesis of the adapter top ``<core>_axis`` (design sources: the
    hls4ml core and the adapter; not the adapter's C-simulation bridge), its three stream ports as
    AXI4-Stream, ap_ctrl_none, IP export."""
    return render('01_hls_synth.tcl', tdata_bits=h.axis['tdata_bits'], tlast=h.axis['tlast'],
                  axi_sdata_macro=f'{h.core.upper()}_AXI_SDATA', interface_directives='\n'.join(
                      f'set_directive_interface -mode axis -register_mode both $top {p.name}' for p in h.ports))


def impl_tcl(part: Part) -> str:
    """03_impl_bitstream.tcl: synthesis, implementation, reports, bitstream (+ .xsa on Zynq parts)."""
    return render('03_impl_bitstream.tcl', hardware_platform=render('03_impl_xsa.tcl') if has_ps(part) else '')


def constraints_xdc(h: HlsProject, part: Part, clock_mhz: float) -> str:
    """constraints/<top>_<PART>.xdc: the clock (PS-generated on Zynq parts) and pin placeholders."""
    period = _period(clock_mhz)
    head = render('constraints/head.xdc', top=h.top, part_key=part.key, vendor_part=part.vendor_part,
                  clock_mhz=f'{clock_mhz:g}', period=period)
    if has_ps(part):
        return head + render('constraints/ps.xdc', clk=PS[part.key]['clk'])
    return head + render('constraints/no_ps.xdc', period=period)


def run_all_sh(h: HlsProject) -> str:
    """run_all.sh: the three tool steps in order, logs in logs/; exit 3 when a tool is not on PATH."""
    return render('run_all.sh', top=h.top, hls_solution=HLS_SOLUTION, bd_project=BD_PROJECT,
                  tool_version=TOOL_VERSION)


def readme(h: HlsProject, part: Part, board: str | None, clock_mhz: float) -> str:
    """README.md: what was generated from what, how to run it, the files and the stream ports."""
    tlast_at = {'line': 'last beat of each row', 'frame': 'last beat of the frame'}
    rows = '\n'.join(f'| `{p.name}` | {p.direction} | {p.tdata_bits} | {p.beats} | {tlast_at[p.tlast]} '
                     f'({_beats(p.beats_per_tlast)}) | {p.carries} |' for p in h.ports)
    if has_ps(part):
        plan = s2mm_plan(h)
        bd = render('README_zynq.md', ps_ip=PS[part.key]['vlnv'].split(':')[-1], tlast=h.axis['tlast'],
                    packet='HR row' if h.axis['tlast'] == 'line' else 'frame',
                    s2mm_bytes=plan['s2mm']['transfer_bytes'], s2mm_count=plan['s2mm']['transfers_per_frame'],
                    beat_bytes=h.axis['tdata_bits'] // 8)
    else:
        bd = render('README_no_ps.md')
    return render('README.md', top=h.top, core=h.core, vendor_part=part.vendor_part, hls_project=h.path,
                  tdata_bits=h.axis['tdata_bits'], lanes=h.axis['lanes'], sample_bits=h.axis['sample_bits'],
                  sample_msb=h.axis['sample_bits'] - 1,
                  tlast=h.axis['tlast'],
                  sha256_short=h.sha256[:16], part_key=part.key, family=part.family,
                  board_note=f', board {board}' if board else '', clock_mhz=f'{clock_mhz:g}',
                  period=_period(clock_mhz), tool_version=TOOL_VERSION, bd_project=BD_PROJECT, bd_name=BD_NAME,
                  block_design=bd, port_rows=rows, hls_solution=HLS_SOLUTION)

"""02_block_design.tcl: the Vivado block design around the HLS IP (templates in ``templates/block_design/``).

The HLS IP is the AXI4-Stream adapter ``<top>_axis`` (:mod:`hw.hls.axis`): ports ``s_ms``, ``s_pan``
in and ``m_out`` out, each with TLAST generated inside the verified design (per line or per frame,
design.json ``axis.tlast``), so no TLAST logic is added here.

Zynq parts (:data:`PS`): processing system, one AXI DMA per input stream (MM2S), the output back
through the first DMA (S2MM), width converters where the DMA stream width differs from the HLS
TDATA width, SmartConnect interconnects, interrupts, one clock and reset. The S2MM channel ends a
transfer on TLAST, so software arms one S2MM transfer per TLAST packet: one per HR row
(``tlast: line``) or one per frame (``frame``); :func:`s2mm_plan` refuses a packet longer than the
DMA's length register. The MM2S transfers may be split anywhere on whole beats (the adapter counts
beats and ignores input TLAST).
Parts without a PS: the AXI4-Stream ports become top-level ports with an external clock and reset.
Widths: ``*_bytes`` are TDATA widths in bytes, ``*_bits`` in bits.
"""

from __future__ import annotations

from hw.parts import Part
from hw.vendor_flow.hls_project import HlsProject, StreamPort
from hw.vendor_flow.templates import render
from quant_models.common import HsbinetError

# Zynq parts: the PS configuration keys (pins and properties differ between the two PS IPs).
# board_external / without_board: what apply_bd_automation does with and without a board preset.
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
        'board_external': '',
        'without_board': '# no board preset: PS defaults (DDR/MIO settings come from the board design later)',
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
        'board_external': 'make_external "FIXED_IO, DDR" ',
        'without_board': ('apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 -config '
                          '{make_external "FIXED_IO, DDR" apply_board_preset "0"} [get_bd_cells ps]'),
    },
}


DMA_LENGTH_BITS = 26  # c_sg_length_width: the AXI DMA's buffer length register (bytes), its maximum


def has_ps(part: Part) -> bool:
    """True for the Zynq parts: the block design has a processing system and AXI DMAs."""
    return part.key in PS


def s2mm_plan(h: HlsProject) -> dict:
    """How the Zynq design's AXI DMAs move one frame: S2MM ends a transfer on TLAST, so one S2MM
    transfer per TLAST packet of ``m_out`` (an HR row for ``tlast: line``, the frame for ``frame``);
    MM2S transfers of at most the length register, split on whole beats. Refuses (HsbinetError) a
    TLAST mode the DMA cannot take or a packet longer than the length register."""
    limit = (1 << DMA_LENGTH_BITS) - 1
    out = next(p for p in h.ports if p.direction == 'out')
    if out.tlast not in ('line', 'frame'):
        raise HsbinetError('The Zynq block design cannot move this output with its AXI DMA', key='axis.tlast',
                           expected="'line' (one S2MM transfer per HR row) or 'frame' (one per frame)",
                           found=repr(out.tlast), hint='lower the design again with `--tlast line` or `--tlast frame`')
    if out.tlast_bytes > limit:
        packet = 'HR row' if out.tlast == 'line' else 'frame'
        raise HsbinetError('The output packet between two TLASTs is longer than one AXI DMA transfer', key='axis.tlast',
                           expected=f'<= {limit} bytes per S2MM transfer (the DMA length register is '
                                    f'{DMA_LENGTH_BITS} bits)',
                           found=f'{out.tlast_bytes} bytes per {packet} ({out.beats_per_tlast} beats of '
                                 f'{out.tdata_bytes} bytes)',
                           hint=("lower the design with TLAST per line (`hsbinet lower --tlast line`, hw.tlast: line; "
                                 "tlast='line': one S2MM transfer per HR row)") if out.tlast == 'frame' else
                           'lower a narrower frame or fewer bands, or build for a part without a PS (--part XQRKU060)')
    return {
        'tlast': out.tlast, 'length_register_bits': DMA_LENGTH_BITS,
        's2mm': {'port': out.name, 'transfer_bytes': out.tlast_bytes,
                 'transfers_per_frame': out.beats // out.beats_per_tlast},
        'mm2s': {p.name: {'frame_bytes': p.frame_bytes, 'max_transfer_bytes': limit - limit % p.tdata_bytes,
                          'split_on_bytes': p.tdata_bytes} for p in h.ports if p.direction == 'in'},
    }


def block_design_tcl(h: HlsProject, part: Part) -> str:
    """The whole 02_block_design.tcl for ``part``."""
    head = render('block_design/head.tcl',
                  port_checks='\n'.join(f'check_port accel/{p.name} {p.tdata_bytes}' for p in h.ports))
    tail = render('block_design/tail.tcl')
    if not has_ps(part):
        return head + _no_ps(h) + tail
    return '\n'.join([head, *_zynq(h, PS[part.key]), tail])


def _stream_note(p: StreamPort) -> str:
    return (f'{p.name} ({p.tdata_bits}-bit beats, {p.beats} beats/frame, TLAST per '
            f'{"row" if p.tlast == "line" else "frame"})')


def _axis_link(src: str, src_bytes: int, dst: str, dst_bytes: int, conv: str) -> str:
    """Connect two AXI4-Stream pins, through a width converter ``conv`` when the widths differ."""
    if src_bytes == dst_bytes:
        return f'connect_bd_intf_net [get_bd_intf_pins {src}] [get_bd_intf_pins {dst}]\n'
    return render('block_design/axis_dwidth_converter.tcl', src=src, src_bytes=src_bytes, dst=dst,
                  dst_bytes=dst_bytes, conv=conv)


def _zynq(h: HlsProject, ps: dict) -> list[str]:
    """The Zynq sections of the block design, in order (joined by blank lines)."""
    ins = [p for p in h.ports if p.direction == 'in']
    outs = [p for p in h.ports if p.direction == 'out']
    if len(outs) != 1:
        raise HsbinetError('The Zynq block design streams exactly one output back through a DMA',
                           key='top-level outputs', found=', '.join(p.name for p in outs) or 'none')
    out = outs[0]
    plan = s2mm_plan(h)
    # $clock_mhz in ps['config'] is substituted by Tcl (project.tcl)
    sections = [render('block_design/zynq_ps.tcl', **{k: ps[k] for k in (
        'clk', 'vlnv', 'rule', 'board_external', 'without_board', 'config', 'resetn')})]
    # DMAs: one per input stream (MM2S); the first one also carries the output (S2MM)
    dmas = [f'dma_{p.stream}' for p in ins]
    for i, (p, dma) in enumerate(zip(ins, dmas)):
        s2mm = out if i == 0 else None
        mm_bits = max(32, p.dma_bytes * 8, (s2mm.dma_bytes * 8) if s2mm else 0)
        props = ['CONFIG.c_include_sg {0}', f'CONFIG.c_sg_length_width {{{DMA_LENGTH_BITS}}}',
                 f'CONFIG.c_addr_width {{{ps["addr_width"]}}}', 'CONFIG.c_include_mm2s {1}',
                 f'CONFIG.c_m_axis_mm2s_tdata_width {{{p.dma_bytes * 8}}}',
                 f'CONFIG.c_m_axi_mm2s_data_width {{{mm_bits}}}', 'CONFIG.c_mm2s_burst_size {16}',
                 f'CONFIG.c_include_s2mm {{{1 if s2mm else 0}}}']
        if s2mm:
            props += [f'CONFIG.c_m_axi_s2mm_data_width {{{mm_bits}}}', 'CONFIG.c_s2mm_burst_size {16}']
        s2mm_note = ''
        if s2mm:
            s2mm_note = (f'; S2MM <- {_stream_note(s2mm)}: one S2MM transfer of {plan["s2mm"]["transfer_bytes"]} bytes '
                         f'per TLAST, {plan["s2mm"]["transfers_per_frame"]} per frame')
        sections.append(render('block_design/zynq_dma.tcl', dma=dma, mm2s_stream=_stream_note(p),
                               s2mm_note=s2mm_note, props=' '.join(props)))
        sections.append(_axis_link(f'{dma}/M_AXIS_MM2S', p.dma_bytes, f'accel/{p.name}', p.tdata_bytes,
                                   f'conv_{p.stream}'))
    # the output carries its own TLAST (generated inside the adapter): straight to the S2MM channel
    sections.append(f'# ---- {out.name}: TLAST from the HLS IP itself (axis.tlast = {out.tlast}) '
                    f'-> {dmas[0]}/S_AXIS_S2MM\n'
                    + _axis_link(f'accel/{out.name}', out.tdata_bytes, f'{dmas[0]}/S_AXIS_S2MM', out.dma_bytes,
                                 f'conv_{out.stream}'))
    masters = [f'{dmas[0]}/M_AXI_MM2S', f'{dmas[0]}/M_AXI_S2MM'] + [f'{d}/M_AXI_MM2S' for d in dmas[1:]]
    irqs = [f'{dmas[0]}/mm2s_introut', f'{dmas[0]}/s2mm_introut'] + [f'{d}/mm2s_introut' for d in dmas[1:]]
    clk_pins = [f'ps/{ps["master_clk"]}', f'ps/{ps["slave_clk"]}', 'ctrl_ic/aclk', 'mem_ic/aclk', 'accel/ap_clk']
    for d in dmas:
        clk_pins += [f'{d}/s_axi_lite_aclk', f'{d}/m_axi_mm2s_aclk']
    clk_pins.append(f'{dmas[0]}/m_axi_s2mm_aclk')
    convs = [f'conv_{p.stream}' for p in h.ports if p.dma_bytes != p.tdata_bytes]
    rst_pins = ['ctrl_ic/aresetn', 'mem_ic/aresetn', 'accel/ap_rst_n'] + [f'{d}/axi_resetn' for d in dmas]
    sections.append(render(
        'block_design/zynq_wiring.tcl', master=ps['master'], slave=ps['slave'], irq=ps['irq'], clk=ps['clk'],
        actual_freq=ps['actual_freq'], n_ctrl=len(dmas), n_mem=len(masters), n_irq=len(irqs),
        ctrl_links='\n'.join(f'connect_bd_intf_net [get_bd_intf_pins ctrl_ic/M{i:02d}_AXI] '
                             f'[get_bd_intf_pins {d}/S_AXI_LITE]' for i, d in enumerate(dmas)),
        mem_links='\n'.join(f'connect_bd_intf_net [get_bd_intf_pins {m}] [get_bd_intf_pins mem_ic/S{i:02d}_AXI]'
                            for i, m in enumerate(masters)),
        irq_links='\n'.join(f'connect_bd_net [get_bd_pins {s}] [get_bd_pins irq_concat/In{i}]'
                            for i, s in enumerate(irqs)),
        clk_pins=' '.join(clk_pins), rst_pins=' '.join(rst_pins),
        converter_clocks=render('block_design/converter_clocks.tcl', cells=' '.join(convs), clk=ps['clk'])
        if convs else ''))
    return sections


def _no_ps(h: HlsProject) -> str:
    """No processor: the adapter's ports exported as s_axis_ms, s_axis_pan, m_axis_out (TLAST included),
    external clock and reset."""
    names = [f'{"s_axis" if p.direction == "in" else "m_axis"}_{p.stream}' for p in h.ports]
    ext = '\n'.join(f'make_bd_intf_pins_external [get_bd_intf_pins accel/{p.name}]\n'
                    f'set_property name {n} [get_bd_intf_ports {p.name}_0]' for p, n in zip(h.ports, names))
    return render('block_design/no_ps.tcl', external_ports=ext, busif=':'.join(names))

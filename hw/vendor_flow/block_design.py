"""02_block_design.tcl: the Vivado block design around the HLS IP (templates in ``templates/block_design/``).

Zynq parts (:data:`PS`): processing system, one AXI DMA per input stream (MM2S), the output back
through the first DMA (S2MM) after a TLAST generator, width converters where the DMA stream width
differs from the HLS TDATA width, SmartConnect interconnects, interrupts, one clock and reset.
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


def has_ps(part: Part) -> bool:
    """True for the Zynq parts: the block design has a processing system and AXI DMAs."""
    return part.key in PS


def block_design_tcl(h: HlsProject, part: Part) -> str:
    """The whole 02_block_design.tcl for ``part``."""
    head = render('block_design/head.tcl',
                  tdata_checks='\n'.join(f'check_tdata accel/{p.name} {p.tdata_bytes}' for p in h.ports))
    tail = render('block_design/tail.tcl')
    if not has_ps(part):
        return head + _no_ps(h) + tail
    return '\n'.join([head, *_zynq(h, PS[part.key]), tail])


def _stream_note(p: StreamPort) -> str:
    return f'{p.name} ({p.tdata_bits}-bit pixels, {p.beats} beats/frame)'


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
    # $clock_mhz in ps['config'] is substituted by Tcl (project.tcl)
    sections = [render('block_design/zynq_ps.tcl', **{k: ps[k] for k in (
        'clk', 'vlnv', 'rule', 'board_external', 'without_board', 'config', 'resetn')})]
    # DMAs: one per input stream (MM2S); the first one also carries the output (S2MM)
    dmas = [f'dma_{p.name}' for p in ins]
    for i, (p, dma) in enumerate(zip(ins, dmas)):
        s2mm = out if i == 0 else None
        mm_bits = max(32, p.dma_bytes * 8, (s2mm.dma_bytes * 8) if s2mm else 0)
        props = ['CONFIG.c_include_sg {0}', 'CONFIG.c_sg_length_width {26}',
                 f'CONFIG.c_addr_width {{{ps["addr_width"]}}}', 'CONFIG.c_include_mm2s {1}',
                 f'CONFIG.c_m_axis_mm2s_tdata_width {{{p.dma_bytes * 8}}}',
                 f'CONFIG.c_m_axi_mm2s_data_width {{{mm_bits}}}', 'CONFIG.c_mm2s_burst_size {16}',
                 f'CONFIG.c_include_s2mm {{{1 if s2mm else 0}}}']
        if s2mm:
            props += [f'CONFIG.c_m_axi_s2mm_data_width {{{mm_bits}}}', 'CONFIG.c_s2mm_burst_size {16}']
        sections.append(render('block_design/zynq_dma.tcl', dma=dma, mm2s_stream=_stream_note(p),
                               s2mm_note=f'; S2MM <- {_stream_note(s2mm)}' if s2mm else '', props=' '.join(props)))
        sections.append(_axis_link(f'{dma}/M_AXIS_MM2S', p.dma_bytes, f'accel/{p.name}', p.tdata_bytes,
                                   f'conv_{p.name}'))
    sections.append(render('block_design/zynq_tlast.tcl', port=out.name, beats=out.beats, tdata_bits=out.tdata_bits))
    sections.append(_axis_link(f'tlast_{out.name}/m_axis', out.tdata_bytes, f'{dmas[0]}/S_AXIS_S2MM',
                               out.dma_bytes, f'conv_{out.name}'))
    masters = [f'{dmas[0]}/M_AXI_MM2S', f'{dmas[0]}/M_AXI_S2MM'] + [f'{d}/M_AXI_MM2S' for d in dmas[1:]]
    irqs = [f'{dmas[0]}/mm2s_introut', f'{dmas[0]}/s2mm_introut'] + [f'{d}/mm2s_introut' for d in dmas[1:]]
    clk_pins = [f'ps/{ps["master_clk"]}', f'ps/{ps["slave_clk"]}', 'ctrl_ic/aclk', 'mem_ic/aclk', 'accel/ap_clk']
    for d in dmas:
        clk_pins += [f'{d}/s_axi_lite_aclk', f'{d}/m_axi_mm2s_aclk']
    clk_pins += [f'{dmas[0]}/m_axi_s2mm_aclk', f'tlast_{out.name}/aclk']
    convs = [f'conv_{p.name}' for p in h.ports if p.dma_bytes != p.tdata_bytes]
    rst_pins = ['ctrl_ic/aresetn', 'mem_ic/aresetn', 'accel/ap_rst_n'] + [f'{d}/axi_resetn' for d in dmas]
    rst_pins.append(f'tlast_{out.name}/aresetn')
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
    """No processor: the stream ports exported as s_axis_<port> / m_axis_<port>, external clock and reset."""
    names = [f'{"s_axis" if p.direction == "in" else "m_axis"}_{p.name}' for p in h.ports]
    ext = '\n'.join(f'make_bd_intf_pins_external [get_bd_intf_pins accel/{p.name}]\n'
                    f'set_property name {n} [get_bd_intf_ports {p.name}_0]' for p, n in zip(h.ports, names))
    return render('block_design/no_ps.tcl', external_ports=ext, busif=':'.join(names))

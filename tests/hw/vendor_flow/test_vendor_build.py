"""`hsbinet build`: the generated Vitis HLS / Vivado project for each part, the missing-tools exit, and
the flow run end to end with fake `vitis_hls` / `vivado` executables that write report fixtures."""

import json
import os
import re
import stat
from pathlib import Path

import pytest

from hw.parts import resolve_target
from build_flows.cli import main
from hw.vendor_flow.hls_project import read_hls_project
from hw.vendor_flow.project import write_vendor_project
from hw.vendor_flow.reports import SOURCE_IMPL
from hw.vendor_flow.tools import EXIT_TOOLS_MISSING, missing_tools
from quant_models.common import HsbinetError

FIX = Path(__file__).parents[2] / 'fixtures' / 'vendor_reports'
PARTS = {'XQRKU060': 'xqrku060-cna1509-1-b', 'ZU9EG': 'xczu9eg-ffvb1156-2-e', 'XC7Z020': 'xc7z020clg400-1'}


@pytest.fixture(scope='module')
def hls_build(small_final, tmp_path_factory):
    """The small design (8 bands, hidden 8, 1 block, PAN 16) lowered into csim/ (written, not
    compiled), default adapter: 512-bit TDATA, TLAST per line."""
    from hw.hls.lower import lower_project
    root = tmp_path_factory.mktemp('hls_build')
    lower_project(small_final, root / 'csim', backend='Vitis', log=lambda s: None)
    return root


@pytest.fixture(scope='module')
def hls_build64(small_final, tmp_path_factory):
    """The same design lowered with a 64-bit adapter (4 lanes: 2 beats per pixel) and TLAST per frame."""
    from hw.hls.lower import lower_project
    root = tmp_path_factory.mktemp('hls_build64')
    lower_project(small_final, root, backend='Vitis', tdata_bits=64, tlast='frame', log=lambda s: None)
    return root


def test_build_refuses_a_project_changed_after_lowering(hls_build, tmp_path):
    import shutil

    from build_flows.cli import main
    b = tmp_path / 'b'
    shutil.copytree(hls_build / 'csim', b)
    w = next((b / 'hls4ml_prj' / 'firmware' / 'weights').glob('*.txt'))
    w.write_text(w.read_text() + ' ')
    assert main(['build', '--build', str(b), '--out', str(tmp_path / 'o')]) == 2
    assert not (tmp_path / 'o' / 'vendor').exists()


def test_build_refuses_a_design_that_does_not_fit_unless_forced(hls_build, tmp_path, monkeypatch, capsys):
    from dataclasses import replace

    from build_flows.cli import main
    from hw import parts
    monkeypatch.setitem(parts.PARTS, 'XC7Z020', replace(parts.PARTS['XC7Z020'], lut=100))  # a part it cannot fit
    assert main(['build', '--build', str(hls_build), '--part', 'XC7Z020', '--out', str(tmp_path / 'o')]) == 2
    err = capsys.readouterr().err
    assert 'does not fit' in err and 'XC7Z020 lut' in err and '--force' in err and 'Traceback' not in err
    assert not (tmp_path / 'o' / 'vendor').exists()
    assert main(['build', '--build', str(hls_build), '--part', 'XC7Z020', '--out', str(tmp_path / 'f'), '--force']) == 0
    assert (tmp_path / 'f' / 'vendor' / 'manifest.json').is_file()


def _text(vendor: Path, name: str) -> str:
    return (vendor / name).read_text()


def _design(build: Path) -> dict:
    return json.loads((build / 'design.json').read_text())


def test_hls_project_is_read(hls_build):
    h = read_hls_project(hls_build / 'csim' / 'hls4ml_prj')
    assert (h.top, h.core, h.io_type) == ('hsbinet_axis', 'hsbinet', 'io_stream')
    assert h.sources == ['firmware/hsbinet.cpp', 'firmware/hsbinet_axis.cpp'] and h.testbench == 'hsbinet_test.cpp'
    ports = {p.name: p for p in h.ports}
    assert [p.name for p in h.ports] == ['s_ms', 's_pan', 'm_out']
    assert [p.direction for p in h.ports] == ['in', 'in', 'out']
    assert all(p.tdata_bits == 512 and p.tlast == 'line' and p.ctype == 'axis_beat_t' for p in h.ports)
    # LR 4 x 4, PAN / HR 16 x 16, 8 bands in 32 lanes: one beat per pixel, one per PAN row
    assert (ports['s_ms'].beats, ports['s_pan'].beats, ports['m_out'].beats) == (16, 16, 256)
    assert (ports['s_ms'].beats_per_tlast, ports['s_pan'].beats_per_tlast, ports['m_out'].beats_per_tlast) == (4, 1, 16)
    design = _design(hls_build / 'csim')
    assert h.sha256 == design['sha256'] and h.axis == design['axis']
    assert {p.name: p.beats for p in h.ports} == design['axis']['beats_per_frame']


def test_hls_project_of_a_64_bit_frame_design(hls_build64):
    h = read_hls_project(hls_build64 / 'hls4ml_prj')
    ports = {p.name: p for p in h.ports}
    assert all(p.tdata_bits == 64 and p.tdata_bytes == 8 and p.dma_bytes == 8 for p in h.ports)
    # 4 lanes of 16 bits: 8 bands take 2 beats per pixel, a 16-pixel PAN row 4 beats; TLAST once per frame
    assert (ports['s_ms'].beats, ports['s_pan'].beats, ports['m_out'].beats) == (32, 64, 512)
    assert all(p.tlast == 'frame' and p.beats_per_tlast == p.beats for p in h.ports)


def test_a_design_without_the_adapter_is_refused(hls_build, tmp_path):
    import shutil
    b = tmp_path / 'b'
    shutil.copytree(hls_build / 'csim', b)
    design = _design(b)
    del design['axis']
    (b / 'design.json').write_text(json.dumps(design))
    with pytest.raises(HsbinetError, match='without the AXI4-Stream adapter'):
        write_vendor_project(b / 'hls4ml_prj', tmp_path / 'o', 'ZU9EG')
    assert not (tmp_path / 'o').exists()


def _added_files(vendor: Path, hls: str) -> tuple[list[str], list[str]]:
    """The (design, testbench) files 01_hls_synth.tcl adds, with project.tcl's $top / $core filled in."""
    project = _text(vendor, 'project.tcl')
    top = re.search(r'^set top (\S+)$', project, re.M).group(1)
    core = re.search(r'^set core (\S+)$', project, re.M).group(1)
    design, tb = [], []
    for m in re.finditer(r'^add_files (-tb )?(\S+)', hls, re.M):
        path = m.group(2).replace('${top}', top).replace('${core}', core)
        assert (vendor / path).exists(), path
        (tb if m.group(1) else design).append(path)
    return design, tb


@pytest.mark.parametrize('key', ['XQRKU060', 'ZU9EG', 'XC7Z020'])
def test_vendor_project_per_part(hls_build, tmp_path, key):
    m = write_vendor_project(hls_build / 'csim' / 'hls4ml_prj', tmp_path, key, clock_mhz=150.0)
    vendor = tmp_path / 'vendor'
    assert Path(m['path']) == vendor and not list(tmp_path.glob('.vendor.*'))
    for rel in m['files']:
        assert (vendor / rel).exists(), rel
        if not rel.startswith('hls_src/') and rel != 'manifest.json':
            assert '@@' not in (vendor / rel).read_text(), rel  # every template placeholder was filled
    man = json.loads(_text(vendor, 'manifest.json'))
    assert man['part']['vendor_part'] == PARTS[key] and man['clock_mhz'] == 150.0
    assert man['hls_project']['sha256'] == read_hls_project(hls_build / 'csim' / 'hls4ml_prj').sha256
    # one design identity: the vendor project names the lowered design by the hash in design.json
    assert man['design_sha256'] == json.loads((hls_build / 'csim' / 'design.json').read_text())['sha256']
    assert set(man['tools_required']) == {'vitis_hls', 'vivado'}
    # the adapter next to the design identity
    design = _design(hls_build / 'csim')
    assert man['axis']['top'] == 'hsbinet_axis' and {k: man['axis'][k] for k in design['axis']} == design['axis']
    assert man['axis']['tdata_bits'] == 512 and man['axis']['tlast'] == 'line'
    assert man['axis']['beats_per_frame'] == {'s_ms': 16, 's_pan': 16, 'm_out': 256}
    assert man['axis']['block_protocol'] == 'ap_ctrl_none' and man['ip_vlnv'] == 'hsbinet:hls:hsbinet_axis:1.0'
    assert [p['tdata_bits'] for p in man['hls_project']['ports']] == [512, 512, 512]
    project = _text(vendor, 'project.tcl')
    assert f'set part {PARTS[key]}' in project and 'set clock_period 6.667' in project
    assert 'set project_name "hsbinet_axis"' in project and 'set top hsbinet_axis' in project
    assert 'set core hsbinet' in project and 'set axis_tdata_bits 512' in project and 'set axis_tlast line' in project
    hls = _text(vendor, '01_hls_synth.tcl')
    for needle in ('open_project -reset ${top}_prj', 'open_solution -reset $hls_solution -flow_target vivado',
                   'set_part $part', 'create_clock -period $clock_period', 'set_top $top\n',
                   'add_files -tb hls_src/${core}_test.cpp', 'csynth_design', 'export_design -format ip_catalog',
                   'cosim_design', 'set_directive_interface -mode ap_ctrl_none $top', '-DHSBINET_AXI_SDATA'):
        assert needle in hls, needle
    for port in ('s_ms', 's_pan', 'm_out'):
        assert f'set_directive_interface -mode axis -register_mode both $top {port}\n' in hls
    # design sources: the hls4ml core and the adapter, never the C-simulation bridge; the testbench kept
    sources, tb = _added_files(vendor, hls)
    assert sources == ['hls_src/firmware/hsbinet.cpp', 'hls_src/firmware/hsbinet_axis.cpp']
    assert 'hls_src/hsbinet_test.cpp' in tb and not any('bridge' in f for f in sources + tb)
    assert (vendor / 'hls_src' / 'firmware' / 'hsbinet_axis_bridge.cpp').is_file()  # copied, not added
    assert 'cosim  0' in project  # co-simulation present but off by default
    assert (vendor / 'hls_src' / 'firmware' / 'nnet_utils' / 'nnet_hsbinet_ext_stream.h').is_file()
    bd = _text(vendor, '02_block_design.tcl')
    assert 'validate_bd_design' in bd and 'make_wrapper' in bd and 'create_bd_cell -type ip -vlnv $hls_vlnv accel' in bd
    for port in ('s_ms', 's_pan', 'm_out'):
        assert f'check_port accel/{port} 64\n' in bd
    assert 'CONFIG.HAS_TLAST' in bd
    # no external TLAST logic: the IP's own TLAST
    assert 'tlast_' not in bd and 'hsbinet_axis_tlast' not in bd and not (vendor / 'rtl').exists()
    assert not any(f.startswith('rtl/') for f in man['files'])
    impl = _text(vendor, '03_impl_bitstream.tcl')
    for needle in ('launch_runs synth_1', 'launch_runs impl_1 -to_step write_bitstream', 'wait_on_run impl_1',
                   'report_utilization -hierarchical -file reports/impl_utilization_hier.rpt',
                   'report_utilization -file reports/impl_utilization.rpt',
                   'report_timing_summary -max_paths 10 -report_unconstrained -file reports/impl_timing_summary.rpt',
                   'output ${top}_${part_key}.bit'):
        assert needle in impl, needle
    xdc = _text(vendor, f'constraints/hsbinet_axis_{key}.xdc')
    assert '6.667 ns' in xdc and 'PACKAGE_PIN <pin>' in xdc
    run_all = vendor / 'run_all.sh'
    assert os.access(run_all, os.X_OK) and 'vitis_hls -f' in run_all.read_text()
    readme = _text(vendor, 'README.md')
    assert '| `m_out` | out | 512 | 256 | last beat of each row (16 beats) |' in readme
    assert 'ap_axiu<512,0,0,0>' in readme
    if key == 'XQRKU060':
        assert 'create_clock -period 6.667 -name ap_clk [get_ports ap_clk]' in xdc
        assert 'make_bd_intf_pins_external [get_bd_intf_pins accel/s_ms]' in bd and 'axi_dma' not in bd
        assert 'set_property name m_axis_out [get_bd_intf_ports m_out_0]' in bd
        assert 'CONFIG.ASSOCIATED_BUSIF {s_axis_ms:s_axis_pan:m_axis_out}' in bd
        assert 'SpaceWire' in bd and man['has_ps'] is False and man['dma'] is None
    else:
        assert 'create_clock' not in xdc.replace('no create_clock', '')
        ps = 'zynq_ultra_ps_e' if key == 'ZU9EG' else 'processing_system7'
        assert f'xilinx.com:ip:{ps} ps' in bd and bd.count('create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma') == 2
        # 512-bit ports, 128-bit DMA streams: a 16 -> 64 byte converter in, 64 -> 16 out
        assert 'connect_bd_intf_net [get_bd_intf_pins dma_ms/M_AXIS_MM2S] [get_bd_intf_pins conv_ms/S_AXIS]' in bd
        assert 'connect_bd_intf_net [get_bd_intf_pins conv_ms/M_AXIS] [get_bd_intf_pins accel/s_ms]' in bd
        assert 'connect_bd_intf_net [get_bd_intf_pins conv_pan/M_AXIS] [get_bd_intf_pins accel/s_pan]' in bd
        assert 'connect_bd_intf_net [get_bd_intf_pins accel/m_out] [get_bd_intf_pins conv_out/S_AXIS]' in bd
        assert 'connect_bd_intf_net [get_bd_intf_pins conv_out/M_AXIS] [get_bd_intf_pins dma_ms/S_AXIS_S2MM]' in bd
        assert 'CONFIG.S_TDATA_NUM_BYTES {64} CONFIG.M_TDATA_NUM_BYTES {16}' in bd
        assert 'CONFIG.c_include_s2mm {0}' in bd and 'CONFIG.c_m_axis_mm2s_tdata_width {128}' in bd
        assert 'proc_sys_reset' in bd and 'smartconnect' in bd and 'assign_bd_address' in bd
        # TLAST per HR row: one S2MM transfer per row (16 x 64 bytes), 16 per frame
        assert man['dma']['s2mm'] == {'port': 'm_out', 'transfer_bytes': 1024, 'transfers_per_frame': 16}
        assert 'one S2MM transfer of 1024 bytes per HR row (16 per frame)' in readme


def test_64_bit_adapter_gives_64_bit_ports(hls_build64, tmp_path):
    m = write_vendor_project(hls_build64 / 'hls4ml_prj', tmp_path, 'ZU9EG')
    vendor = tmp_path / 'vendor'
    assert m['axis']['tdata_bits'] == 64 and m['axis']['tlast'] == 'frame' and m['axis']['beats_per_pixel'] == 2
    assert m['axis']['beats_per_frame'] == {'s_ms': 32, 's_pan': 64, 'm_out': 512}
    assert m['design_sha256'] == _design(hls_build64)['sha256']
    assert {p['name']: p['tdata_bits'] for p in m['hls_project']['ports']} == {'s_ms': 64, 's_pan': 64, 'm_out': 64}
    bd = _text(vendor, '02_block_design.tcl')
    assert all(f'check_port accel/{p} 8\n' in bd for p in ('s_ms', 's_pan', 'm_out'))
    # the DMA streams are as wide as the ports: no converters, the output straight into S2MM
    assert 'axis_dwidth_converter' not in bd and 'CONFIG.c_m_axis_mm2s_tdata_width {64}' in bd
    assert 'connect_bd_intf_net [get_bd_intf_pins dma_ms/M_AXIS_MM2S] [get_bd_intf_pins accel/s_ms]' in bd
    assert 'connect_bd_intf_net [get_bd_intf_pins accel/m_out] [get_bd_intf_pins dma_ms/S_AXIS_S2MM]' in bd
    assert m['dma']['s2mm'] == {'port': 'm_out', 'transfer_bytes': 512 * 8, 'transfers_per_frame': 1}
    assert 'ap_axiu<64,0,0,0>' in _text(vendor, '01_hls_synth.tcl')
    project = _text(vendor, 'project.tcl')
    assert 'set axis_tdata_bits 64' in project and 'set axis_tlast frame' in project
    assert 'array set axis_beats_per_frame {s_ms 32 s_pan 64 m_out 512}' in project
    readme = _text(vendor, 'README.md')
    assert '| `s_pan` | in | 64 | 64 | last beat of the frame (64 beats) |' in readme
    assert 'one S2MM transfer of 4096 bytes per frame (1 per frame)' in readme


def test_dma_design_refuses_an_output_packet_longer_than_a_transfer(hls_build, hls_build64, tmp_path, monkeypatch):
    from hw.vendor_flow import block_design
    monkeypatch.setattr(block_design, 'DMA_LENGTH_BITS', 12)  # 4095 bytes: a 4096-byte frame does not fit
    with pytest.raises(HsbinetError, match="longer than one AXI DMA transfer.*4096 bytes per frame.*tlast='line'"):
        write_vendor_project(hls_build64 / 'hls4ml_prj', tmp_path / 'o', 'ZU9EG')
    assert not (tmp_path / 'o').exists()  # nothing written, not even the folder
    write_vendor_project(hls_build64 / 'hls4ml_prj', tmp_path / 'k', 'XQRKU060')  # no DMA: no limit
    write_vendor_project(hls_build / 'csim' / 'hls4ml_prj', tmp_path / 'l', 'ZU9EG')  # per line: 1024 bytes
    assert main(['build', '--build', str(hls_build64), '--part', 'ZU9EG', '--out', str(tmp_path / 'c')]) == 2
    assert not (tmp_path / 'c' / 'vendor').exists()


def test_output_is_deterministic_and_replaced_atomically(hls_build, tmp_path):
    prj = hls_build / 'csim' / 'hls4ml_prj'
    write_vendor_project(prj, tmp_path / 'a', 'ZU9EG', board='ZCU102')
    write_vendor_project(prj, tmp_path / 'b', 'ZU9EG', board='ZCU102')
    a, b = tmp_path / 'a' / 'vendor', tmp_path / 'b' / 'vendor'
    for f in a.rglob('*'):
        if f.is_file() and f.name != 'manifest.json':
            assert f.read_bytes() == (b / f.relative_to(a)).read_bytes(), f
    assert 'set board_part xilinx.com:zcu102:part0:3.4' in _text(a, 'project.tcl')
    (a / 'stale.txt').write_text('x')
    write_vendor_project(prj, tmp_path / 'a', 'XQRKU060')  # replaces our own folder
    assert not (a / 'stale.txt').exists() and 'xqrku060' in _text(a, 'project.tcl')
    foreign = tmp_path / 'c' / 'vendor'
    foreign.mkdir(parents=True)
    with pytest.raises(HsbinetError, match='not an hsbinet vendor project'):
        write_vendor_project(prj, tmp_path / 'c', 'ZU9EG')


def test_target_resolution():
    assert resolve_target(board='zcu102')[0].key == 'ZU9EG' and resolve_target(board='PYNQ-Z2')[1] == 'PYNQ-Z2'
    assert resolve_target()[0].key == 'XQRKU060'
    with pytest.raises(HsbinetError, match='either --part or --board'):
        resolve_target('ZU9EG', 'ZCU102')
    with pytest.raises(HsbinetError, match='Unknown board'):
        resolve_target(board='ZU9EG')


def test_cli_bad_input_exit_2(tmp_path, capsys):
    assert main(['build', '--build', str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert 'No hls4ml project' in err and 'Traceback' not in err
    assert main(['build', '--build', str(tmp_path), '--part', 'ZU9EG', '--board', 'ZCU102']) == 2
    assert 'either --part or --board' in capsys.readouterr().err
    assert main(['build', '--build', str(tmp_path), '--part', 'VIRTEX99']) == 2
    assert 'Unknown FPGA part' in capsys.readouterr().err


def test_cli_without_vendor_tools_exits_3(hls_build, tmp_path, monkeypatch, capsys):
    empty = tmp_path / 'bin'
    empty.mkdir()
    monkeypatch.setenv('PATH', str(empty))
    assert missing_tools() == ['vitis_hls', 'vivado']
    with pytest.raises(SystemExit) as e:
        main(['build', '--bitstream', '--build', str(hls_build), '--board', 'ZCU102', '--out', str(tmp_path / 'o')])
    assert e.value.code == EXIT_TOOLS_MISSING == 3
    err = capsys.readouterr().err
    vendor = (tmp_path / 'o' / 'vendor').resolve()
    assert 'vitis_hls (or vitis-run)' in err and 'vivado' in err and str(vendor) in err
    assert f'cd {vendor} && bash run_all.sh' in err and 'Traceback' not in err
    assert (vendor / 'manifest.json').is_file()
    # without --bitstream the project alone is the product: exit 0
    assert main(['build', '--build', str(hls_build), '--out', str(tmp_path / 'p')]) == 0


FAKE_HLS = '''#!/bin/sh
echo "vitis_hls $*" >> "$HSBINET_FAKE_CALLS"
[ "$1" = "-f" ] && [ -f "$2" ] || exit 9
top=$(sed -n 's/^set top //p' project.tcl)
mkdir -p ${top}_prj/solution1/syn/report
cp "$HSBINET_FIX"/hls/hsbinet_prj/hls.app ${top}_prj/
cp "$HSBINET_FIX"/hls/hsbinet_prj/solution1/syn/report/*.xml ${top}_prj/solution1/syn/report/
'''

FAKE_VIVADO = '''#!/bin/sh
script=""
while [ $# -gt 0 ]; do [ "$1" = "-source" ] && script="$2"; shift; done
echo "vivado $script" >> "$HSBINET_FAKE_CALLS"
[ -f "$script" ] || exit 9
case "$script" in
  02_*) mkdir -p vivado && touch vivado/hsbinet_bd.xpr ;;
  03_*) [ -n "$HSBINET_FAKE_FAIL" ] && { echo "ERROR: [Route 35-9] fake failure"; exit 1; }
        mkdir -p reports output && cp "$HSBINET_FIX"/vivado_zu9eg/*.rpt reports/ && echo bit > output/hsbinet_axis_ZU9EG.bit ;;
esac
'''


def _fake_tools(tmp_path, monkeypatch):
    bindir = tmp_path / 'fakebin'
    bindir.mkdir()
    for name, text in (('vitis_hls', FAKE_HLS), ('vivado', FAKE_VIVADO)):
        p = bindir / name
        p.write_text(text)
        p.chmod(p.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / 'calls.log'
    monkeypatch.setenv('PATH', f'{bindir}:/usr/bin:/bin')
    monkeypatch.setenv('HSBINET_FAKE_CALLS', str(calls))
    monkeypatch.setenv('HSBINET_FIX', str(FIX))
    return calls


# the layers the fixture's Vitis HLS module names belong to (their hls4ml config structs when the
# fixture was recorded); config numbers follow hls4ml's layer indices, which change with the graph
FIXTURE_CONFIGS = {'config127': 'BilinearResize_0', 'config229': 'Conv2D_Conv_0', 'config242': 'Conv2D_Conv_2'}


def _fixture_for(project: Path, tmp_path: Path) -> Path:
    """A copy of the vendor-report fixture whose module names carry ``project``'s config structs."""
    import shutil

    from hw.vendor_flow.hls_reports import layer_config_map
    now = {layer: cfg for cfg, layer in layer_config_map(project / 'firmware' / 'hsbinet.cpp').items()}
    ren = {old: now[layer] for old, layer in FIXTURE_CONFIGS.items()}
    fix = tmp_path / 'fixture'
    shutil.copytree(FIX, fix)
    for path in sorted(fix.rglob('*'), key=lambda q: -len(q.parts)):
        if path.is_file() and path.suffix in ('.xml', '.rpt', '.app'):
            text = path.read_text(errors='replace')
            for i, old in enumerate(ren):  # two phases: a new number may be another old one
                text = re.sub(rf'(?<![0-9a-z]){old}_', f'@@{i}_', text)
            for i, old in enumerate(ren):
                text = text.replace(f'@@{i}_', f'{ren[old]}_')
            path.write_text(text)
        name = path.name
        for old, cfg in ren.items():
            name = re.sub(rf'(?<![0-9a-z]){old}_', f'@@{cfg}_', name)
        name = name.replace('@@', '')
        if name != path.name:
            path.rename(path.with_name(name))
    return fix


def test_flow_runs_tools_in_order_and_parses_reports(hls_build, tmp_path, monkeypatch):
    calls = _fake_tools(tmp_path, monkeypatch)
    monkeypatch.setenv('HSBINET_FIX', str(_fixture_for(hls_build / 'csim' / 'hls4ml_prj', tmp_path)))
    assert main(['build', '--bitstream', '--build', str(hls_build), '--part', 'ZU9EG', '--clock', '250',
                 '--out', str(tmp_path / 'o')]) == 0
    assert calls.read_text().split('\n')[:3] == ['vitis_hls -f 01_hls_synth.tcl', 'vivado 02_block_design.tcl',
                                                 'vivado 03_impl_bitstream.tcl']
    vendor = tmp_path / 'o' / 'vendor'
    assert (vendor / 'logs' / '01_hls_synth.log').is_file()
    res = json.loads((vendor / 'build_result.json').read_text())
    assert res['bitstream'].endswith('output/hsbinet_axis_ZU9EG.bit') and [s['rc'] for s in res['steps']] == [0, 0, 0]
    rep = res['reports']
    assert rep['source'] == SOURCE_IMPL and rep['total']['resources']['LUT'] == 45210
    assert rep['total']['timing']['wns_ns'] == 0.412 and rep['total']['hls']['latency_worst_cycles'] == 1302
    # module rows are attributed through the generated project's own firmware/hsbinet.cpp
    assert set(rep['layers']) == {'BilinearResize_0', 'Conv2D_Conv_0', 'Conv2D_Conv_2'}


def test_flow_failure_names_the_log(hls_build, tmp_path, monkeypatch, capsys):
    _fake_tools(tmp_path, monkeypatch)
    monkeypatch.setenv('HSBINET_FAKE_FAIL', '1')
    with pytest.raises(SystemExit) as e:
        main(['build', '--bitstream', '--build', str(hls_build), '--part', 'ZU9EG', '--out', str(tmp_path / 'o')])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert 'implementation step failed' in err and '03_impl_bitstream.log' in err

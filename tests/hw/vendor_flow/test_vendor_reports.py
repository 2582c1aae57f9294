"""Vendor report parsers on fixture files in the tools' own formats (tests/fixtures/vendor_reports)."""

import os
import shutil
from pathlib import Path

from hw.vendor_flow.hls_reports import layer_config_map, module_layer, parse_csynth_xml, parse_hls_solution
from hw.vendor_flow.reports import SOURCE_HLS, SOURCE_IMPL, SOURCE_SYNTH, find_vendor_reports
from hw.vendor_flow.vivado_reports import parse_timing_summary, parse_utilization, parse_utilization_hierarchical

FIX = Path(__file__).parents[2] / 'fixtures' / 'vendor_reports'
REPORT = FIX / 'hls' / 'hsbinet_prj' / 'solution1' / 'syn' / 'report'
CONV229 = 'conv_2d_cl_array_ap_ufixed_1_0_4_0_0_8u_array_ap_fixed_18_8_5_3_0_8u_config229_s'


def test_csynth_top_numbers():
    r = parse_csynth_xml(REPORT / 'csynth.xml')
    assert r['module'] == 'hsbinet' and r['part'] == 'xczu9eg-ffvb1156-2-e' and r['tool_version'] == '2023.2'
    assert (r['latency_best_cycles'], r['latency_avg_cycles'], r['latency_worst_cycles']) == (1290, 1296, 1302)
    assert (r['interval_min_cycles'], r['interval_max_cycles'], r['ii_cycles']) == (1027, 1027, 1027)
    assert (r['target_clock_ns'], r['clock_uncertainty_ns'], r['estimated_clock_ns']) == (5.0, 1.35, 3.65)
    assert r['fmax_mhz'] == round(1000 / 3.65, 3)  # the parser rounds to 1 kHz
    assert r['resources'] == {'BRAM_18K': 34, 'DSP': 12, 'FF': 21873, 'LUT': 38412, 'URAM': 0, 'BRAM36': 17.0}
    assert r['available'] == {'BRAM_18K': 1824, 'DSP': 2520, 'FF': 548160, 'LUT': 274080, 'URAM': 0}
    assert r['utilization_pct']['LUT'] == 14.01 and r['utilization_pct']['URAM'] is None
    assert r['axis_tdata_bits'] == {'ms': 128, 'pan': 16, 'layer189_out': 128}
    assert r['pipeline_type'] == 'dataflow'


def test_modules_are_attributed_to_hls4ml_layers():
    configs = layer_config_map(FIX / 'hls' / 'hls_src' / 'firmware' / 'hsbinet.cpp')
    assert configs == {'config127': 'BilinearResize_0', 'config242': 'Conv2D_Conv_0', 'config229': 'Conv2D_Conv_2'}
    assert module_layer(CONV229, configs) == 'Conv2D_Conv_2'
    assert module_layer('conv_2d_cl_x_config2290_s', configs) is None  # token boundary, not a prefix
    sol = parse_hls_solution(REPORT, FIX / 'hls' / 'hls_src' / 'firmware' / 'hsbinet.cpp')
    layers = sol['modules']
    assert set(layers) == {'BilinearResize_0', 'Conv2D_Conv_0', 'Conv2D_Conv_2',
                           'clone_stream_array_ap_fixed_22_2_5_3_0_8u_array_ap_fixed_22_2_5_3_0_8u_2048_s'}
    conv = layers['Conv2D_Conv_2']  # the outer module, not its _Pipeline_ child
    assert conv['module'] == CONV229 and conv['latency_worst_cycles'] == 1027
    assert conv['resources']['LUT'] == 6875 and conv['resources']['BRAM_18K'] == 4
    assert layers['Conv2D_Conv_0']['loops']['PointwiseConvLoop'] == {'trip_count': 256, 'latency_cycles': 256,
                                                                    'ii_cycles': 1}
    assert layers['BilinearResize_0']['ii_cycles'] == 262


def test_ultrascale_plus_utilization():
    u = parse_utilization(FIX / 'vivado_zu9eg' / 'impl_utilization.rpt')
    assert u['used'] == {'LUT': 45210, 'FF': 52114, 'BRAM36': 23, 'URAM': 0, 'DSP': 12, 'BRAM_18K': 46}
    assert u['available'] == {'LUT': 274080, 'FF': 548160, 'BRAM36': 912, 'URAM': 0, 'DSP': 2520, 'BRAM_18K': 1824}
    assert u['utilization_pct']['LUT'] == 16.5 and u['utilization_pct']['FF'] == 9.51
    assert u['utilization_pct']['BRAM36'] == 2.52 and u['utilization_pct']['DSP'] == 0.48
    assert u['header']['device'] == 'xczu9eg-ffvb1156-2-e' and u['header']['design_state'] == 'Routed'


def test_seven_series_utilization():
    u = parse_utilization(FIX / 'vivado_z7020' / 'synth_utilization.rpt')
    assert u['used'] == {'LUT': 41876, 'FF': 48790, 'BRAM36': 27.5, 'DSP': 12, 'BRAM_18K': 55.0}
    assert u['available'] == {'LUT': 53200, 'FF': 106400, 'BRAM36': 140, 'DSP': 220, 'BRAM_18K': 280}
    assert u['utilization_pct'] == {'LUT': 78.71, 'FF': 45.86, 'BRAM36': 19.64, 'DSP': 5.45, 'BRAM_18K': 19.64}
    assert 'URAM' not in u['used']


def test_hierarchical_utilization():
    rows = parse_utilization_hierarchical(FIX / 'vivado_zu9eg' / 'impl_utilization_hier.rpt')
    top = rows[0]
    assert (top['instance'], top['module'], top['depth']) == ('design_1_wrapper', '(top)', 0)
    assert top['resources']['LUT'] == 45210 and top['resources']['BRAM36'] == 23.0
    accel = next(r for r in rows if r['instance'] == 'accel')
    assert accel['depth'] == 2 and accel['resources'] == {'LUT': 36975, 'LUT_logic': 34101, 'LUTRAM': 1802,
                                                          'SRL': 1072, 'FF': 43108, 'URAM': 0, 'DSP': 12,
                                                          'BRAM36': 17.0}


def test_timing_summary_met_and_violated():
    t = parse_timing_summary(FIX / 'vivado_zu9eg' / 'impl_timing_summary.rpt')
    assert (t['wns_ns'], t['tns_ns'], t['whs_ns'], t['ths_ns'], t['wpws_ns']) == (0.412, 0.0, 0.01, 0.0, 1.958)
    assert t['setup_failing_endpoints'] == 0 and t['met'] is True
    v = parse_timing_summary(FIX / 'vivado_z7020' / 'synth_timing_summary.rpt')
    assert (v['wns_ns'], v['tns_ns'], v['setup_failing_endpoints'], v['whs_ns']) == (-0.734, -45.112, 128, 0.052)
    assert v['met'] is False


def test_find_nothing(tmp_path):
    assert find_vendor_reports(tmp_path) is None
    assert find_vendor_reports(tmp_path / 'missing') is None


def test_find_hls_only():
    r = find_vendor_reports(FIX / 'hls')
    assert set(r) == {'source', 'total', 'layers', 'files'}
    assert r['source'] == SOURCE_HLS and r['total']['source'] == SOURCE_HLS
    assert r['total']['latency_worst_cycles'] == 1302 and r['total']['resources']['LUT'] == 38412
    assert r['total']['hls4ml_reader_agrees'] is True  # hls4ml's parse_vivado_report reads the same numbers
    assert r['layers']['Conv2D_Conv_2']['latency_worst_cycles'] == 1027
    assert str(REPORT / 'csynth.xml') in r['files']


def _assemble(tmp_path, vivado_dir):
    vendor = tmp_path / 'build' / 'vendor'
    shutil.copytree(FIX / 'hls', vendor)
    shutil.copytree(FIX / vivado_dir, vendor / 'reports')
    return tmp_path / 'build'


def test_find_prefers_implementation(tmp_path):
    r = find_vendor_reports(_assemble(tmp_path, 'vivado_zu9eg'))
    assert r['source'] == SOURCE_IMPL
    t = r['total']
    assert t['resources']['LUT'] == 45210 and t['utilization_pct']['LUT'] == 16.5
    assert t['timing']['wns_ns'] == 0.412 and t['timing']['met'] is True
    assert t['accelerator']['resources']['LUT'] == 36975
    assert t['hls']['source'] == SOURCE_HLS and t['hls']['latency_worst_cycles'] == 1302
    assert r['layers']['Conv2D_Conv_2']['resources']['LUT'] == 6631  # outer module, not the pipeline child
    assert r['layers']['Conv2D_Conv_0']['resources']['FF'] == 398
    assert set(r['layers']) == {'BilinearResize_0', 'Conv2D_Conv_0', 'Conv2D_Conv_2'}
    assert any(f.endswith('impl_timing_summary.rpt') for f in r['files'])


def test_find_synthesis_when_no_implementation(tmp_path):
    r = find_vendor_reports(_assemble(tmp_path, 'vivado_z7020'))
    assert r['source'] == SOURCE_SYNTH
    assert r['total']['resources']['BRAM36'] == 27.5 and r['total']['timing']['met'] is False


def test_vivado_run_reports_are_found_too(tmp_path):
    runs = tmp_path / 'prj.runs' / 'impl_1'
    runs.mkdir(parents=True)
    shutil.copy(FIX / 'vivado_zu9eg' / 'impl_utilization.rpt', runs / 'design_1_wrapper_utilization_placed.rpt')
    shutil.copy(FIX / 'vivado_zu9eg' / 'impl_timing_summary.rpt', runs / 'design_1_wrapper_timing_summary_routed.rpt')
    ooc = tmp_path / 'prj.runs' / 'design_1_accel_0_synth_1'  # per-IP run: not the design's synthesis
    ooc.mkdir()
    shutil.copy(FIX / 'vivado_z7020' / 'synth_utilization.rpt', ooc / 'design_1_accel_0_utilization_synth.rpt')
    r = find_vendor_reports(tmp_path)
    assert r['source'] == SOURCE_IMPL and r['total']['timing']['met'] is True
    assert r['total']['resources']['DSP'] == 12 and 'hls' not in r['total']


def test_ours_preferred_over_run_reports(tmp_path):
    build = _assemble(tmp_path, 'vivado_zu9eg')
    runs = build / 'vendor' / 'vivado' / 'hsbinet_bd.runs' / 'impl_1'
    runs.mkdir(parents=True)
    shutil.copy(FIX / 'vivado_z7020' / 'synth_utilization.rpt', runs / 'design_1_wrapper_utilization_placed.rpt')
    os.utime(runs / 'design_1_wrapper_utilization_placed.rpt', None)
    r = find_vendor_reports(build)
    assert r['total']['resources']['LUT'] == 45210


def test_layers_are_attributed_when_the_top_is_the_axis_adapter(tmp_path):
    """With the AXI4-Stream adapter as HLS top (hsbinet_axis), csynth.xml names the adapter, whose
    own source calls no layer; the layer map comes from the core's firmware/hsbinet.cpp."""
    vendor = tmp_path / 'vendor'
    shutil.copytree(FIX / 'hls', vendor)
    os.replace(vendor / 'hsbinet_prj', vendor / 'hsbinet_axis_prj')
    report = vendor / 'hsbinet_axis_prj' / 'solution1' / 'syn' / 'report'
    top = (report / 'csynth.xml').read_text().replace('<TopModelName>hsbinet</TopModelName>',
                                                        '<TopModelName>hsbinet_axis</TopModelName>')
    (report / 'csynth.xml').write_text(top)
    (report / 'hsbinet_axis_csynth.xml').write_text(top)  # Vitis HLS writes <top>_csynth.xml too
    (vendor / 'hls_src' / 'firmware' / 'hsbinet_axis.cpp').write_text(
        '#include "hsbinet_axis.h"\nvoid hsbinet_axis(hls::stream<axis_beat_t> &s_ms, hls::stream<axis_beat_t> &s_pan,'
        ' hls::stream<axis_beat_t> &m_out) { hsbinet(ms, pan, out); }\n')
    (vendor / 'project.tcl').write_text((vendor / 'project.tcl').read_text().replace('"hsbinet"', '"hsbinet_axis"'))
    r = find_vendor_reports(tmp_path)
    assert r['source'] == SOURCE_HLS and r['total']['module'] == 'hsbinet_axis'
    assert r['total']['latency_worst_cycles'] == 1302 and r['total']['hls4ml_reader_agrees'] is True
    assert {'BilinearResize_0', 'Conv2D_Conv_0', 'Conv2D_Conv_2'} <= set(r['layers'])
    assert r['layers']['Conv2D_Conv_2']['module'] == CONV229

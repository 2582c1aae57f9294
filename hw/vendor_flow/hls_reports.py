"""Vitis HLS C-synthesis reports and the attribution of synthesised modules to hls4ml layers.

Vitis HLS ``csynth.xml`` / ``<module>_csynth.xml`` (``<profile>`` schema: ``<UserAssignments>``,
``<PerformanceEstimates>``, ``<AreaEstimates><Resources>`` / ``<AvailableResources>``): latency and
interval in clock cycles, clock periods in ns, resources in device units (BRAM_18K blocks, DSP
slices, FFs, LUTs, URAM blocks).

hls4ml ships a reader too (``hls4ml.report.parse_vivado_report``). It is used for the top-level
C-synthesis numbers when the folder has the layout it expects (``project.tcl`` +
``<project>_prj/hls.app`` + solution); our own parser covers what it does not: it prints to stdout,
returns strings, needs ``hls.app`` and crashes (``solutions[0]``) when the solution list is empty;
it reads only the top ``<top>_csynth.xml`` (no per-module rows).
"""

from __future__ import annotations

import contextlib
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from hw.vendor_flow.report_cells import num, pct

HLS_RESOURCES = ('BRAM_18K', 'DSP', 'FF', 'LUT', 'URAM')


def parse_csynth_xml(path) -> dict:
    """One Vitis HLS ``*_csynth.xml`` -> flat dict.

    Keys: ``module``, ``part``, ``tool_version``, ``target_clock_ns``, ``clock_uncertainty_ns``,
    ``estimated_clock_ns``, ``fmax_mhz`` (1000 / estimated period), ``latency_best_cycles``,
    ``latency_avg_cycles``, ``latency_worst_cycles``, ``interval_min_cycles``,
    ``interval_max_cycles``, ``ii_cycles`` (= Interval-max: cycles between two frames),
    ``pipeline_type``, ``resources`` / ``available`` / ``utilization_pct`` (dicts over BRAM_18K,
    DSP, FF, LUT, URAM; plus BRAM36 = BRAM_18K / 2 in resources), ``loops`` (name -> trip count,
    latency, II). Latencies Vitis HLS cannot bound ("undef") are None.
    """
    root = ET.parse(str(path)).getroot()

    def text(xpath):
        node = root.find(xpath)
        return None if node is None else (node.text or '').strip()

    perf = './PerformanceEstimates/SummaryOfOverallLatency/'
    out = {
        'module': text('./UserAssignments/TopModelName'),
        'part': text('./UserAssignments/Part'),
        'tool_version': text('./ReportVersion/Version'),
        'target_clock_ns': num(text('./UserAssignments/TargetClockPeriod')),
        'clock_uncertainty_ns': num(text('./UserAssignments/ClockUncertainty')),
        'estimated_clock_ns': num(text('./PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod')),
        'latency_best_cycles': num(text(perf + 'Best-caseLatency')),
        'latency_avg_cycles': num(text(perf + 'Average-caseLatency')),
        'latency_worst_cycles': num(text(perf + 'Worst-caseLatency')),
        'interval_min_cycles': num(text(perf + 'Interval-min')),
        'interval_max_cycles': num(text(perf + 'Interval-max')),
        'pipeline_type': text('./PerformanceEstimates/PipelineType'),
    }
    out['ii_cycles'] = out['interval_max_cycles']
    est = out['estimated_clock_ns']
    out['fmax_mhz'] = round(1000.0 / est, 3) if est else None
    res, avail = {}, {}
    for tag, dst in (('Resources', res), ('AvailableResources', avail)):
        node = root.find(f'./AreaEstimates/{tag}')
        for child in (node if node is not None else []):
            key = 'DSP' if child.tag == 'DSP48E' else child.tag  # Vivado HLS called DSPs DSP48E
            dst[key] = num(child.text)
    out['resources'] = {k: res.get(k) for k in HLS_RESOURCES if k in res}
    if res.get('BRAM_18K') is not None:
        out['resources']['BRAM36'] = res['BRAM_18K'] / 2
    out['available'] = {k: avail.get(k) for k in HLS_RESOURCES if k in avail}
    out['utilization_pct'] = {k: pct(res.get(k), avail.get(k)) for k in HLS_RESOURCES if k in res}
    loops = {}
    lnode = root.find('./PerformanceEstimates/SummaryOfLoopLatency')
    for loop in (lnode if lnode is not None else []):
        loops[loop.tag] = {'trip_count': num(loop.findtext('TripCount')), 'latency_cycles': num(loop.findtext('Latency')),
                           'ii_cycles': num(loop.findtext('PipelineII'))}
    out['loops'] = loops
    # AXI4-Stream data ports of the top (TDATA width in bits), from <InterfaceSummary>
    out['axis_tdata_bits'] = {p.findtext('name')[:-len('_TDATA')]: num(p.findtext('Bits'))
                              for p in root.findall('./InterfaceSummary/RtlPorts')
                              if (p.findtext('IOProtocol') or '') == 'axis' and (p.findtext('name') or '').endswith('_TDATA')}
    return out


def hls4ml_top_csynth(project_dir: Path) -> dict | None:
    """Top-level C-synthesis numbers via hls4ml's own reader, when the folder has its layout.

    Returns a dict in :func:`parse_csynth_xml`'s keys (resources and latency only), or None.
    """
    if not (project_dir / 'project.tcl').is_file():
        return None
    try:
        from hls4ml.report import parse_vivado_report
        from hls4ml.report.vivado_report import _find_solutions, _parse_project_script
        prj, _ = _parse_project_script(str(project_dir))
        if not prj or not _find_solutions(str(project_dir / prj)):
            return None  # parse_vivado_report would crash on solutions[0]
        with contextlib.redirect_stdout(io.StringIO()):
            rep = parse_vivado_report(str(project_dir))
    except Exception:  # noqa: BLE001 -- any layout it does not know: fall back to our parser
        return None
    c = (rep or {}).get('CSynthesisReport')
    if not c:
        return None
    res = {k: num(c.get(k)) for k in HLS_RESOURCES if k in c}
    avail = {k: num(c.get('Available' + k)) for k in HLS_RESOURCES if 'Available' + k in c}
    return {'target_clock_ns': num(c.get('TargetClockPeriod')), 'estimated_clock_ns': num(c.get('EstimatedClockPeriod')),
            'latency_best_cycles': num(c.get('BestLatency')), 'latency_worst_cycles': num(c.get('WorstLatency')),
            'interval_min_cycles': num(c.get('IntervalMin')), 'interval_max_cycles': num(c.get('IntervalMax')),
            'resources': res, 'available': avail}


_CALL = re.compile(r'nnet::\w+\s*<(?P<args>[^;]*?)>\s*\([^;]*\)\s*;\s*//\s*(?P<name>\S+)')


def layer_config_map(top_cpp) -> dict[str, str]:
    """hls4ml config struct name -> layer name, from the calls in ``firmware/<top>.cpp``.

    hls4ml writes each layer as ``nnet::conv_2d_cl<in_t, out_t, config229>(...); // Conv2D_Conv_2``;
    Vitis HLS names the synthesised module after the template instance, which contains the config
    name (``conv_2d_cl_..._config229_s``), so module rows can be attributed to layers.
    """
    try:
        src = Path(top_cpp).read_text(errors='replace')
    except OSError:
        return {}
    out = {}
    for m in _CALL.finditer(src):
        last = m.group('args').split(',')[-1].strip()
        if re.fullmatch(r'\w*config\w*', last):
            out[last] = m.group('name')
    return out


def module_layer(module: str, configs: dict[str, str]) -> str | None:
    """Layer name for a synthesised module name (longest matching config token wins)."""
    for cfg in sorted(configs, key=len, reverse=True):
        if re.search(rf'(?:^|_){re.escape(cfg)}(?:_|$)', module):
            return configs[cfg]
    return None


def layer_size(row: dict) -> float:
    r = row.get('resources', {})
    return sum(v for k, v in r.items() if k in ('LUT', 'FF') and v)


_MODULE_KEYS = ('estimated_clock_ns', 'latency_best_cycles', 'latency_avg_cycles', 'latency_worst_cycles',
                'interval_min_cycles', 'interval_max_cycles', 'ii_cycles', 'pipeline_type', 'resources',
                'utilization_pct', 'loops')


def _attribute(rows: dict[str, dict], configs: dict[str, str]) -> dict[str, dict]:
    """Module rows -> layer rows. A layer's outermost module includes its sub-pipelines, so when
    several modules map to one layer the largest (LUT + FF) is kept, never a sum."""
    layers: dict[str, dict] = {}
    for mod, row in sorted(rows.items()):
        name = module_layer(mod, configs) or mod
        row = {**{k: v for k, v in row.items() if k in _MODULE_KEYS}, 'module': mod,
               'layer': name if name != mod else None}
        if name not in layers or layer_size(row) > layer_size(layers[name]):
            layers[name] = row
    return layers


def parse_hls_solution(report_dir, top_cpp=None) -> dict:
    """All csynth XMLs of one ``<solution>/syn/report`` folder -> {top, modules, files}.

    ``top`` comes from ``csynth.xml`` (or ``<top>_csynth.xml``); ``modules`` maps every other
    ``<module>_csynth.xml`` to its row; with ``top_cpp`` (hls4ml's ``firmware/<top>.cpp``) rows are
    keyed by layer name where the module can be attributed.
    """
    report_dir = Path(report_dir)
    top_file = report_dir / 'csynth.xml'
    files = sorted(report_dir.glob('*_csynth.xml'))
    if not top_file.is_file():
        if not files:
            raise FileNotFoundError(f'no csynth.xml in {report_dir}')
        top_file = files[0]
    top = parse_csynth_xml(top_file)
    top_name = top.get('module')
    modules = {}
    for f in files:
        mod = f.name[:-len('_csynth.xml')]
        if mod == top_name:
            continue
        modules[mod] = parse_csynth_xml(f)
    configs = layer_config_map(top_cpp) if top_cpp else {}
    used = [str(top_file)] + [str(report_dir / f'{m}_csynth.xml') for m in sorted(modules)]
    return {'top': top, 'modules': _attribute(modules, configs), 'files': used}

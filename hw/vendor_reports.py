"""Parsers for the reports AMD/Xilinx tools write, in the formats they write them.

* Vitis HLS ``csynth.xml`` / ``<module>_csynth.xml`` (``<profile>`` schema: ``<UserAssignments>``,
  ``<PerformanceEstimates>``, ``<AreaEstimates><Resources>`` / ``<AvailableResources>``):
  latency and interval in clock cycles, clock periods in ns, resources in device units
  (BRAM_18K blocks, DSP slices, FFs, LUTs, URAM blocks).
* Vivado ``report_utilization`` text tables, flat (UltraScale/UltraScale+ "CLB LUTs",
  "CLB Registers" and 7-series "Slice LUTs", "Slice Registers"; "Block RAM Tile" in 36 Kb tiles,
  "DSPs", "URAM"; with or without the "Prohibited" column of Vivado 2020.2+) and
  ``-hierarchical`` ("1. Utilization by Hierarchy").
* Vivado ``report_timing_summary`` ("Design Timing Summary" table): WNS/TNS/WHS/THS in ns.

:func:`find_vendor_reports` is the public entry point: it returns the highest-fidelity result
found under a build folder (implementation > Vivado synthesis > Vitis HLS C synthesis) as
``{"source", "total", "layers", "files"}``; callers label every figure with ``source``.

hls4ml ships readers too (``hls4ml.report.parse_vivado_report``). It is used here for the
top-level C-synthesis numbers when the folder has the layout it expects (``project.tcl`` +
``<project>_prj/hls.app`` + solution); our own parsers cover what it does not:
* it prints to stdout, returns strings, needs ``hls.app`` and crashes (``solutions[0]``) when the
  solution list is empty; it reads only the top ``<top>_csynth.xml`` (no per-module rows);
* its Vivado utilisation reader takes only the "Used" column of ``vivado_synth.rpt`` at the project
  root (no available / util%), labels "Block RAM Tile" (36 Kb tiles) as ``BRAM_18K``, and reads the
  timing summary only at the VivadoAccelerator backend's fixed path; it has no hierarchy reader.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

SOURCE_HLS = 'vitis_hls csynth'
SOURCE_SYNTH = 'vivado synthesis'
SOURCE_IMPL = 'vivado implementation'

HLS_RESOURCES = ('BRAM_18K', 'DSP', 'FF', 'LUT', 'URAM')


# ----------------------------------------------------------------------------- small helpers

def _num(text):
    """int or float from a report cell ('1,234', '12.5', '<0.01' -> 0.01); None for '', NA, undef, '-'."""
    if text is None:
        return None
    t = str(text).strip().replace(',', '')
    if t.startswith('<'):
        t = t[1:]
    if t.endswith('%'):
        t = t[:-1]
    if not t or t.lower() in ('na', 'n/a', 'undef', '-', '?'):
        return None
    try:
        return int(t)
    except ValueError:
        try:
            return float(t)
        except ValueError:
            return None


def _pct(used, avail):
    if used is None or not avail:
        return None
    return round(100.0 * used / avail, 2)


# ----------------------------------------------------------------------------- Vitis HLS csynth.xml

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
        'target_clock_ns': _num(text('./UserAssignments/TargetClockPeriod')),
        'clock_uncertainty_ns': _num(text('./UserAssignments/ClockUncertainty')),
        'estimated_clock_ns': _num(text('./PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod')),
        'latency_best_cycles': _num(text(perf + 'Best-caseLatency')),
        'latency_avg_cycles': _num(text(perf + 'Average-caseLatency')),
        'latency_worst_cycles': _num(text(perf + 'Worst-caseLatency')),
        'interval_min_cycles': _num(text(perf + 'Interval-min')),
        'interval_max_cycles': _num(text(perf + 'Interval-max')),
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
            dst[key] = _num(child.text)
    out['resources'] = {k: res.get(k) for k in HLS_RESOURCES if k in res}
    if res.get('BRAM_18K') is not None:
        out['resources']['BRAM36'] = res['BRAM_18K'] / 2
    out['available'] = {k: avail.get(k) for k in HLS_RESOURCES if k in avail}
    out['utilization_pct'] = {k: _pct(res.get(k), avail.get(k)) for k in HLS_RESOURCES if k in res}
    loops = {}
    lnode = root.find('./PerformanceEstimates/SummaryOfLoopLatency')
    for loop in (lnode if lnode is not None else []):
        loops[loop.tag] = {'trip_count': _num(loop.findtext('TripCount')), 'latency_cycles': _num(loop.findtext('Latency')),
                           'ii_cycles': _num(loop.findtext('PipelineII'))}
    out['loops'] = loops
    # AXI4-Stream data ports of the top (TDATA width in bits), from <InterfaceSummary>
    out['axis_tdata_bits'] = {p.findtext('name')[:-len('_TDATA')]: _num(p.findtext('Bits'))
                              for p in root.findall('./InterfaceSummary/RtlPorts')
                              if (p.findtext('IOProtocol') or '') == 'axis' and (p.findtext('name') or '').endswith('_TDATA')}
    return out


def _hls4ml_top_csynth(project_dir: Path) -> dict | None:
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
    res = {k: _num(c.get(k)) for k in HLS_RESOURCES if k in c}
    avail = {k: _num(c.get('Available' + k)) for k in HLS_RESOURCES if 'Available' + k in c}
    return {'target_clock_ns': _num(c.get('TargetClockPeriod')), 'estimated_clock_ns': _num(c.get('EstimatedClockPeriod')),
            'latency_best_cycles': _num(c.get('BestLatency')), 'latency_worst_cycles': _num(c.get('WorstLatency')),
            'interval_min_cycles': _num(c.get('IntervalMin')), 'interval_max_cycles': _num(c.get('IntervalMax')),
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


def _size(row: dict) -> float:
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
        if name not in layers or _size(row) > _size(layers[name]):
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


# ----------------------------------------------------------------------------- Vivado text tables

def _tables(lines: list[str]):
    """Yield (header_cells, rows) for every ``+---+`` bordered table; row = (indent, cells)."""
    i, n = 0, len(lines)
    while i < n:
        if lines[i].lstrip().startswith('+-') and i + 2 < n and lines[i + 1].lstrip().startswith('|') \
                and lines[i + 2].lstrip().startswith('+-'):
            header = [c.strip() for c in lines[i + 1].strip().strip('|').split('|')]
            rows = []
            j = i + 3
            while j < n and lines[j].lstrip().startswith('|'):
                raw = lines[j].strip()[1:]
                cells = raw.rstrip('|').split('|')
                first = cells[0]
                indent = len(first) - len(first.lstrip(' ')) - 1  # one space of padding after '|'
                rows.append((max(indent, 0), [c.strip() for c in cells]))
                j += 1
            yield header, rows
            i = j
        else:
            i += 1


def _report_header(text: str) -> dict:
    out = {}
    for key, pat in (('tool_version', r'^\|\s*Tool Version\s*:\s*(.+)$'), ('design', r'^\|\s*Design\s*:\s*(\S+)'),
                     ('device', r'^\|\s*Device\s*:\s*(\S+)'), ('design_state', r'^\|\s*Design State\s*:\s*(.+?)\s*$')):
        m = re.search(pat, text, re.M)
        if m:
            out[key] = m.group(1).strip()
    return out


_UTIL_ROWS = {  # resource key -> site-type names (UltraScale/UltraScale+ first, then 7-series)
    'LUT': ('CLB LUTs', 'Slice LUTs'),
    'FF': ('CLB Registers', 'Slice Registers'),
    'BRAM36': ('Block RAM Tile',),
    'DSP': ('DSPs',),
    'URAM': ('URAM',),
}


def parse_utilization(path) -> dict:
    """Flat Vivado ``report_utilization`` -> {used, available, utilization_pct, header}.

    Units: LUT and FF counts, BRAM36 in 36 Kb Block RAM tiles (may be x.5: one RAMB18 is half a
    tile; ``BRAM_18K`` = 2 x BRAM36 is added for comparison with HLS), DSP slices, URAM blocks.
    Reads the Used / Available / Util% columns by their header, so the Vivado 2020.2+ "Prohibited"
    column and the older 4-column tables both work. A resource the device lacks (URAM on 7-series)
    is absent.
    """
    text = Path(path).read_text(errors='replace')
    used, avail, pct = {}, {}, {}
    for header, rows in _tables(text.splitlines()):
        if 'Site Type' not in header or 'Used' not in header:
            continue
        iu, ia = header.index('Used'), header.index('Available') if 'Available' in header else None
        ip = header.index('Util%') if 'Util%' in header else None
        for indent, cells in rows:
            if indent:
                continue  # sub-rows ("LUT as Logic", "RAMB18") are breakdowns of a top row
            name = cells[0].rstrip('*').strip()
            for key, names in _UTIL_ROWS.items():
                if name in names and key not in used:
                    used[key] = _num(cells[iu])
                    avail[key] = _num(cells[ia]) if ia is not None else None
                    pct[key] = _num(cells[ip]) if ip is not None else _pct(used[key], avail[key])
    if 'BRAM36' in used and used['BRAM36'] is not None:
        used['BRAM_18K'] = used['BRAM36'] * 2
        avail['BRAM_18K'] = avail['BRAM36'] * 2 if avail.get('BRAM36') is not None else None
        pct['BRAM_18K'] = pct['BRAM36']
    if not used:
        raise ValueError(f'{path}: no utilization table with CLB/Slice LUTs found')
    return {'used': used, 'available': avail, 'utilization_pct': pct, 'header': _report_header(text)}


_HIER_COLS = {'Total LUTs': 'LUT', 'FFs': 'FF', 'RAMB36': 'RAMB36', 'RAMB18': 'RAMB18', 'URAM': 'URAM',
              'DSP Blocks': 'DSP', 'DSP48 Blocks': 'DSP', 'Logic LUTs': 'LUT_logic', 'LUTRAMs': 'LUTRAM', 'SRLs': 'SRL'}


def parse_utilization_hierarchical(path) -> list[dict]:
    """``report_utilization -hierarchical`` -> rows {instance, module, depth, resources}.

    ``depth`` 0 is the top; resources: LUT, FF, BRAM36 (= RAMB36 + RAMB18 / 2, 36 Kb tiles), DSP,
    URAM (UltraScale+ only) and the LUT breakdown (LUT_logic, LUTRAM, SRL).
    """
    text = Path(path).read_text(errors='replace')
    out = []
    for header, rows in _tables(text.splitlines()):
        if len(header) < 3 or header[0] != 'Instance' or header[1] != 'Module':
            continue
        for indent, cells in rows:
            res = {}
            for col, cell in zip(header[2:], cells[2:]):
                if col in _HIER_COLS:
                    res[_HIER_COLS[col]] = _num(cell)
            if 'RAMB36' in res or 'RAMB18' in res:
                res['BRAM36'] = (res.pop('RAMB36', 0) or 0) + (res.pop('RAMB18', 0) or 0) / 2
            out.append({'instance': cells[0], 'module': cells[1], 'depth': indent // 2, 'resources': res})
    if not out:
        raise ValueError(f'{path}: no "Utilization by Hierarchy" table found')
    return out


def parse_timing_summary(path) -> dict:
    """``report_timing_summary`` -> {wns_ns, tns_ns, whs_ns, ths_ns, wpws_ns, tpws_ns, failing
    endpoints, met}. ``met`` is True only when the report says all user constraints are met and no
    slack is negative; a figure Vivado prints as NA (unconstrained) is None."""
    text = Path(path).read_text(errors='replace')
    lines = text.splitlines()
    start = next((i for i, l in enumerate(lines) if l.strip() == '| Design Timing Summary'), None)
    if start is None:
        raise ValueError(f'{path}: no "Design Timing Summary" table')
    hi = next((i for i in range(start, min(start + 15, len(lines))) if lines[i].strip().startswith('WNS(ns)')), None)
    if hi is None:
        raise ValueError(f'{path}: "Design Timing Summary" has no WNS(ns) header')
    names = re.split(r'\s{2,}', lines[hi].strip())
    vi = hi + 1
    while vi < len(lines) and (not lines[vi].strip() or set(lines[vi].strip()) <= set('- ')):
        vi += 1
    values = lines[vi].split() if vi < len(lines) else []
    row = dict(zip(names, values))
    key = {'WNS(ns)': 'wns_ns', 'TNS(ns)': 'tns_ns', 'WHS(ns)': 'whs_ns', 'THS(ns)': 'ths_ns',
           'WPWS(ns)': 'wpws_ns', 'TPWS(ns)': 'tpws_ns', 'TNS Failing Endpoints': 'setup_failing_endpoints',
           'THS Failing Endpoints': 'hold_failing_endpoints', 'TPWS Failing Endpoints': 'pulse_width_failing_endpoints'}
    out = {k: _num(row.get(n)) for n, k in key.items()}
    tail = '\n'.join(lines[vi:vi + 8])
    stated_met = 'All user specified timing constraints are met.' in tail
    negative = any(v is not None and v < 0 for v in (out['wns_ns'], out['whs_ns'], out['wpws_ns']))
    out['met'] = bool(stated_met and not negative)
    out['header'] = _report_header(text)
    return out


# ----------------------------------------------------------------------------- discovery

_PRUNE = {'.autopilot', '.Xil', 'sim', 'hls_src', 'firmware', 'tb_data', 'hdl', 'ipshared', 'sources_1',
          'csim', 'impl', '.cache', '.hw', '.ip_user_files', '.gen', '.srcs', 'logs'}


def _walk(build_dir: Path):
    for root, dirs, files in os.walk(build_dir):
        dirs[:] = sorted(d for d in dirs if d not in _PRUNE)
        yield Path(root), sorted(files)


def _pick(cands: list[tuple[int, Path]]) -> Path | None:
    """Best candidate: our own report names (priority 0) before Vivado's run reports (1); then the
    newest file (a re-run leaves the latest report); ties by path for determinism."""
    if not cands:
        return None
    return sorted(cands, key=lambda c: (c[0], -c[1].stat().st_mtime_ns, str(c[1])))[0][1]


_OURS = {  # names 03_impl_bitstream.tcl writes (and hls4ml's vsynth report)
    'impl_utilization.rpt': 'impl_util', 'impl_utilization_hier.rpt': 'impl_hier',
    'impl_timing_summary.rpt': 'impl_timing', 'synth_utilization.rpt': 'synth_util',
    'synth_utilization_hier.rpt': 'synth_hier', 'synth_timing_summary.rpt': 'synth_timing',
    'vivado_synth.rpt': 'synth_util',
}
_VIVADO_RUNS = (('_utilization_placed.rpt', 'impl_util'), ('_timing_summary_routed.rpt', 'impl_timing'),
                ('_utilization_synth.rpt', 'synth_util'))


def _collect(build_dir: Path) -> dict[str, list[tuple[int, Path]]]:
    found = {k: [] for k in ('csynth', 'impl_util', 'impl_hier', 'impl_timing', 'synth_util', 'synth_hier',
                             'synth_timing')}
    for root, files in _walk(build_dir):
        for f in files:
            p = root / f
            low = f.lower()
            if f == 'csynth.xml' and root.name == 'report' and root.parent.name == 'syn':
                found['csynth'].append((0, p))
            elif low in _OURS:
                found[_OURS[low]].append((0, p))
            elif low.endswith('.rpt') and root.name in ('impl_1', 'synth_1'):
                # Vivado's own run reports (not the per-IP out-of-context runs)
                for suffix, key in _VIVADO_RUNS:
                    if low.endswith(suffix):
                        found[key].append((1, p))
    return found


def _hls_result(csynth: Path) -> tuple[dict, dict, list[str], dict[str, str]]:
    report_dir = csynth.parent
    top_name = parse_csynth_xml(csynth).get('module')
    # <prj>/<solution>/syn/report -> the hls4ml sources next to <prj> (vendor/hls_src or the hls4ml project)
    prj_parent = report_dir.parents[3] if len(report_dir.parents) > 3 else report_dir
    top_cpp = None
    for cand in (prj_parent / 'hls_src' / 'firmware' / f'{top_name}.cpp', prj_parent / 'firmware' / f'{top_name}.cpp'):
        if cand.is_file():
            top_cpp = cand
            break
    sol = parse_hls_solution(report_dir, top_cpp)
    total = {k: v for k, v in sol['top'].items() if k != 'loops'}
    via = _hls4ml_top_csynth(prj_parent)
    if via is not None:
        # hls4ml's reader and ours read the same XML: keep ours (numbers, not strings) but say
        # both agree, or keep ours and record the disagreement.
        same = all(via.get(k) == total.get(k) for k in ('latency_worst_cycles', 'interval_max_cycles'))
        total['hls4ml_reader_agrees'] = bool(same and via['resources'] == {k: total['resources'].get(k)
                                                                           for k in via['resources']})
    total['source'] = SOURCE_HLS
    return total, sol['modules'], sol['files'], layer_config_map(top_cpp) if top_cpp else {}


def _vivado_layers(hier: Path | None, configs: dict[str, str], top_name: str | None) -> tuple[dict, dict | None]:
    if hier is None:
        return {}, None
    rows = parse_utilization_hierarchical(hier)
    accel = None
    if top_name:
        # the HLS IP cell is 'accel' in our block designs; its module is <top> or <bd>_<cell>_<top>
        cands = [r for r in rows if r['instance'] == 'accel' or r['module'] == top_name
                 or re.search(rf'_{re.escape(top_name)}$', r['module'])]
        accel = min(cands, key=lambda r: r['depth']) if cands else None
    by_module = {}
    for r in rows:
        if r['instance'].startswith('('):
            continue  # "(name)" rows are the cell's own logic, not a sub-module
        if accel is not None and r['depth'] <= accel['depth']:
            continue
        by_module.setdefault(r['module'], r)
    layers = {}
    for mod, r in by_module.items():
        name = module_layer(mod, configs) if configs else None
        if name is None:
            continue
        row = {'module': mod, 'instance': r['instance'], 'layer': name, 'resources': r['resources']}
        if name not in layers or _size(row) > _size(layers[name]):
            layers[name] = row
    return layers, accel


def find_vendor_reports(build_dir) -> dict | None:
    """The highest-fidelity vendor report under ``build_dir``, normalised; None when there is none.

    Fidelity: Vivado implementation (placed/routed utilisation + routed timing) > Vivado synthesis
    > Vitis HLS C synthesis. Returns::

        {"source": "vivado implementation" | "vivado synthesis" | "vitis_hls csynth",
         "total":  {...},   # see below
         "layers": {layer_or_module: {...}},
         "files":  [paths read]}

    ``total`` for HLS: ``parse_csynth_xml`` keys (cycles, ns, MHz, device units). For Vivado:
    ``resources`` / ``available`` / ``utilization_pct`` (LUT, FF, BRAM36 tiles, BRAM_18K, DSP, URAM;
    whole design incl. PS/DMA), ``accelerator`` (the HLS IP's own row from the hierarchical report,
    when present), ``timing`` (WNS/TNS/WHS/THS in ns and ``met``), ``device``, and ``hls``: the HLS
    C-synthesis total (its own ``source`` label) because latency in cycles only comes from HLS.
    ``layers`` for HLS: one row per hls4ml layer (module latency/II in cycles and resources); for
    Vivado: per layer from the hierarchical report where modules can be attributed.
    """
    build_dir = Path(build_dir)
    if not build_dir.exists():
        return None
    found = _collect(build_dir)
    hls_total, hls_layers, hls_files, configs, top_name = None, {}, [], {}, None
    csynth = _pick(found['csynth'])
    if csynth is not None:
        hls_total, hls_layers, hls_files, configs = _hls_result(csynth)
        top_name = hls_total.get('module')

    for source, util_key, hier_key, timing_key in ((SOURCE_IMPL, 'impl_util', 'impl_hier', 'impl_timing'),
                                                   (SOURCE_SYNTH, 'synth_util', 'synth_hier', 'synth_timing')):
        util = _pick(found[util_key])
        if util is None:
            continue
        u = parse_utilization(util)
        files = [str(util)]
        total = {'resources': u['used'], 'available': u['available'], 'utilization_pct': u['utilization_pct'],
                 'device': u['header'].get('device'), 'design_state': u['header'].get('design_state'),
                 'tool_version': u['header'].get('tool_version'), 'source': source}
        timing = _pick(found[timing_key])
        if timing is not None:
            total['timing'] = parse_timing_summary(timing)
            files.append(str(timing))
        hier = _pick(found[hier_key])
        layers, accel = _vivado_layers(hier, configs, top_name)
        if hier is not None:
            files.append(str(hier))
        if accel is not None:
            total['accelerator'] = {'instance': accel['instance'], 'module': accel['module'],
                                    'resources': accel['resources']}
        if hls_total is not None:
            total['hls'] = hls_total
            files += hls_files
        return {'source': source, 'total': total, 'layers': layers, 'files': files}

    if hls_total is not None:
        return {'source': SOURCE_HLS, 'total': hls_total, 'layers': hls_layers, 'files': hls_files}
    return None

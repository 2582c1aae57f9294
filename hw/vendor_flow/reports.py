"""Find the vendor reports under a build folder and normalise the best of them.

:func:`find_vendor_reports` is the public entry point: it returns the highest-fidelity result
found under a build folder (implementation > Vivado synthesis > Vitis HLS C synthesis) as
``{"source", "total", "layers", "files"}``; callers label every figure with ``source``. The
parsers: :mod:`hw.vendor_flow.hls_reports` (Vitis HLS csynth XML, module -> layer attribution) and
:mod:`hw.vendor_flow.vivado_reports` (utilisation, hierarchy, timing summary).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from hw.vendor_flow.hls_reports import (hls4ml_top_csynth, layer_config_map, layer_size, module_layer, parse_csynth_xml,
                                   parse_hls_solution)
from hw.vendor_flow.vivado_reports import parse_timing_summary, parse_utilization, parse_utilization_hierarchical

SOURCE_HLS = 'vitis_hls csynth'
SOURCE_SYNTH = 'vivado synthesis'
SOURCE_IMPL = 'vivado implementation'


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


def _layer_source(prj_parent: Path, top_name: str | None) -> Path | None:
    """The hls4ml source whose layer calls name the synthesised modules: ``firmware/<top>.cpp``, or,
    when the HLS top is the AXI4-Stream adapter ``<core>_axis`` (hw/hls/axis.py; its own source calls
    no layer), the core's ``firmware/<core>.cpp``. Searched in the vendor copy (hls_src/) and in
    the hls4ml project itself."""
    if not top_name:
        return None
    names = [top_name] + ([top_name[:-len('_axis')]] if top_name.endswith('_axis') else [])
    found = [d / f'{n}.cpp' for d in (prj_parent / 'hls_src' / 'firmware', prj_parent / 'firmware') for n in names]
    found = [f for f in found if f.is_file()]
    return next((f for f in found if layer_config_map(f)), found[0] if found else None)


def _hls_result(csynth: Path) -> tuple[dict, dict, list[str], dict[str, str]]:
    report_dir = csynth.parent
    top_name = parse_csynth_xml(csynth).get('module')
    # <prj>/<solution>/syn/report -> the hls4ml sources next to <prj> (vendor/hls_src or the hls4ml project)
    prj_parent = report_dir.parents[3] if len(report_dir.parents) > 3 else report_dir
    top_cpp = _layer_source(prj_parent, top_name)
    sol = parse_hls_solution(report_dir, top_cpp)
    total = {k: v for k, v in sol['top'].items() if k != 'loops'}
    via = hls4ml_top_csynth(prj_parent)
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
        if name not in layers or layer_size(row) > layer_size(layers[name]):
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

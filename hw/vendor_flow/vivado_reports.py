"""Vivado utilisation and timing reports, in the text formats Vivado writes them.

* ``report_utilization`` text tables, flat (UltraScale/UltraScale+ "CLB LUTs", "CLB Registers" and
  7-series "Slice LUTs", "Slice Registers"; "Block RAM Tile" in 36 Kb tiles, "DSPs", "URAM"; with
  or without the "Prohibited" column of Vivado 2020.2+) and ``-hierarchical`` ("1. Utilization by
  Hierarchy").
* ``report_timing_summary`` ("Design Timing Summary" table): WNS/TNS/WHS/THS in ns.

hls4ml's Vivado utilisation reader takes only the "Used" column of ``vivado_synth.rpt`` at the
project root (no available / util%), labels "Block RAM Tile" (36 Kb tiles) as ``BRAM_18K``, and
reads the timing summary only at the VivadoAccelerator backend's fixed path; it has no hierarchy
reader, hence these parsers.
"""

from __future__ import annotations

import re
from pathlib import Path

from hw.vendor_flow.report_cells import num, pct


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
    used, avail, util = {}, {}, {}
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
                    used[key] = num(cells[iu])
                    avail[key] = num(cells[ia]) if ia is not None else None
                    util[key] = num(cells[ip]) if ip is not None else pct(used[key], avail[key])
    if 'BRAM36' in used and used['BRAM36'] is not None:
        used['BRAM_18K'] = used['BRAM36'] * 2
        avail['BRAM_18K'] = avail['BRAM36'] * 2 if avail.get('BRAM36') is not None else None
        util['BRAM_18K'] = util['BRAM36']
    if not used:
        raise ValueError(f'{path}: no utilization table with CLB/Slice LUTs found')
    return {'used': used, 'available': avail, 'utilization_pct': util, 'header': _report_header(text)}


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
                    res[_HIER_COLS[col]] = num(cell)
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
    out = {k: num(row.get(n)) for n, k in key.items()}
    tail = '\n'.join(lines[vi:vi + 8])
    stated_met = 'All user specified timing constraints are met.' in tail
    negative = any(v is not None and v < 0 for v in (out['wns_ns'], out['whs_ns'], out['wpws_ns']))
    out['met'] = bool(stated_met and not negative)
    out['header'] = _report_header(text)
    return out

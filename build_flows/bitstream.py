"""``hsbinet build``: vendor project (Vitis HLS + Vivado scripts) and, with ``--bitstream``, the bitstream.

    build_stage(build_dir, part=..., board=..., clock_mhz=..., bitstream=True)

writes ``<out>/vendor/`` (see :mod:`hw.vendor_project`) from the hls4ml project found in
``build_dir``; with ``bitstream=True`` it runs the vendor tools when they are on PATH
(:func:`hw.vendor_tools.run_vendor_flow`) and raises :class:`hw.vendor_tools.VendorToolsMissing`
otherwise, after the project is written. Without ``bitstream`` it only writes the project.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from hw.parts import DEFAULT_PART, PARTS, get_part
from quant_models.errors import HsbinetError

Log = Callable[[str], None]


def resolve_target(part: str | None = None, board: str | None = None):
    """(Part, board name or None) from ``--part`` / ``--board`` (at most one of them)."""
    if part and board:
        raise HsbinetError('Give either --part or --board, not both', key='--part/--board',
                           found=f'--part {part} --board {board}',
                           hint='--board implies its part (ZCU102 -> xczu9eg, PYNQ-Z2 -> xc7z020)')
    if board:
        boards = {p.board.upper().replace('-', ''): p for p in PARTS.values() if p.board}
        p = boards.get(str(board).strip().upper().replace('-', '').replace('_', ''))
        if p is None:
            raise HsbinetError('Unknown board', key='--board', expected=', '.join(q.board for q in boards.values()),
                               found=repr(board), hint='use --part for a bare part (e.g. --part XQRKU060)')
        return p, p.board
    return get_part(part or DEFAULT_PART), None


def build_stage(build_dir, part: str | None = None, board: str | None = None, clock_mhz: float | None = None,
                out_dir=None, bitstream: bool = False, log: Log = print) -> dict:
    """Write the vendor project for the hls4ml project in ``build_dir`` (clock in MHz; default per
    part) into ``<out_dir or build_dir>/vendor``; run the vendor flow if ``bitstream``.

    Returns {vendor_dir, manifest, ran, flow}. Writes ``<vendor>/build_result.json`` after a flow run.
    """
    from hw.vendor_project import find_hls_project, write_vendor_project
    from hw.vendor_tools import run_vendor_flow

    target, board_name = resolve_target(part, board)
    if clock_mhz is None:
        clock_mhz = target.default_clock_mhz
    prj = find_hls_project(build_dir)
    out = Path(out_dir) if out_dir is not None else Path(build_dir)
    manifest = write_vendor_project(prj, out, target, clock_mhz=clock_mhz, board=board_name)
    vendor = Path(manifest['path'])
    log(f'vendor project for {target.key} ({target.vendor_part}{", " + board_name if board_name else ""}) at '
        f'{clock_mhz:g} MHz: {vendor} (from {prj})')
    result = {'vendor_dir': str(vendor), 'manifest': manifest, 'ran': False, 'flow': None}
    if not bitstream:
        log(f'to build the bitstream: hsbinet build --bitstream ..., or cd {vendor} && bash run_all.sh')
        return result
    flow = run_vendor_flow(vendor, log=log)  # raises VendorToolsMissing when the tools are absent
    result.update(ran=True, flow=flow)
    (vendor / 'build_result.json').write_text(json.dumps(flow, indent=2, default=str))
    rep = flow.get('reports')
    if rep:
        t = rep['total']
        timing = t.get('timing') or {}
        log(f'bitstream: {flow["bitstream"]}; {rep["source"]}: LUT {t["resources"].get("LUT")}, '
            f'FF {t["resources"].get("FF")}, DSP {t["resources"].get("DSP")}'
            + (f', WNS {timing.get("wns_ns")} ns ({"met" if timing.get("met") else "NOT met"})' if timing else ''))
    return result

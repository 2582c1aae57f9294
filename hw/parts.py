"""FPGA parts the reports and builds know: resources available and vendor part names.

Figures are the device totals from the vendors' product tables (AMD/Xilinx DS890 for
UltraScale, DS891 for Zynq UltraScale+, DS190 for Zynq-7000): CLB LUTs, CLB flip-flops,
36 Kb block RAMs (a BRAM18 counts as half), DSP slices and 288 Kb UltraRAMs. Nothing here is
fitted to a design: utilisation is always used / available.

Aliases are accepted case-insensitively (``XQRKU060``, ``ku060``, ``zcu102`` ...).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from quant_models.common import HsbinetError


@dataclass(frozen=True)
class Part:
    """One FPGA device. ``bram36`` counts 36 Kb blocks; ``uram`` 288 Kb blocks (0 = none)."""

    key: str            # short name used on the command line and in report.json
    vendor_part: str    # the part string Vivado / Vitis HLS take (-part)
    family: str
    lut: int
    ff: int
    bram36: int
    dsp: int
    uram: int = 0
    board: str | None = None       # evaluation board (Vivado board part), when one exists
    board_part: str | None = None
    default_clock_mhz: float = 200.0  # the accelerator clock `hsbinet build` uses when --clock is not given
    note: str = ''

    @property
    def bram_bits(self) -> int:
        return self.bram36 * 36 * 1024

    def to_dict(self) -> dict:
        d = asdict(self)
        d['bram_bits'] = self.bram_bits
        return d


PARTS: dict[str, Part] = {p.key: p for p in (
    Part('XQRKU060', 'xqrku060-cna1509-1-b', 'Kintex UltraScale (space grade, rad-tolerant)',
         lut=331_680, ff=663_360, bram36=1_080, dsp=2_760,
         note='Space-grade XQR Kintex UltraScale; same fabric as the XCKU060 (DS890, DS882).'),
    Part('ZU9EG', 'xczu9eg-ffvb1156-2-e', 'Zynq UltraScale+ MPSoC',
         lut=274_080, ff=548_160, bram36=912, dsp=2_520, board='ZCU102',
         board_part='xilinx.com:zcu102:part0:3.4', note='The ZCU102 evaluation board device.'),
    Part('XC7Z020', 'xc7z020clg400-1', 'Zynq-7000 SoC',
         lut=53_200, ff=106_400, bram36=140, dsp=220, board='PYNQ-Z2',
         board_part='tul.com.tw:pynq-z2:part0:1.0', default_clock_mhz=100.0,  # -1 speed grade: not a 200 MHz part
         note='A small, low-cost part (PYNQ-Z2 / ZedBoard class).'),
)}

_ALIASES = {'KU060': 'XQRKU060', 'XCKU060': 'XQRKU060', 'XQRKU060': 'XQRKU060',
            'ZCU102': 'ZU9EG', 'XCZU9EG': 'ZU9EG', 'ZU9EG': 'ZU9EG',
            'Z7020': 'XC7Z020', 'XC7Z020': 'XC7Z020', 'PYNQ-Z2': 'XC7Z020', 'PYNQZ2': 'XC7Z020'}

DEFAULT_PART = 'XQRKU060'
DEFAULT_CLOCK_MHZ = 200.0  # accelerator clock of reports and explorations unless a part or the user says otherwise


def get_part(name: str) -> Part:
    """Look up a part by key, alias, board name or vendor part string (case-insensitive)."""
    n = str(name).strip().upper()
    if n in _ALIASES:
        return PARTS[_ALIASES[n]]
    for p in PARTS.values():
        if p.vendor_part.upper() == n:
            return p
    raise HsbinetError('Unknown FPGA part', key='--part', expected=', '.join(PARTS) + ' (or ZCU102, KU060, PYNQ-Z2)',
                       found=repr(name))


def part_fit(total: dict, part: Part) -> dict:
    """Used vs available per resource, utilisation % and fits (every resource <= 100 %)."""
    avail = {'lut': part.lut, 'ff': part.ff, 'bram36': part.bram36, 'dsp': part.dsp}
    used = {k: total[k] for k in avail}
    util = {k: 100.0 * used[k] / avail[k] for k in avail}
    return {'part': part.key, 'vendor_part': part.vendor_part, 'family': part.family, 'used': used,
            'available': avail, 'utilization_pct': {k: round(v, 2) for k, v in util.items()},
            'fits': all(v <= 100.0 for v in util.values()), 'limiting': max(util, key=util.get)}


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

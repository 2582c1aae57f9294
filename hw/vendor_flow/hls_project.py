"""The lowered design a vendor project is generated from: where it is and what it holds.

:func:`find_hls_project` locates the hls4ml project folder in a build folder; :func:`read_hls_project`
reads its hls4ml settings (backend, clock uncertainty, the core's top function), the design
description ``design.json`` beside it (:mod:`hw.design`) and the AXI4-Stream adapter the lower
step wrote around the core (:mod:`hw.hls.axis`: ``firmware/<top>_axis.{h,cpp}``). The vendor
project synthesises that adapter, the design ``hsbinet csim`` verified, so the ports are the
adapter's: ``s_ms`` and ``s_pan`` in, ``m_out`` out, TDATA = ``axis.tdata_bits`` of design.json,
TLAST per line or per frame, beats per frame from design.json (checked against the beat order of
:func:`hw.hls.axis.geometry_of`).
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from hw.design import DESIGN_FILE, check_unchanged, load_design, project_dir
from quant_models.common import HsbinetError

MAX_DMA_STREAM_BYTES = 16  # AXI DMA stream width kept <= 128 bits (the HP ports are 128 / 64 bits wide)
ADAPTER_PORTS = ('s_ms', 's_pan', 'm_out')  # the adapter's stream arguments, in prototype order


@dataclass
class StreamPort:
    """One AXI4-Stream port of the HLS top (the adapter). Widths in bits; ``beats`` per frame;
    TLAST on every ``beats_per_tlast``-th beat (one row for ``tlast: line``, the frame for ``frame``)."""
    name: str               # s_ms | s_pan | m_out
    direction: str          # 'in' | 'out'
    tdata_bits: int
    beats: int
    tlast: str              # 'line' | 'frame'
    beats_per_tlast: int
    carries: str            # what one frame on this port is, in words
    ctype: str = 'axis_beat_t'

    @property
    def stream(self) -> str:
        """The name without the s_/m_ prefix (ms, pan, out): DMA, converter and top-level port names."""
        return self.name[2:] if self.name[:2] in ('s_', 'm_') else self.name

    @property
    def tdata_bytes(self) -> int:
        return self.tdata_bits // 8

    @property
    def frame_bytes(self) -> int:
        return self.beats * self.tdata_bytes

    @property
    def tlast_bytes(self) -> int:
        """Bytes from one TLAST to the next: what one AXI DMA S2MM transfer must hold."""
        return self.beats_per_tlast * self.tdata_bytes

    @property
    def dma_bytes(self) -> int:
        """AXI DMA stream width in bytes: the largest power of two that divides the HLS TDATA width
        (so a data-width converter has an integer ratio), at most MAX_DMA_STREAM_BYTES."""
        b = 1
        while b * 2 <= min(self.tdata_bytes, MAX_DMA_STREAM_BYTES) and self.tdata_bytes % (b * 2) == 0:
            b *= 2
        return b


@dataclass
class HlsProject:
    """What the vendor scripts need from a lowered design. ``top``: the HLS top function and IP
    name (the AXI4-Stream adapter ``<core>_axis``); ``core``: hls4ml's top function it calls;
    ``sha256``: the design identity (content hash of the hls4ml project = design.json's ``sha256``);
    ``axis`` / ``frame``: design.json's sections of the same names."""
    path: Path
    top: str
    core: str
    backend: str
    io_type: str
    clock_uncertainty: str
    ports: list[StreamPort]
    sha256: str
    design_path: Path
    axis: dict
    frame: dict

    @property
    def sources(self) -> list[str]:
        """Design sources for Vitis HLS (relative to the hls4ml project): the core and the adapter.
        The adapter's C-simulation bridge (firmware/<top>_bridge.cpp) is not one of them."""
        return [f'firmware/{self.core}.cpp', f'firmware/{self.top}.cpp']

    @property
    def testbench(self) -> str:
        return f'{self.core}_test.cpp'

    def to_dict(self) -> dict:
        d = asdict(self)
        d['path'], d['design_path'] = str(self.path), str(self.design_path)
        d['sources'], d['testbench'] = self.sources, self.testbench
        for p, src in zip(d['ports'], self.ports):
            p.update(tdata_bytes=src.tdata_bytes, beats_per_frame=src.beats, dma_bytes=src.dma_bytes,
                     has_tlast=True)
        return d


def find_hls_project(build_dir) -> Path:
    """The hls4ml project folder in ``build_dir`` (itself, or the shallowest folder below it that
    holds ``hls4ml_config.yml``; hls4ml's internal ``_probe`` projects and vendor copies are skipped)."""
    build_dir = Path(build_dir)
    if not build_dir.is_dir():
        raise HsbinetError('Build folder not found', file=str(build_dir),
                           hint='pass the folder `hsbinet csim` / `hsbinet lower` wrote (--build DIR)')
    if (build_dir / 'hls4ml_config.yml').is_file():
        return build_dir
    found = []
    for root, dirs, files in os.walk(build_dir):
        dirs[:] = sorted(d for d in dirs if d not in ('_probe', 'vendor', 'firmware', 'tb_data', '.autopilot'))
        if 'hls4ml_config.yml' in files:
            found.append(Path(root))
            dirs[:] = []
    if not found:
        raise HsbinetError('No hls4ml project in the build folder', file=str(build_dir), key='hls4ml_config.yml',
                           expected='an hls4ml io_stream project (e.g. <build>/hls4ml_prj or runs/<scene>/hw/hls4ml_prj)',
                           found='none', hint='run `hsbinet csim` or `hsbinet lower` first')
    depth = min(len(p.parts) for p in found)
    top = [p for p in found if len(p.parts) == depth]
    if len(top) > 1:
        raise HsbinetError('Several hls4ml projects in the build folder', file=str(build_dir),
                           found=', '.join(str(p) for p in top), hint='pass --build one of them')
    return top[0]


def _config_scalar(text: str, key: str) -> str | None:
    m = re.search(rf'^{key}:\s*(\S.*?)\s*$', text, re.M)
    return m.group(1).strip('\'"') if m else None


def _design_of(prj_dir: Path) -> tuple[dict, Path]:
    """design.json beside the hls4ml project (the lower step writes it there), describing it."""
    path = prj_dir.parent / DESIGN_FILE
    if not path.is_file():
        raise HsbinetError('No design description beside the hls4ml project', file=str(path),
                           expected=f'{DESIGN_FILE} (written by `hsbinet lower` next to hls4ml_prj/)', found='none',
                           hint='lower the design with `hsbinet lower` (or `hsbinet run`)')
    design, path = load_design(path.parent)
    if project_dir(design, path) != prj_dir.resolve():
        raise HsbinetError('design.json describes another hls4ml project', file=str(path), key='project_dir',
                           expected=str(prj_dir.resolve()), found=str(project_dir(design, path)))
    if 'axis' not in design:
        raise HsbinetError('The design was lowered without the AXI4-Stream adapter', file=str(path), key='axis',
                           expected='an axis section (top, tdata_bits, tlast, beats_per_frame)', found='none',
                           hint='lower the design again with `hsbinet lower`: the vendor project packages the '
                                'adapter top <top>_axis that `hsbinet csim` verifies')
    check_unchanged(design, path)  # the sources are the ones design.json (and the csim verdict) name
    return design, path


def _adapter_ports(prj_dir: Path, design: dict, design_path: Path) -> list[StreamPort]:
    """The adapter's three AXI4-Stream ports, from its header (names, TDATA macro) and design.json
    (widths, TLAST, beats; checked against :func:`hw.hls.axis.geometry_of` of the same design)."""
    from hw.hls.axis import geometry_of

    ax = design['axis']
    top = ax['top']
    header, source = prj_dir / 'firmware' / f'{top}.h', prj_dir / 'firmware' / f'{top}.cpp'
    if not header.is_file() or not source.is_file():
        raise HsbinetError('The AXI4-Stream adapter is missing from the hls4ml project', file=str(source),
                           expected=f'firmware/{top}.h and firmware/{top}.cpp (hw/hls/axis.py)', found='none',
                           hint='lower the design again with `hsbinet lower`')
    text = header.read_text(errors='replace')
    proto = re.search(rf'void\s+{re.escape(top)}\s*\((.*?)\)\s*;', text, re.S)
    args = re.findall(r'hls::stream<\s*(\w+)\s*>\s*&\s*(\w+)', proto.group(1)) if proto else []
    if tuple(n for _, n in args) != ADAPTER_PORTS or any(t != 'axis_beat_t' for t, _ in args):
        raise HsbinetError('Unexpected AXI4-Stream adapter prototype', file=str(header), key=top,
                           expected=f'void {top}(' + ', '.join(f'hls::stream<axis_beat_t> &{n}' for n in ADAPTER_PORTS)
                           + ')', found=', '.join(f'{t} {n}' for t, n in args) or 'no prototype')
    m = re.search(r'#define\s+\w+_TDATA_BITS\s+(\d+)', text)
    if not m or int(m.group(1)) != int(ax['tdata_bits']):
        raise HsbinetError('The adapter and design.json disagree on the TDATA width', file=str(header),
                           key='axis.tdata_bits', expected=f'{ax["tdata_bits"]} (design.json)',
                           found=m.group(1) if m else 'no <TOP>_TDATA_BITS define')
    geo = geometry_of(design, int(ax['tdata_bits']), ax['tlast'])
    derived = geo.to_dict()
    stale = sorted(k for k, v in derived.items() if ax.get(k) != v)
    if stale:
        raise HsbinetError('design.json axis section does not match its own layers', file=str(design_path),
                           key='axis.' + ', axis.'.join(stale), expected=str({k: derived[k] for k in stale}),
                           found=str({k: ax.get(k) for k in stale}), hint='lower the design again with `hsbinet lower`')
    line = geo.tlast == 'line'
    beats = geo.beats()
    rows = {'s_ms': geo.w * geo.pixel_beats, 's_pan': geo.pan_row_beats, 'm_out': geo.W * geo.pixel_beats}
    def n(k: int) -> str:
        return f'{k} beat' + ('' if k == 1 else 's')
    carries = {
        's_ms': f'LR MS frame {geo.h} x {geo.w} px, {geo.bands} bands, {n(geo.pixel_beats)} per pixel',
        's_pan': f'PAN frame {geo.H} x {geo.W} px, {n(geo.pan_row_beats)} per row',
        'm_out': f'HR frame {geo.H} x {geo.W} px, {geo.bands} bands, {n(geo.pixel_beats)} per pixel',
    }
    return [StreamPort(n, 'out' if n.startswith('m_') else 'in', geo.tdata_bits, beats[n], geo.tlast,
                       rows[n] if line else beats[n], carries[n]) for n in ADAPTER_PORTS]


def read_hls_project(prj_dir) -> HlsProject:
    """The lowered design of the hls4ml project folder ``prj_dir``: hls4ml's settings (core top,
    backend, io type, clock uncertainty), design.json beside it (which must still describe the
    project: same content hash) and the AXI4-Stream adapter top with its three ports."""
    prj_dir = Path(prj_dir)
    cfg_path = prj_dir / 'hls4ml_config.yml'
    text = cfg_path.read_text(errors='replace')
    core = _config_scalar(text, 'ProjectName')
    ptcl = prj_dir / 'project.tcl'
    if ptcl.is_file():  # hls4ml's own record of the top function (its report reader uses it too)
        m = re.search(r'set project_name "([^"]+)"', ptcl.read_text())
        core = m.group(1) if m else core
    backend = _config_scalar(text, 'Backend') or 'Vitis'
    io_type = _config_scalar(text, 'IOType') or ''
    if io_type != 'io_stream':
        raise HsbinetError('The hls4ml project is not io_stream', file=str(cfg_path), key='IOType',
                           expected='io_stream', found=io_type or 'missing')
    if not core:
        raise HsbinetError('The hls4ml project has no ProjectName', file=str(cfg_path), key='ProjectName')
    header = prj_dir / 'firmware' / f'{core}.h'
    if not header.is_file() or not (prj_dir / 'firmware' / f'{core}.cpp').is_file():
        raise HsbinetError('The hls4ml project was not written (no firmware)', file=str(header),
                           hint='hls4ml writes firmware/ on write() or compile(); rerun `hsbinet lower`')
    design, design_path = _design_of(prj_dir)
    top = design['axis']['top']
    if top != f'{core}_axis':
        raise HsbinetError('The adapter top is not named after the hls4ml top', file=str(design_path),
                           key='axis.top', expected=f'{core}_axis', found=str(top))
    ports = _adapter_ports(prj_dir, design, design_path)
    unc = '27%'
    if ptcl.is_file():
        m = re.search(r'set clock_uncertainty (\S+)', ptcl.read_text())
        unc = m.group(1) if m else unc
    return HlsProject(prj_dir.resolve(), top, core, backend, io_type, unc, ports, design['sha256'], design_path,
                      dict(design['axis']), dict(design['frame']))

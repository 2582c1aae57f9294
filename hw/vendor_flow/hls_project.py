"""The hls4ml io_stream project a vendor project is generated from: where it is and what it holds.

:func:`find_hls_project` locates the project folder in a build folder; :func:`read_hls_project`
reads its top function, backend, clock uncertainty, the top-level ``hls::stream`` ports (widths in
bits, from ``firmware/defines.h``; frame shapes from ``hls4ml_config.yml``) and a content hash.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hw.design import project_sha256
from quant_models.common import HsbinetError

MAX_DMA_STREAM_BYTES = 16  # AXI DMA stream width kept <= 128 bits (the HP ports are 128 / 64 bits wide)


@dataclass
class StreamPort:
    """One top-level hls::stream argument. Widths in bits; ``beats`` = stream words per frame."""
    name: str
    direction: str          # 'in' | 'out'
    ctype: str
    element_bits: int
    elements: int
    tdata_bits: int         # element_bits * elements rounded up to whole bytes (Vitis HLS packs the array)
    shape: list[int] = field(default_factory=list)  # H, W, C (channels-last, as hls4ml writes it)

    @property
    def tdata_bytes(self) -> int:
        return self.tdata_bits // 8

    @property
    def beats(self) -> int:
        n = 1
        for d in self.shape[:-1]:
            n *= d
        return n

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
    """What the vendor scripts need from an hls4ml project; ``sha256`` identifies its sources."""
    path: Path
    top: str
    backend: str
    io_type: str
    clock_uncertainty: str
    ports: list[StreamPort]
    sha256: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d['path'] = str(self.path)
        for p, src in zip(d['ports'], self.ports):
            p.update(tdata_bytes=src.tdata_bytes, beats_per_frame=src.beats, dma_bytes=src.dma_bytes)
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


def _config_shapes(text: str, key: str) -> dict[str, list[int]]:
    """``InputShapes:`` / ``OutputShapes:`` blocks of hls4ml_config.yml (the file carries a pickled
    ONNX model under a python tag, so yaml.safe_load cannot read it; these blocks are plain)."""
    out: dict[str, list[int]] = {}
    lines = text.splitlines()
    try:
        i = lines.index(f'{key}:')
    except ValueError:
        return out
    name = None
    for line in lines[i + 1:]:
        if not line.startswith(' '):
            break
        m = re.match(r'^  (\S+):\s*$', line)
        if m:
            name = m.group(1)
            out[name] = []
            continue
        m = re.match(r'^  -\s*(\d+)\s*$', line)
        if m and name is not None:
            out[name].append(int(m.group(1)))
    return out


_ARRAY_T = re.compile(r'typedef\s+nnet::array<\s*ap_u?(?:fixed|int)<\s*(\d+)[^;]*?>\s*,\s*([\d\s*]+)>\s+(\w+)\s*;')
_SCALAR_T = re.compile(r'typedef\s+ap_u?(?:fixed|int)<\s*(\d+)[^;]*?>\s+(\w+)\s*;')


def _type_widths(defines: str) -> dict[str, tuple[int, int]]:
    """C type name -> (element bits, elements) from hls4ml's firmware/defines.h."""
    out = {}
    for m in _ARRAY_T.finditer(defines):
        n = 1
        for f in m.group(2).split('*'):
            n *= int(f.strip())
        out[m.group(3)] = (int(m.group(1)), n)
    for m in _SCALAR_T.finditer(defines):
        out.setdefault(m.group(2), (int(m.group(1)), 1))
    return out


def read_hls_project(prj_dir) -> HlsProject:
    """Top name, backend, stream ports (names, directions, TDATA widths in bits) and a content hash
    (sha256 over firmware/, the testbench and tb_data/) of an hls4ml project folder."""
    prj_dir = Path(prj_dir)
    cfg_path = prj_dir / 'hls4ml_config.yml'
    text = cfg_path.read_text(errors='replace')
    top = _config_scalar(text, 'ProjectName')
    ptcl = prj_dir / 'project.tcl'
    if ptcl.is_file():  # hls4ml's own record of the top function (its report reader uses it too)
        m = re.search(r'set project_name "([^"]+)"', ptcl.read_text())
        top = m.group(1) if m else top
    backend = _config_scalar(text, 'Backend') or 'Vitis'
    io_type = _config_scalar(text, 'IOType') or ''
    if io_type != 'io_stream':
        raise HsbinetError('The hls4ml project is not io_stream', file=str(cfg_path), key='IOType',
                           expected='io_stream', found=io_type or 'missing')
    if not top:
        raise HsbinetError('The hls4ml project has no ProjectName', file=str(cfg_path), key='ProjectName')
    header = prj_dir / 'firmware' / f'{top}.h'
    defines = prj_dir / 'firmware' / 'defines.h'
    if not header.is_file() or not defines.is_file():
        raise HsbinetError('The hls4ml project was not written (no firmware)', file=str(header),
                           hint='hls4ml writes firmware/ on write() or compile(); rerun `hsbinet lower`')
    proto = re.search(rf'void\s+{re.escape(top)}\s*\((.*?)\)\s*;', header.read_text(), re.S)
    if not proto:
        raise HsbinetError('Top function prototype not found', file=str(header), key=top)
    args = re.findall(r'hls::stream<\s*(\w+)\s*>\s*&\s*(\w+)', proto.group(1))
    widths = _type_widths(defines.read_text())
    ins, outs = _config_shapes(text, 'InputShapes'), _config_shapes(text, 'OutputShapes')
    ports = []
    for ctype, name in args:
        if ctype not in widths:
            raise HsbinetError('Cannot size a stream port', file=str(defines), key=ctype,
                               expected='typedef nnet::array<ap_fixed<W,I>, N> or ap_fixed<W,I>')
        bits, n = widths[ctype]
        direction = 'out' if name in outs else 'in' if name in ins else ('out' if name.endswith('_out') else 'in')
        shape = outs.get(name) or ins.get(name) or []
        ports.append(StreamPort(name, direction, ctype, bits, n, -(-bits * n // 8) * 8, shape))
    if not any(p.direction == 'in' for p in ports) or not any(p.direction == 'out' for p in ports):
        raise HsbinetError('The top function needs stream inputs and an output', file=str(header),
                           found=', '.join(f'{p.name} ({p.direction})' for p in ports))
    unc = '27%'
    if ptcl.is_file():
        m = re.search(r'set clock_uncertainty (\S+)', ptcl.read_text())
        unc = m.group(1) if m else unc
    digest = project_sha256(prj_dir)  # the design identity the verdict and the report carry too
    return HlsProject(prj_dir.resolve(), top, backend, io_type, unc, ports, digest)

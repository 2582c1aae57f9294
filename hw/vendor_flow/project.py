"""Vendor project (AMD Vitis HLS + Vivado) around a lowered design: scripts to a bitstream.

:func:`write_vendor_project` writes ``<out_dir>/vendor/``, a self-contained folder:

    project.tcl              settings every script sources (part, clock, top, IP name, AXIS geometry)
    01_hls_synth.tcl         Vitis HLS: C synthesis of the AXI4-Stream adapter top <core>_axis (the
                             hls4ml core + the adapter, the design `hsbinet csim` verified), IP export
    02_block_design.tcl      Vivado: block design (Zynq: PS + AXI DMAs; no-PS part: external AXIS)
    03_impl_bitstream.tcl    Vivado: synthesis, implementation, reports, bitstream (+ .xsa for Zynq)
    constraints/<top>_<PART>.xdc   clock and pin placeholders
    hls_src/                 copy of the hls4ml sources (firmware/, testbench, tb_data/)
    run_all.sh, README.md, manifest.json

TLAST comes from the HLS IP itself (generated per line or per frame inside the verified adapter,
design.json ``axis.tlast``); the manifest records the adapter (``axis``) next to ``design_sha256``.
Everything is computed before anything is written: a design the chosen block design cannot carry
(e.g. an S2MM packet longer than the AXI DMA's length register) raises HsbinetError and leaves no
output.

The folder is written into a temporary sibling and renamed into place, so a half-written project
never looks complete. Nothing inside the scripts depends on the time of generation (only the
manifest records it), so two runs on the same inputs give identical scripts.

The script texts are files in ``hw/vendor_flow/templates/``, filled by :mod:`hw.vendor_flow.scripts` and
:mod:`hw.vendor_flow.block_design` through :func:`hw.vendor_flow.templates.render`.

Targets Vivado / Vitis HLS 2023.2 (``vitis_hls -f``); Vitis 2024.1/2024.2 run the same HLS script
through ``vitis-run --mode hls --tcl``. Units: clock in MHz (``clock_mhz``) and ns (periods).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from hw.parts import DEFAULT_CLOCK_MHZ, Part, get_part
from hw.vendor_flow.block_design import block_design_tcl, has_ps, s2mm_plan
from hw.design import BUILD_PRODUCTS
from hw.vendor_flow.hls_project import read_hls_project
from hw.vendor_flow.scripts import (BD_PROJECT, HLS_SOLUTION, IP_LIBRARY, IP_VENDOR, IP_VERSION, TOOL_VERSION,
                               constraints_xdc, hls_tcl, impl_tcl, project_tcl, readme, run_all_sh)
from quant_models.common import HsbinetError


VENDOR_FORMAT = 'hsbinet-vendor-project/1'
AXIS_KEYS = ('tdata_bits', 'sample_bits', 'lanes', 'bands', 'core_bands', 'tlast', 'beats_per_pixel',
             'pan_beats_per_row', 'beats_per_frame')  # design.json axis, copied into the manifest
TOOLS_REQUIRED = {
    'vitis_hls': f'AMD Vitis HLS {TOOL_VERSION} (or `vitis-run --mode hls` from Vitis 2024.1/2024.2)',
    'vivado': f'AMD Vivado {TOOL_VERSION} (2024.1/2024.2 also run these scripts)',
}


def _is_ours(vendor: Path) -> bool:
    try:
        return json.loads((vendor / 'manifest.json').read_text()).get('format') == VENDOR_FORMAT
    except (OSError, ValueError):
        return False


def write_vendor_project(hls_project_dir, out_dir, part, clock_mhz: float = DEFAULT_CLOCK_MHZ, board: str | None = None) -> dict:
    """Write ``<out_dir>/vendor/`` for the hls4ml project ``hls_project_dir``; returns the manifest.

    ``part``: a :class:`hw.parts.Part` or a name :func:`hw.parts.get_part` knows. ``clock_mhz``:
    the accelerator clock in MHz. ``board``: board name (ZCU102, PYNQ-Z2) whose Vivado board part
    is applied when its board files are installed. An existing ``vendor/`` folder is replaced only
    if hsbinet wrote it.
    """
    part = part if isinstance(part, Part) else get_part(part)
    try:
        clock_mhz = float(clock_mhz)
    except (TypeError, ValueError):
        raise HsbinetError('Clock must be a number in MHz', key='--clock', found=repr(clock_mhz)) from None
    if not 10.0 <= clock_mhz <= 800.0:
        raise HsbinetError('Clock out of range', key='--clock', expected='10 to 800 MHz', found=f'{clock_mhz:g}')
    h = read_hls_project(hls_project_dir)
    board_part = part.board_part if board else None
    # every text first (the block design may refuse the design): no folder is touched before
    files: dict[str, str] = {
        'project.tcl': project_tcl(h, part, clock_mhz, board, board_part),
        '01_hls_synth.tcl': hls_tcl(h),
        '02_block_design.tcl': block_design_tcl(h, part),
        '03_impl_bitstream.tcl': impl_tcl(part),
        f'constraints/{h.top}_{part.key}.xdc': constraints_xdc(h, part, clock_mhz),
        'run_all.sh': run_all_sh(h),
        'README.md': readme(h, part, board, clock_mhz),
    }
    dma = s2mm_plan(h) if has_ps(part) else None
    out_dir = Path(out_dir)
    vendor = out_dir / 'vendor'
    if vendor.exists() and not _is_ours(vendor):
        raise HsbinetError('Output folder exists and is not an hsbinet vendor project', file=str(vendor),
                           hint='choose another --out or remove it')
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f'.vendor.partial-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for rel, text in files.items():
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        (tmp / 'run_all.sh').chmod(0o755)
        src = Path(hls_project_dir)
        shutil.copytree(src / 'firmware', tmp / 'hls_src' / 'firmware',
                        ignore=shutil.ignore_patterns(*(f'*{x}' for x in BUILD_PRODUCTS)))
        copied = ['hls_src/firmware/']
        for name in (h.testbench,):
            if (src / name).is_file():
                shutil.copy2(src / name, tmp / 'hls_src' / name)
                copied.append(f'hls_src/{name}')
        if (src / 'tb_data').is_dir():
            shutil.copytree(src / 'tb_data', tmp / 'hls_src' / 'tb_data')
            copied.append('hls_src/tb_data/')
        steps = [
            {'name': 'hls', 'tool': 'vitis_hls', 'script': '01_hls_synth.tcl',
             'expects': f'{h.top}_prj/{HLS_SOLUTION}/syn/report/csynth.xml'},
            {'name': 'block_design', 'tool': 'vivado', 'script': '02_block_design.tcl',
             'expects': f'vivado/{BD_PROJECT}.xpr'},
            {'name': 'implementation', 'tool': 'vivado', 'script': '03_impl_bitstream.tcl',
             'expects': f'output/{h.top}_{part.key}.bit'},
        ]
        manifest = {
            'format': VENDOR_FORMAT,
            'created_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
            'part': part.to_dict(), 'board': board, 'board_part': board_part,
            'has_ps': has_ps(part), 'evaluation_bitstream_only': not has_ps(part),
            'clock_mhz': clock_mhz, 'clock_period_ns': round(1000.0 / clock_mhz, 3),
            'design_sha256': h.sha256, 'design': str(h.design_path),
            'axis': {'top': h.top, 'core': h.core, **{k: h.axis[k] for k in AXIS_KEYS},
                     'has_tlast': True, 'block_protocol': 'ap_ctrl_none',
                     'design_sources': [f'hls_src/{x}' for x in h.sources],
                     'not_synthesised': [f'hls_src/firmware/{h.top}_bridge.cpp']},
            'frame': h.frame, 'dma': dma, 'hls_project': h.to_dict(),
            'ip_vlnv': f'{IP_VENDOR}:{IP_LIBRARY}:{h.top}:{IP_VERSION}',
            'tools_required': TOOLS_REQUIRED, 'tool_version_targeted': TOOL_VERSION,
            'steps': steps, 'run': 'bash run_all.sh',
            'bitstream': steps[-1]['expects'],
            'files': sorted(files) + copied + ['manifest.json'],
        }
        (tmp / 'manifest.json').write_text(json.dumps(manifest, indent=2))
        if vendor.exists():
            old = out_dir / f'.vendor.old-{os.getpid()}'
            os.replace(vendor, old)
            os.replace(tmp, vendor)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, vendor)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest['path'] = str(vendor)
    return manifest

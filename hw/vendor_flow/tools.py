"""Find and run the AMD vendor tools (Vitis HLS, Vivado) on a project from :mod:`hw.vendor_flow.project`.

``vitis_hls`` (Vitis HLS 2023.2) or ``vitis-run`` (Vitis 2024.1+, ``--mode hls``) runs the HLS
step; ``vivado`` runs the block design and the implementation. When they are not on PATH,
:func:`run_vendor_flow` raises :class:`VendorToolsMissing` naming each missing executable, what it
is needed for, where the generated project is and the command to run there; the CLI prints that
and exits with :data:`EXIT_TOOLS_MISSING`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

EXIT_TOOLS_MISSING = 3

PURPOSE = {
    'vitis_hls': 'Vitis HLS C synthesis of the AXI4-Stream adapter top and the hls4ml core it wraps, and its export '
                 'as a Vivado IP (01_hls_synth.tcl); '
                 'Vitis 2024.x provides it as `vitis-run --mode hls`',
    'vivado': 'Vivado block design, synthesis, implementation and bitstream (02_block_design.tcl, '
              '03_impl_bitstream.tcl)',
}


class VendorToolsMissing(Exception):
    """The vendor tools needed for the bitstream are not on PATH (the project is written anyway)."""

    def __init__(self, missing: list[str], vendor_dir: Path):
        self.missing, self.vendor_dir = missing, Path(vendor_dir)
        lines = [f'cannot build the bitstream: {", ".join(_display(m) for m in missing)} '
                 f'{"is" if len(missing) == 1 else "are"} not on PATH.']
        for m in missing:
            lines.append(f'  - {_display(m)}: needed for {PURPOSE[m]}.')
        lines.append(f'The complete vendor project is written: {self.vendor_dir}')
        lines.append('On a machine with AMD Vivado / Vitis 2023.2 (or 2024.x) installed and its settings64.sh '
                     'sourced, run:')
        lines.append(f'  cd {self.vendor_dir} && bash run_all.sh')
        self.message = '\n'.join(lines)
        super().__init__(self.message)


class VendorFlowError(Exception):
    """A vendor tool returned non-zero or did not write what its step must write."""


def _display(name: str) -> str:
    return 'vitis_hls (or vitis-run)' if name == 'vitis_hls' else name


def detect_vendor_tools() -> dict[str, str | None]:
    """Absolute paths of ``vitis_hls``, ``vitis-run`` and ``vivado`` on PATH (None when absent)."""
    return {name: shutil.which(name) for name in ('vitis_hls', 'vitis-run', 'vivado')}


def missing_tools(found: dict[str, str | None] | None = None) -> list[str]:
    """Logical tools missing for the full flow: 'vitis_hls' (either executable will do), 'vivado'."""
    found = detect_vendor_tools() if found is None else found
    out = []
    if not (found.get('vitis_hls') or found.get('vitis-run')):
        out.append('vitis_hls')
    if not found.get('vivado'):
        out.append('vivado')
    return out


def _commands(found: dict[str, str | None], script: str, tool: str) -> list[str]:
    if tool == 'vitis_hls':
        if found.get('vitis_hls'):
            return [found['vitis_hls'], '-f', script]
        return [found['vitis-run'], '--mode', 'hls', '--tcl', script]
    return [found['vivado'], '-mode', 'batch', '-nojournal', '-nolog', '-source', script]


def run_vendor_flow(vendor_dir, log: Callable[[str], None] = print) -> dict:
    """Run the project's steps (HLS, block design, implementation) in order with the vendor tools.

    Each step's output goes to ``<vendor_dir>/logs/<script>.log``; a non-zero return code or a
    missing expected output raises :class:`VendorFlowError`. Raises :class:`VendorToolsMissing`
    before running anything when a tool is absent. Returns {steps: [{name, command, rc, seconds,
    log}], bitstream: path, reports: :func:`hw.vendor_flow.reports.find_vendor_reports` of the folder}.
    """
    from hw.vendor_flow.reports import find_vendor_reports

    vendor_dir = Path(vendor_dir).resolve()
    manifest = json.loads((vendor_dir / 'manifest.json').read_text())
    found = detect_vendor_tools()
    missing = missing_tools(found)
    if missing:
        raise VendorToolsMissing(missing, vendor_dir)
    (vendor_dir / 'logs').mkdir(exist_ok=True)
    steps = []
    for i, step in enumerate(manifest['steps'], 1):
        cmd = _commands(found, step['script'], step['tool'])
        log_path = vendor_dir / 'logs' / f'{Path(step["script"]).stem}.log'
        log(f'[vendor {i}/{len(manifest["steps"])}] {step["name"]}: {" ".join(Path(cmd[0]).name if j == 0 else c for j, c in enumerate(cmd))}'
            f' (log: {log_path})')
        t = time.time()
        with open(log_path, 'w') as fh:
            rc = subprocess.run(cmd, cwd=vendor_dir, stdout=fh, stderr=subprocess.STDOUT,
                                env={**os.environ}).returncode
        rec = {'name': step['name'], 'command': cmd, 'rc': rc, 'seconds': round(time.time() - t, 1),
               'log': str(log_path)}
        steps.append(rec)
        if rc != 0:
            raise VendorFlowError(f'{step["name"]} step failed: {Path(cmd[0]).name} exited with {rc}; '
                                  f'see {log_path}')
        expected = vendor_dir / step['expects']
        if not expected.exists():
            raise VendorFlowError(f'{step["name"]} step finished but did not write {expected}; see {log_path}')
    bit = vendor_dir / manifest['bitstream']
    return {'steps': steps, 'bitstream': str(bit), 'reports': find_vendor_reports(vendor_dir)}

"""Build-folder manifest: config, input hashes, tool versions, artifacts, stage results, verdicts.

``manifest.json`` is rewritten atomically after every stage. Its ``status`` is ``running`` until
the whole flow finished (``complete``) or a stage failed (``failed``, with the error paragraph), so
a folder left by an interrupted run never looks complete.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

from quant_models.common import atomic_write_text, file_sha256


TOOLS = ('hsbinet', 'torch', 'brevitas', 'qonnx', 'hls4ml', 'onnx', 'onnxruntime', 'numpy', 'scipy', 'h5py',
         'tensorly')


def tool_versions() -> dict:
    out = {'python': platform.python_version(), 'platform': platform.platform()}
    for name in TOOLS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


class Manifest:
    """Accumulates a build folder's record and writes it to ``<folder>/manifest.json``."""

    def __init__(self, folder: str | Path, config: dict, command: list[str] | None = None, resume: bool = False):
        """``resume``: keep the stages, artifacts and verdicts of the folder's manifest (``--from``)."""
        self.folder = Path(folder)
        self.path = self.folder / 'manifest.json'
        old = json.loads(self.path.read_text()) if resume and self.path.is_file() else {}
        self.data = {
            'format': 'hsbinet-manifest/1', 'status': 'running',
            'created_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
            'command': command if command is not None else sys.argv,
            'config': {k: v for k, v in config.items() if not k.startswith('_')},
            'config_source': config.get('_source'), 'versions': tool_versions(),
            'inputs': {}, 'artifacts': {}, 'stages': {}, 'metrics': {}, 'verdicts': {},
        }
        for k in ('inputs', 'artifacts', 'stages', 'metrics', 'verdicts'):
            self.data[k].update(old.get(k, {}))
        self.write()

    def input(self, name: str, source: str, digest: str | None) -> None:
        self.data['inputs'][name] = {'source': source, 'sha256': digest}

    def artifact(self, name: str, path: str | Path) -> None:
        p = Path(path)
        self.data['artifacts'][name] = {'path': os.path.relpath(p, self.folder), 'bytes': p.stat().st_size,
                                        'sha256': file_sha256(p)}

    def stage(self, name: str, seconds: float, **info) -> None:
        self.data['stages'][name] = {'status': 'ok', 'seconds': round(seconds, 2), **info}
        self.write()

    def fail(self, stage: str, message: str) -> None:
        self.data['status'] = 'failed'
        self.data['stages'][stage] = {'status': 'failed', 'error': message}
        self.write()

    def complete(self) -> None:
        self.data['status'] = 'complete'
        self.data['finished_utc'] = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
        self.write()

    def write(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(self.data, indent=2, default=str))

"""Atomic file writes: a file is either absent, the old version, or complete, never half written.

Every artifact a stage produces (JSON verdicts and reports, manifests, design descriptions, PNGs,
ONNX files) goes through :func:`atomic_write`: the content is written to a temporary name in the
same folder and renamed over the target with ``os.replace`` only once complete.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` and rename the result to ``path``; the temporary file is removed on error."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix=f'.partial{path.suffix}', dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text))

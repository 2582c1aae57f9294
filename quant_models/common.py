"""Ground floor of the toolchain: user-facing errors, atomic writes and content hashes.

Every package (``quant_models``, ``hw``, ``sim``, ``build_flows``) uses these three and nothing
here imports the project.

* :class:`HsbinetError`: every stage validates its inputs and raises it with one paragraph that
  names the file, the key (dataset / variable / config field) and what was expected versus found.
  The CLI prints that paragraph and exits non-zero without a Python traceback; anything else that
  escapes is a bug and keeps its traceback.
* :func:`atomic_write`: a file is either absent, the old version, or complete, never half written.
  Every artifact a stage produces (JSON verdicts and reports, manifests, design descriptions, PNGs,
  ONNX files, checkpoints) is written to a temporary name in the same folder and renamed over the
  target with ``os.replace`` only once complete.
* :func:`file_sha256`, :func:`tree_sha256`, :func:`array_sha256`: hex sha256 of a file, of a set
  of files below a folder (names and contents), of an array's bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np


class HsbinetError(Exception):
    """An actionable input/configuration error (bad file, key, shape, dtype, band count, ratio)."""

    def __init__(self, what: str, *, file: str | None = None, key: str | None = None,
                 expected: str | None = None, found: str | None = None, hint: str | None = None):
        self.what, self.file, self.key = what, file, key
        self.expected, self.found, self.hint = expected, found, hint
        super().__init__(self.paragraph())

    def paragraph(self) -> str:
        parts = [self.what.rstrip('.') + '.']
        if self.file is not None:
            parts.append(f'File: {self.file}.')
        if self.key is not None:
            parts.append(f'Key: {self.key}.')
        if self.expected is not None:
            parts.append(f'Expected: {self.expected}.')
        if self.found is not None:
            parts.append(f'Found: {self.found}.')
        if self.hint is not None:
            parts.append(self.hint.rstrip('.') + '.')
        return ' '.join(parts)


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` and rename the result to ``path``; the temporary file is removed on error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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


def atomic_write_json(path: str | Path, obj, indent: int = 1) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=indent, default=_json_default))


def _json_default(o):
    """numpy scalars/arrays as numbers/lists, sets as lists, anything else (paths, ...) as its text."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    return str(o)


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def tree_sha256(root: str | Path, rel_paths: list[str], skip_suffixes: frozenset[str] = frozenset()) -> str:
    """Hex sha256 over the files below ``root/rel`` for each ``rel`` (relative names and contents,
    sorted), leaving out files whose suffix is in ``skip_suffixes``; missing paths count as empty."""
    root = Path(root)
    h = hashlib.sha256()
    for rel in rel_paths:
        p = root / rel
        files = sorted(q for q in p.rglob('*') if q.is_file() and q.suffix not in skip_suffixes) \
            if p.is_dir() else ([p] if p.is_file() else [])
        for f in files:
            h.update(str(f.relative_to(root)).encode() + b'\0')
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def array_sha256(arr: np.ndarray) -> str:
    """sha256 of an array's C-order bytes (provenance of in-memory cubes)."""
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()

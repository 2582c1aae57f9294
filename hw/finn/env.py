"""finn-plus 1.6.1 as a library without Vivado: the environment it insists on.

Call :func:`prepare` before importing anything from ``finn``:

1. finn-plus refuses to run unless its CLI initialised global settings
   (``finn.util.settings.get_settings`` raises ``FINNUserError: Could not find global
   settings``). With ``FINN_BUILD_DIR`` set it rebuilds usable settings from the environment;
   ``FINN_SETTINGS`` points at a file that does not exist so ``~/.finn`` is never read or written.
2. Code that imports ``finn.builder.build_dataflow_steps`` triggers ``from finn.xsi import
   SimEngine``, whose lazy loader tries to build finn_xsi against Vivado and raises
   ``OSError: XILINX_VIVADO environment variable not set``. Pre-binding the name to ``None``
   skips that. This module never imports the builder itself, but binds it so that user code
   importing the builder in the same process does not break.

The FINN build directory only receives generated code, which the estimate-only flow does not
produce; it is kept under the caller's output folder (never the current directory).
"""

from __future__ import annotations

import os
from pathlib import Path

_PREPARED_FOR: str | None = None


def prepare(build_dir: str | Path) -> None:
    """Set FINN's environment (idempotent; the first build dir of the process wins, since finn-plus
    caches its settings object globally)."""
    global _PREPARED_FOR
    if _PREPARED_FOR is not None:
        return
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault('FINN_BUILD_DIR', str(build_dir))
    os.environ.setdefault('FINN_SETTINGS', str(build_dir / 'finn_settings_absent.yaml'))
    os.environ.setdefault('FINN_DEPS', str(build_dir / 'finn_deps'))
    import finn.xsi as xsi

    xsi.SimEngine = None  # see module docstring, point 2
    _PREPARED_FOR = str(build_dir)


def finn_plus_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version('finn-plus')
    except PackageNotFoundError:
        return 'not installed'

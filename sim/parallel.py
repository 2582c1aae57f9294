"""Patches of a C-simulation run in parallel: worker processes on this machine, or a Dask cluster.

The project is compiled once (:func:`sim.csim.compile_project`); what travels to a worker is a
:class:`CsimLibrary` (the path of the compiled shared library, its project folder and their
content hash) and the stream integers of its patches. Each worker process loads the library
itself with ctypes and runs its patches one after the other through the AXI4-Stream adapter
(:func:`hw.hls.axis.run_frame`); the caller gets the outputs back in patch order, so the merged
verdict is the serial one.

One library instance per process, patches in sequence inside it: the generated C++ keeps state
in function statics: ``static bool loaded_weights`` (hls4ml's C-simulation reads the weights
once, from ``WEIGHTS_DIR``, an absolute path compiled into the library), the line buffers and
pixel counters of the io_stream convolutions (``nnet_conv2d_stream.h``, ``nnet_conv_stream.h``),
the frame buffer of ``channel_gate`` and the activation tables. None of them carries a value
from one frame into the next one's outputs (a line buffer is refilled before its first valid
window, the counters wrap at the end of every frame, the gate's frame buffer is written before
it is read, tables are constants), so a patch's output does not depend on which patches the
process ran before it: ``tests/sim/test_parallel.py`` runs patches shuffled and repeated in one
instance, reversed in a fresh one, in two worker processes and on a two-worker Dask cluster,
and compares. Two frames at once in one process would share those statics, so every
call into a library holds a per-process lock (a Dask worker with several threads stays correct,
it just runs its patches one at a time).

Local workers are fresh interpreters (``python -m sim.parallel``, request and reply pickled
over pipes), not forked (the parent has torch's OpenMP threads and its own library instance
loaded) and not multiprocessing's spawn (which re-imports the caller's main module in every
worker: seconds of torch and hls4ml imports for a script, and a re-run without a main guard).

Cluster: Dask ``distributed`` rather than Ray: pure Python, small, pip-installable into the
pinned environment, and its ``LocalCluster`` (separate worker processes) runs the same code path
in the tests without a cluster. ``--cluster ADDRESS`` is the scheduler (``tcp://host:8786``).
Shared-filesystem assumption: the workers open the library and the weights at the paths they
have here (the compiled-in ``WEIGHTS_DIR`` is absolute), so the build folder must be mounted at
the same path on every worker, and the workers must have this package installed (same
environment). Compiling on each worker was the alternative; it would cost every worker the
compile (seconds to minutes per design) and still needs the project's files there. Each worker
checks the content hash of the library and weights it opened against the one compiled here and
refuses to simulate anything else.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hw.hls.axis import AxisGeometry, run_frame
from quant_models.common import HsbinetError


@dataclass(frozen=True)
class CsimLibrary:
    """What a worker needs to run frames: the compiled library, its project, their content hash."""

    path: str          # firmware/<top>-<stamp>.so
    project: str       # the hls4ml project folder (its firmware/weights is the compiled-in WEIGHTS_DIR)
    top: str           # hls4ml top function; the adapter's entry is <top>_axis_run
    sha256: str        # of the library file and firmware/weights (:func:`library_sha256`)

    @classmethod
    def of(cls, lib_path: str | Path, top: str) -> 'CsimLibrary':
        lib_path = Path(lib_path).resolve()
        prj = lib_path.parent.parent
        return cls(str(lib_path), str(prj), top, library_sha256(prj, lib_path))


def library_sha256(prj: str | Path, lib_file: str | Path) -> str:
    """sha256 over the library file's bytes and the project's firmware/weights (names, contents)."""
    h = hashlib.sha256(b'library\0' + hashlib.sha256(Path(lib_file).read_bytes()).digest())
    weights = Path(prj) / 'firmware' / 'weights'
    for f in sorted(q for q in weights.rglob('*') if q.is_file()):
        h.update(str(f.relative_to(weights)).encode() + b'\0' + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def resolve_workers(workers: int | None) -> int:
    """``workers`` (None: every core of this machine, ``os.cpu_count()``), at least 1."""
    if workers is None:
        return max(1, os.cpu_count() or 1)
    if int(workers) < 1:
        raise HsbinetError('Too few C-simulation workers', key='hw.workers', expected='an integer >= 1 or null (all '
                           'cores)', found=str(workers))
    return int(workers)


# --- one process ---------------------------------------------------------------------------------

_LOCK = threading.Lock()      # one frame at a time per process: the library's statics are shared
_LOADED: dict[str, ctypes.CDLL] = {}


def _load(lib: CsimLibrary) -> ctypes.CDLL:
    """This process's instance of ``lib``, loaded once per content hash from a private copy of the
    file, after checking the copy and the weights are the ones compiled for this run. (dlopen of a
    path already loaded returns the old instance, weights and statics included: a long-lived
    Dask worker would otherwise simulate a project recompiled at the same path with stale code.)"""
    if lib.sha256 not in _LOADED:
        path, prj = Path(lib.path), Path(lib.project)
        if not path.is_file() or not (prj / 'firmware' / 'weights').is_dir():
            raise HsbinetError('The compiled C-simulation library is not on this worker', file=str(path),
                               found=f'missing on host {os.uname().nodename}',
                               hint='cluster workers open the library and its weights at the same path as the '
                                    'client: mount the build folder there (shared filesystem)')
        fd, copy = tempfile.mkstemp(prefix=f'hsbinet-csim-{lib.sha256[:12]}-', suffix='.so')
        os.close(fd)
        try:
            shutil.copyfile(path, copy)
            found = library_sha256(prj, copy)
            if found != lib.sha256:
                raise HsbinetError('The C-simulation library on this worker is not the one compiled for this run',
                                   file=str(path), expected=lib.sha256[:16], found=f'{found[:16]} on host '
                                   f'{os.uname().nodename}', hint='the build folder must be the same shared folder '
                                   'on every worker')
            _LOADED[lib.sha256] = ctypes.CDLL(copy)
        finally:
            os.unlink(copy)  # the mapping stays; nothing is left behind
    return _LOADED[lib.sha256]


def simulate_frames(cdll, top: str, geo: AxisGeometry, ms_int: np.ndarray, pan_int: np.ndarray):
    """Frames (n, h, w, B) / (n, H, W) of stream integers through one loaded library, in order:
    (outputs (n, H, W, B) int64, TLAST (n, beats) uint8, seconds per frame (n,))."""
    outs, lasts, secs = [], [], []
    with _LOCK:
        for i in range(ms_int.shape[0]):
            t = time.perf_counter()
            y, last = run_frame(cdll, top, geo, ms_int[i], pan_int[i])
            secs.append(time.perf_counter() - t)
            outs.append(y)
            lasts.append(last)
    return np.stack(outs).astype(np.int64), np.stack(lasts), np.asarray(secs)


def _worker(lib: CsimLibrary, geo: dict, ms_int: np.ndarray, pan_int: np.ndarray):
    """Runs in a worker process (local or Dask): load the library once, simulate these frames."""
    return simulate_frames(_load(lib), lib.top, AxisGeometry(**geo), ms_int, pan_int)


# --- many processes ------------------------------------------------------------------------------

def _merge(parts, order):
    """Results of index chunks ``order`` back in patch order."""
    idx = np.concatenate(order)
    y = np.concatenate([p[0] for p in parts])
    last = np.concatenate([p[1] for p in parts])
    secs = np.concatenate([p[2] for p in parts])
    inv = np.argsort(idx, kind='stable')
    return y[inv], last[inv], secs[inv]


def _serve() -> None:
    """A local worker process (``python -m sim.parallel``): one pickled request (library, geometry,
    frames) on stdin, one pickled reply ``(ok, result or exception, traceback)`` on the stdout it
    was started with; what the C++ prints goes to stderr."""
    import pickle
    import traceback
    reply = os.fdopen(os.dup(1), 'wb')
    os.dup2(2, 1)
    try:
        out = (True, _worker(*pickle.load(sys.stdin.buffer)), '')
    except BaseException as e:  # noqa: BLE001 - every failure goes back to the parent
        out = (False, e, traceback.format_exc())
        try:
            pickle.dumps(e)
        except Exception:  # noqa: BLE001
            out = (False, RuntimeError(repr(e)), out[2])
    pickle.dump(out, reply)
    reply.close()


def _local(lib: CsimLibrary, geo: AxisGeometry, ms_int, pan_int, workers: int):
    """``workers`` fresh interpreters (``python -m sim.parallel``), one contiguous chunk of patches
    each. Not multiprocessing: its spawn re-imports the caller's main module in every worker (torch
    and hls4ml for a script, seconds each; and a script without a ``__main__`` guard re-runs)."""
    import pickle
    import subprocess
    chunks = [c for c in np.array_split(np.arange(ms_int.shape[0]), workers) if c.size]
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(p for p in (root, os.environ.get('PYTHONPATH')) if p),
           'OMP_NUM_THREADS': '1', 'OPENBLAS_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}
    procs = [subprocess.Popen([sys.executable, '-m', 'sim.parallel'], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              env=env) for _ in chunks]
    ok_all = False
    try:
        for proc, c in zip(procs, chunks):
            try:
                pickle.dump((lib, asdict(geo), ms_int[c], pan_int[c]), proc.stdin)
                proc.stdin.close()
            except BrokenPipeError:  # it died starting: reported below
                pass
        parts = []
        for proc in procs:
            try:
                ok, res, tb = pickle.load(proc.stdout)
            except EOFError:
                raise HsbinetError('A C-simulation worker process died', key='hw.workers', found=f'exit status '
                                   f'{proc.wait()}', hint='its messages are above; --workers 1 runs the patches in '
                                   'this process') from None
            if not ok:
                if isinstance(res, HsbinetError):
                    raise res
                raise RuntimeError(f'C-simulation worker failed:\n{tb}') from res
            parts.append(res)
        ok_all = True
    finally:
        for proc in procs:
            if not proc.stdin.closed:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
            if not ok_all and proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
    return _merge(parts, chunks)


def _cluster(lib: CsimLibrary, geo: AxisGeometry, ms_int, pan_int, address):
    """One task per patch on the Dask cluster at ``address`` (a scheduler address or a Client)."""
    try:
        from distributed import Client
    except ImportError as e:  # pragma: no cover - pinned dependency
        raise HsbinetError('Dask distributed is not installed', key='--cluster',
                           hint='pip install -r requirements/constraints.txt') from e
    own = not isinstance(address, Client)
    try:
        client = Client(address, timeout='30s') if own else address
    except (OSError, TimeoutError) as e:
        raise HsbinetError('Cannot reach the Dask scheduler', key='--cluster', found=f'{address}: {e}',
                           hint='start one with `dask scheduler` and workers with `dask worker ADDRESS` in this '
                                'environment') from None
    try:
        n = ms_int.shape[0]
        futures = [client.submit(_worker, lib, asdict(geo), ms_int[i:i + 1], pan_int[i:i + 1], pure=False,
                                 key=f'hsbinet-csim-{lib.sha256[:12]}-patch{i}-{os.getpid()}-{time.time_ns()}')
                   for i in range(n)]
        parts = client.gather(futures)
        workers = len(client.scheduler_info().get('workers', {}))
    finally:
        if own:
            client.close()
    return _merge(parts, [np.array([i]) for i in range(n)]), workers


def run_frames(lib: CsimLibrary, geo: AxisGeometry, ms_int: np.ndarray, pan_int: np.ndarray,
               workers: int | None = 1, cluster=None, cdll=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Every frame through the compiled library: serially in this process (``workers`` 1, or one
    frame; ``cdll`` the already loaded library), in ``workers`` spawned processes, or on the Dask
    cluster ``cluster``. Returns (outputs (n, H, W, B), TLAST (n, beats), info: mode, workers,
    wall and per-frame seconds)."""
    n = ms_int.shape[0]
    t = time.perf_counter()
    if cluster is not None:
        (y, last, secs), k = _cluster(lib, geo, ms_int, pan_int, cluster)
        mode = 'cluster'
    else:
        k = min(resolve_workers(workers), n)
        if k <= 1:
            y, last, secs = simulate_frames(cdll if cdll is not None else _load(lib), lib.top, geo, ms_int, pan_int)
            mode = 'serial'
        else:
            y, last, secs = _local(lib, geo, ms_int, pan_int, k)
            mode = 'processes'
    wall = time.perf_counter() - t
    return y, last, {'mode': mode, 'workers': int(k), 'wall_s': wall, 'frame_s': secs.tolist()}


if __name__ == '__main__':
    from sim.parallel import _serve as serve  # the importable module's state, not __main__'s
    serve()

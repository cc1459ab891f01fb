"""Sweeps: run an experiment's samples x replicates on any executor into a Zarr store.

    >>> import countysim
    >>> summary = countysim.sweep("experiments/pilot_coverage_x_support.toml",
    ...                           "runs/coverage.zarr", workers=4)  # doctest: +SKIP
    >>> ds = countysim.open_results("runs/coverage.zarr")  # doctest: +SKIP

(Skipped by the docs' doctests, tests/test_docs_run.py: 100 Litong runs to 2027 take
minutes; tests/test_sweep.py sweeps the small district.)

Execution goes through the :class:`concurrent.futures.Executor` interface: in this process
(``workers=1``, :class:`SerialExecutor`), a process pool (the default, one process per
core), a ``dask.distributed`` cluster (``dask=True`` for a local cluster, or its
address), or any executor passed in. Workers only run the model and return the run's
Dataset; this (parent) process writes each run into the store as it finishes, keeping at
most a small window of runs in flight, so memory does not grow with the sweep.

Seeds: run (sample ``i``, replicate ``r``) is seeded with
``SeedSequence(seed, spawn_key=(r,))``, the ``r``-th child of the experiment's root seed,
whatever the sample, the worker or the order in which runs finish. A run's result is a
function of its scenario and seed only, and each run has its own chunks in the store, so
the store's bytes do not depend on the executor or the number of workers.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..core import county
from ..core.district import district_snapshot, read_district_tables
from ..core.errors import InputError
from ..core.scenario import Scenario, ScenarioError
from .experiment import Experiment, load_experiment
from .files import inside_store, real_path
from .integrity import StoreCheck, check_store, restore_arrays, store_lock
from .signals import Stopped, _Signals, _stop_on_signals
from .snapshot import InputSnapshot, take_snapshot
from .store import (
    DONE,
    FAILED,
    PENDING,
    RunWriter,
    StoreError,
    check_resumable,
    create_store,
    read_status,
    remove_unfinished_creations,
    summarise,
)

__all__ = ["RunResult", "RunTask", "SerialExecutor", "Stopped", "SweepError", "SweepSummary",
           "execute_run", "process_pool", "replicate_seed", "shape_run", "sweep"]


class SweepError(RuntimeError):
    """A sweep could not go on (for example its worker processes died)."""


def progress_bar() -> type:
    """The progress-bar class, imported on first use (``import countysim`` imports no tqdm).

    tqdm's notebook widget where ipywidgets is installed, else plain tqdm: ``tqdm.auto``
    without ipywidgets warns "IProgress not found" in Jupyter.
    """
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        from tqdm import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm


def replicate_seed(root: int, replicate: int) -> np.random.SeedSequence:
    """The seed of replicate ``r`` in every sample: ``SeedSequence(root).spawn(R)[r]``.

    Built afresh from the root entropy and the spawn key rather than by spawning from a
    shared object, whose spawn counter would make the seed depend on call order.
    """
    return np.random.SeedSequence(root, spawn_key=(replicate,))


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs for one run (small and picklable).

    Attributes:
        sample: Sample index.
        replicate: Replicate index.
        scenario: The sample's complete scenario.
        until: Last month to simulate.
        entropy: Root seed entropy of the sweep.
        outputs: The variables to keep (empty: all); see :func:`shape_run`.
        numbered_villages: Number the villages (samples are different districts).
        district: The district CSVs read once at the start of the sweep (see
            :class:`~countysim.sweeps.snapshot.InputSnapshot`): the run reads these bytes,
            never the files, which may have changed since.
    """

    sample: int
    replicate: int
    scenario: Scenario
    until: str
    entropy: int
    outputs: tuple[str, ...] = ()
    numbered_villages: bool = False
    district: tuple[tuple[Path, tuple[tuple[str, bytes], ...]], ...] = ()

    @classmethod
    def of(cls, exp: Experiment, sample: int, replicate: int, scenario: Scenario,
           snapshot: InputSnapshot | None = None) -> RunTask:
        """The task of run (``sample``, ``replicate``) of an experiment."""
        return cls(sample, replicate, scenario, exp.until, exp.seed, exp.outputs,
                   exp.kind == "ensemble", snapshot.district_items() if snapshot else ())


@dataclass
class RunResult:
    """What a worker returns: the run's Dataset, or the error it raised.

    Attributes:
        sample: Sample index.
        replicate: Replicate index.
        dataset: The run's Dataset (``None`` if it failed).
        error: ``""``, or the exception's type, message and where it was raised.
    """

    sample: int
    replicate: int
    dataset: Any = None
    error: str = ""


def describe_error(exc: BaseException) -> str:
    """One line: exception type, message and the innermost frame (file name and line).

    Only the file's name is kept, not its path, so the text is the same on every worker.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" [{Path(last.filename).name}:{last.lineno} in {last.name}]"
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}{where}"


def shape_run(ds: xr.Dataset, outputs: tuple[str, ...] = (),
              numbered_villages: bool = False) -> xr.Dataset:
    """A run's Dataset as the store keeps it.

    Args:
        ds: The run's Dataset (:func:`countysim.run`).
        outputs: The variables to keep (empty: all). Coordinates and dimensions that no
            kept variable uses go too (``labour_state``, or ``village`` and its
            ``township`` and ``pilot``).
        numbered_villages: The samples are different district draws (an ``ensemble``
            design), whose villages have different names: ``village`` becomes the
            village's number 0, 1, ... and the names move to ``village_name(village)``,
            which the store keeps per sample like ``township``.

    Returns:
        The Dataset to store (``ds`` itself when nothing changes).
    """
    if outputs:
        ds = ds[list(outputs)]
    if numbered_villages and "village" in ds.dims:
        names = ds["village"].values
        ds = ds.assign_coords(
            village=("village", np.arange(len(names), dtype=np.int64),
                     {"long_name": "village number in the district's table (names differ "
                      "between district draws: see village_name)"}),
            village_name=("village", names, {"long_name": "administrative village"}))
    return ds


def execute_run(task: RunTask) -> RunResult:
    """Run one simulation; an exception is caught and returned as the run's error.

    This is the function the executors call; it must stay importable at module level.
    The Dataset is cut to the experiment's outputs here, in the worker, so that only
    those are sent back and stored.
    """
    try:
        seed = replicate_seed(task.entropy, task.replicate)
        with district_snapshot({folder: dict(files) for folder, files in task.district}):
            ds = shape_run(county.run(task.scenario, seed=seed, until=task.until,
                                      variables=task.outputs or None),
                           task.outputs, task.numbered_villages)
    except Exception as exc:  # any failure of the model is data about that run
        return RunResult(task.sample, task.replicate, None, describe_error(exc))
    return RunResult(task.sample, task.replicate, ds, "")


class SerialExecutor(cf.Executor):
    """An executor that runs each call in this process when it is submitted.

    The one-worker case: no pickling, no processes, and a debugger or a monkeypatch
    reaches the model.
    """

    def __init__(self) -> None:
        self._shutdown = False

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future:
        """Call ``fn(*args, **kwargs)`` now and return a finished future."""
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: cf.Future = cf.Future()
        future.set_running_or_notify_cancel()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse further submissions (nothing runs in the background)."""
        self._shutdown = True


@dataclass
class SweepSummary:
    """Counts of a sweep's runs after :func:`sweep` returns.

    Attributes:
        store: The store written.
        runs: Runs in the experiment (samples x replicates).
        done: Runs done, including those done before a resume.
        failed: Runs that raised.
        pending: Runs not run (only when the sweep stopped early).
        ran: Runs executed by this call.
        seconds: Wall time of this call.
        damaged: Runs marked finished whose data were missing or unreadable when the
            store was resumed; they were run again (and are counted in ``ran``).
        restored: Arrays whose metadata or design data were missing or damaged when the
            store was resumed, restored from a freshly made layout.
    """

    store: Path
    runs: int
    done: int
    failed: int
    pending: int
    ran: int = 0
    seconds: float = field(default=0.0, repr=False)
    damaged: int = 0
    restored: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = (f"{self.store}: {self.done} of {self.runs} runs done, {self.failed} failed")
        if self.pending:
            text += f", {self.pending} pending"
        text += f"; {self.ran} ran in {self.seconds:.1f} s"
        repairs = []
        if self.restored:
            repairs.append(f"{len(self.restored)} damaged arrays restored: "
                           + ", ".join(self.restored[:5]) + (", ..." if len(self.restored) > 5
                                                              else ""))
        if self.damaged:
            repairs.append(f"{self.damaged} finished runs were missing or damaged in the "
                           "store and ran again")
        return text + (f" ({'; '.join(repairs)})" if repairs else "")


def sweep(experiment: Experiment | str | Path, store: str | Path, *,
          workers: int | None = None, executor: cf.Executor | None = None,
          dask: bool | str | None = None, resume: bool = False, retry_failed: bool = False,
          force_mixed: bool = False, progress: bool = True,
          window: int | None = None) -> SweepSummary:
    """Run every sample x replicate of an experiment into a Zarr store.

    Args:
        experiment: An :class:`Experiment` or the path of its TOML file.
        store: Directory of the Zarr store to create (or to resume).
        workers: Number of workers: 1 runs in this process; more start a process pool
            (or size the local Dask cluster with ``dask=True``). Default: one per core.
        executor: Any ``concurrent.futures.Executor`` to use instead (not shut down
            here), e.g. ``client.get_executor()`` of a Dask client.
        dask: ``True`` for a local ``dask.distributed`` cluster, or a scheduler address
            such as ``"tcp://10.0.0.5:8786"``.
        resume: Continue a store left by an interrupted sweep: runs already done (or
            failed) are kept, the others run. Every finished run is checked first; those
            missing or damaged run again. Without it, an existing store is an error.
        retry_failed: When resuming, run the failed runs again too (needs ``resume``).
        force_mixed: When resuming a store written from other input files or other code,
            go on anyway and record which runs came from what (needs ``resume``).
        progress: Show a progress bar (runs done, failures, ETA) on stderr.
        window: Maximum runs in flight (an integer >= 1); default twice the number of
            workers.

    Returns:
        The counts of done, failed and pending runs.

    Raises:
        ExperimentError: The experiment file is invalid.
        DistrictDataError: The district CSV files are invalid.
        StoreError: The store exists (without ``resume``), is being written by another
            sweep, belongs to another experiment, or (without ``force_mixed``) was
            written from other inputs or code.
        SweepError: The workers died; the store keeps every run finished before.
        Stopped: SIGTERM or SIGHUP arrived (a KeyboardInterrupt, like Ctrl-C); workers
            are ended and the runs in flight stay pending.
        ValueError: Conflicting or invalid options.
        SchedulerError: ``dask`` is an address that is malformed or where no scheduler
            answers (checked before the store is created or opened).
    """
    started = time.perf_counter()
    if executor is not None and (workers is not None or dask not in (None, False)):
        raise ValueError("pass either executor= or workers=/dask=, not both")
    for name, value in (("workers", workers), ("window", window)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    for name, value in (("retry_failed", retry_failed), ("force_mixed", force_mixed)):
        if value and not resume:
            raise ValueError(f"{name}=True needs resume=True: it applies to an existing "
                             "store only")
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    # Every input is read here, once: the runs, the store's digests and a resume's
    # comparison all see these bytes, whatever happens to the files during the sweep.
    snapshot = take_snapshot(exp)
    path = _store_path(store)
    if isinstance(dask, str) and dask != "":
        # A scheduler that is not there is found before a store is made or touched, so
        # the one-line error leaves nothing behind to clean up or resume.
        _check_scheduler(dask)
    with (district_snapshot(snapshot.districts), _stop_on_signals() as signals,
          store_lock(path)):
        for folder in snapshot.districts:
            read_district_tables(folder)  # bad CSVs: one clear error before any work
        origin, check, restored = _open_store(exp, path, resume, force_mixed, snapshot)
        status = read_status(path) if check is None else check.status.copy()
        damaged = sorted({*check.damaged, *check.status_damaged}) if check else []
        for i, r in damaged:
            status[i, r] = PENDING  # run again
        wanted = (status == PENDING) | ((status == FAILED) if retry_failed else False)
        todo = [(int(i), int(r)) for i, r in np.argwhere(wanted)]  # sample-major order
        counts = summarise(status)
        kept_failures = 0 if retry_failed else counts[FAILED]
        ran = 0
        if todo:  # a finished store needs no workers (nor a Dask cluster started for it)
            with (RunWriter(path, origin) as writer,
                  _executor(workers, executor, dask, len(todo)) as (pool, slots)):
                limit = window or max(2, 2 * slots)
                for _ in _drive(exp, todo, pool, limit, writer, progress, counts[DONE],
                                kept_failures, signals, snapshot):
                    ran += 1
        final = summarise(read_status(path))
    return SweepSummary(path, exp.n_runs, final[DONE], final[FAILED], final[PENDING], ran,
                        time.perf_counter() - started, len(damaged), restored)


def _store_path(store: str | Path) -> Path:
    """The store's real path (symlinks resolved), refused if it cannot be a store.

    Raises:
        StoreError: The path has no name (``/``), or lies inside another Zarr store.
    """
    real = real_path(store)
    if real.parent == real:
        raise StoreError(f"{store}: a store needs a folder of its own, not the root of the "
                         "file system: give a path such as runs/sweep.zarr")
    outer = inside_store(real.parent)
    if outer is not None:
        raise StoreError(f"{store} is inside the Zarr store {outer}; a store nested in "
                         "another would corrupt it: choose a path outside that store")
    return real


def _open_store(exp: Experiment, path: Path, resume: bool, force_mixed: bool,
                snapshot: InputSnapshot) -> tuple[int, StoreCheck | None, tuple[str, ...]]:
    """Create the store, or check it for a resume and repair its layout (under the lock).

    Returns:
        The origin index of this session's runs; for a resumed store, what the check of
        its finished runs found (``None`` for a new store); the arrays restored.
    """
    # Under the lock no other process creates, resumes or cleans this store: leftovers of
    # a killed process (a half-made layout, zarr's temporary chunk files) are stale.
    remove_unfinished_creations(path)
    if not path.exists() and resume:
        raise StoreError(f"{path}: no such store to resume; nothing was written: check the "
                         "path, or leave out --resume (resume=False) to start a new store")
    if not path.exists():
        create_store(path, exp, *_template(exp), inputs=snapshot.digests())
        return 0, None, ()
    if not resume:
        raise StoreError(f"{path} already exists: resume it (--resume, resume=True) or "
                         "write to another store")
    origin = check_resumable(path, exp, force_mixed=force_mixed, inputs=snapshot.digests())
    for stray in path.rglob("*.partial"):
        stray.unlink(missing_ok=True)
    check = check_store(path)
    restored = tuple(sorted(check.broken_arrays))
    if restored:
        # Metadata or design arrays vanished or changed: take them from a fresh layout
        # of the same experiment (the same bytes), then look again.
        fresh = path.with_name(f".{path.name}.creating-{uuid.uuid4().hex[:12]}")
        try:
            create_store(fresh, exp, *_template(exp), inputs=snapshot.digests())
            restore_arrays(path, fresh, list(restored))
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
        check = check_store(path)
        if check.broken_arrays:
            raise StoreError(f"{path}: arrays {sorted(check.broken_arrays)} cannot be "
                             "repaired from the experiment; write to a new store")
    return origin, check, restored


def _template(exp: Experiment) -> tuple[Any, list[str]]:
    """A one-month run that gives the store its layout, and each sample's scenario digest.

    The first sample that runs is used; samples fail alike or not at all in their
    first month, so this costs one short run in practice.
    """
    hashes: list[str] = []
    for i in range(exp.n_samples):
        try:
            hashes.append(exp.scenario(i).digest)
        except ScenarioError:
            hashes.append("")
    errors = []
    for i in range(exp.n_samples):
        if not hashes[i]:
            continue
        scenario = exp.scenario(i)
        try:
            return shape_run(county.run(scenario, seed=replicate_seed(exp.seed, 0),
                                        until=scenario.start),
                             exp.outputs, exp.kind == "ensemble"), hashes
        except Exception as exc:
            errors.append(f"sample {i}: {describe_error(exc)}")
            if len(errors) >= 5:
                break
    raise SweepError("no sample of the experiment runs for one month, so the store has no "
                     "layout; " + ("; ".join(errors) if errors else "every sample is invalid"))


@contextmanager
def _executor(workers: int | None, executor: cf.Executor | None,
              dask: bool | str | None, runs: int | None = None
              ) -> Iterator[tuple[cf.Executor, int]]:
    """The executor to use and its number of parallel slots; shut down if made here.

    Processes made here are capped by :func:`worker_count` at ``runs`` and the cores.
    """
    if executor is not None:
        slots = getattr(executor, "_max_workers", None)
        client = getattr(executor, "_client", None)  # dask's ClientExecutor
        if slots is None and client is not None:
            slots = sum(client.nthreads().values())
        yield executor, slots or os.cpu_count() or 1
        return
    if dask not in (None, False):
        local = worker_count(workers, runs)
        with _dask_executor(local, dask) as pair:
            yield pair
        return
    n = worker_count(workers, runs)
    if n == 1:
        yield SerialExecutor(), 1
        return
    with process_pool(n) as pool:
        yield pool, n


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def worker_count(workers: int | None, runs: int | None = None) -> int:
    """The processes to start: ``workers`` (default: every core), capped.

    Issue 18: ``--workers 1000`` on 48 runs started 50 processes (6.1 GB). More processes
    than runs only idle, and more than cores only share them, each with its own memory;
    results are the same bytes for any count, so the cap changes nothing but the cost.

    Args:
        workers: Processes asked for (``None``: one per usable core).
        runs: Runs to do, if known.

    Returns:
        ``min(workers, runs, cores)``, at least 1.
    """
    n = min(workers or usable_cores(), usable_cores())
    if runs is not None:
        n = min(n, runs)
    return max(1, n)


@contextmanager
def process_pool(workers: int) -> Iterator[cf.ProcessPoolExecutor]:
    """A process pool whose workers never outlive this process.

    Workers start from a fork server (:func:`_process_context`) and end themselves when
    this process is gone, even after SIGKILL (:func:`_watch_parent`). An exception in
    the block, including Ctrl-C, SIGTERM and SIGHUP (:class:`Stopped`), ends them at
    once instead of waiting for their tasks.
    """
    pool = cf.ProcessPoolExecutor(workers, mp_context=_process_context(),
                                  initializer=_watch_parent, initargs=(os.getpid(),))
    try:
        # Start every worker now: a stop while a worker is still unpickling its start-up
        # state (the pool's semaphores, gone once this process ends them) makes it print
        # a traceback after the command's one line.
        seen: set[int] = set()
        for _ in range(100):  # until each worker has run one (one may run several)
            seen.update(f.result() for f in [pool.submit(_started) for _ in range(workers)])
            if len(seen) >= workers:
                break
        yield pool
    except BaseException:
        _terminate(pool)
        raise
    pool.shutdown(wait=True)


def _started() -> int:
    """A worker's first task: its process ID, a little later (see :func:`process_pool`)."""
    time.sleep(0.02)  # long enough for the pool to hand the next task to another worker
    return os.getpid()


def _terminate(pool: cf.ProcessPoolExecutor) -> None:
    """End a pool's workers now (a worker would otherwise finish its run first).

    ``_processes`` and ``_result_queue`` are private, but the only handles on the workers
    and their results the pool offers. A worker ended while sending a result (a run's
    data, megabytes) leaves half a message in the result pipe; the pool's manager thread
    then waits for the rest for ever, and the interpreter, which joins that thread at
    exit, never ends. Closing this process's end of the pipe once the workers are gone
    gives the thread end-of-file instead: it sees a broken pool and ends.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    # Taken before shutdown, which drops the pool's reference to the queue.
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    for process in processes:
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(timeout=10)
    if writer is not None and not any(p.is_alive() for p in processes):
        writer.close()


def _watch_parent(parent: int) -> None:
    """Worker initializer: end the worker when the sweep's process is gone.

    A parent killed with SIGKILL (or by ``subprocess.run(..., timeout=)``) cannot end its
    workers. The fork server exits when the parent does, so a worker's own parent
    process changes (or, without a fork server, the parent is gone): either way the
    worker exits instead of living on.
    """
    start_ppid = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # exists, owned by someone else: pid reused
                os._exit(1)
            if os.getppid() != start_ppid:
                os._exit(1)

    threading.Thread(target=watch, name="countysim-watch-parent", daemon=True).start()


def _process_context() -> multiprocessing.context.BaseContext:
    """How worker processes start: never plain fork.

    The parent runs threads (zarr's I/O, the progress bar), and forking a threaded process
    can deadlock the child. A fork server (POSIX) imports countysim once and forks each
    worker from that clean process, so later pools in the same session start in
    milliseconds; elsewhere workers are spawned.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["countysim.sweeps.sweep"])
        return context
    return multiprocessing.get_context("spawn")


class SchedulerError(InputError):
    """The ``dask`` scheduler address is malformed or cannot be reached (exit status 2)."""


#: Seconds to wait for a dask scheduler before giving up (``COUNTYSIM_DASK_TIMEOUT``).
DASK_CONNECT_TIMEOUT = 10.0


def _connect(client_class: type, address: str) -> Any:
    """A dask ``Client`` on ``address``, or one line saying why not.

    distributed raises ``OSError('Timed out ...')`` for an unreachable scheduler and
    ``ValueError`` or ``TypeError`` for a malformed address; both reached the user as
    tracebacks or as "cannot write" errors about the store, which was never at fault.

    Raises:
        SchedulerError: ``address`` is malformed or nothing answers there in time.
    """
    timeout = float(os.environ.get("COUNTYSIM_DASK_TIMEOUT", DASK_CONNECT_TIMEOUT))
    allowed = "expected a scheduler address such as tcp://HOST:8786, or --dask alone " \
              "for a local cluster"
    if not isinstance(address, str) or not address.strip():
        raise SchedulerError("<arguments>", "dask", f"{address!r}: {allowed}")
    try:
        return client_class(address, timeout=timeout)
    except OSError as exc:
        problem = (f"no dask scheduler answered within {timeout:g} s "
                   f"({' '.join(str(exc).split()) or type(exc).__name__}); start one "
                   "(dask scheduler) or check the address")
    except (ValueError, TypeError) as exc:
        problem = f"{' '.join(str(exc).split())}; {allowed}"
    # The half-built Client lives on in the failure's traceback; freed later, its __del__
    # tries to close a connection never made and prints a traceback after our one line.
    _free_quietly()
    raise SchedulerError("<arguments>", "dask", f"{address}: {problem}")


def _check_scheduler(address: str) -> None:
    """Connect to the dask scheduler at ``address`` once, or raise :class:`SchedulerError`."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("dask=... needs dask.distributed: "
                         "pip install 'countysim[dask]'") from None
    _connect(Client, address).close()


def _free_quietly() -> None:
    """Collect garbage with the errors of ``__del__`` methods silenced."""
    import gc
    import sys

    hook = sys.unraisablehook
    sys.unraisablehook = lambda _: None
    try:
        gc.collect()
    finally:
        sys.unraisablehook = hook


@contextmanager
def _dask_executor(workers: int | None, address: bool | str) -> Iterator[tuple[Any, int]]:
    import logging

    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("dask=... needs dask.distributed: "
                         "pip install 'countysim[dask]'") from None

    cluster = None
    if address is True or address == "":
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        if workers is not None:
            raise ValueError("workers= sizes a local cluster; it cannot be used with a "
                             "scheduler address")
        client = _connect(Client, address)
    try:
        yield client.get_executor(), max(1, sum(client.nthreads().values()))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _drive(exp: Experiment, todo: list[tuple[int, int]], executor: cf.Executor, window: int,
           writer: Any, progress: bool, done: int, failed: int,
           signals: _Signals | None = None,
           snapshot: InputSnapshot | None = None) -> Iterator[str]:
    """Submit runs with at most ``window`` in flight; write each as it finishes.

    Yields:
        The status written for each finished run.
    """
    tasks = iter(todo)
    in_flight: dict[cf.Future, tuple[int, int]] = {}
    cached: tuple[int, Scenario | str] = (-1, "")
    bar = progress_bar()(total=exp.n_runs, initial=done + failed, disable=not progress, unit="run",
               desc=exp.name, dynamic_ncols=True, smoothing=0.05)
    bar.set_postfix(failed=failed)

    def scenario_of(i: int) -> Scenario | str:
        nonlocal cached
        if cached[0] != i:
            try:
                cached = (i, exp.scenario(i))
            except ScenarioError as exc:  # a drawn point breaks a rule between parameters
                cached = (i, f"ScenarioError: the sample is not a valid scenario: {exc.key}: "
                             f"{exc.problem}")
        return cached[1]

    signals = signals or _Signals()

    def record(i: int, r: int, result: RunResult) -> str:
        with signals.deferred():  # a run is written whole or not at all
            return write(i, r, result)

    def write(i: int, r: int, result: RunResult) -> str:
        nonlocal failed
        outcome = FAILED
        if result.dataset is not None:
            problem = writer.mismatch(result.dataset, i)
            if problem is None:
                writer.write_done(i, r, result.dataset)
                outcome = DONE
            else:
                result.error = f"LayoutError: the run's output does not fit the store: {problem}"
        if outcome == FAILED:
            writer.write_failed(i, r, result.error)
            failed += 1
        bar.update(1)
        bar.set_postfix(failed=failed)
        return outcome

    def workers_died(exc: BaseException) -> SweepError:
        return SweepError(f"the workers died ({exc!r}); the finished runs are in the store: "
                          "resume to run the rest")

    try:
        while True:
            while len(in_flight) < window:
                nxt = next(tasks, None)
                if nxt is None:
                    break
                i, r = nxt
                scenario = scenario_of(i)
                if isinstance(scenario, str):  # the sample is not a valid scenario
                    yield record(i, r, RunResult(i, r, None, scenario))
                    continue
                try:
                    future = executor.submit(execute_run, RunTask.of(exp, i, r, scenario,
                                                                     snapshot))
                except cf.BrokenExecutor as exc:
                    raise workers_died(exc) from exc
                in_flight[future] = (i, r)
            if not in_flight:
                return
            finished, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                i, r = in_flight.pop(future)
                try:
                    result = future.result()
                except cf.BrokenExecutor as exc:
                    raise workers_died(exc) from exc
                except Exception as exc:  # e.g. a result that could not be sent back
                    result = RunResult(i, r, None, describe_error(exc))
                yield record(i, r, result)
    finally:
        for future in in_flight:
            future.cancel()
        bar.close()

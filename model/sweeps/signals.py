"""SIGINT, SIGTERM and SIGHUP as exceptions: how every long command stops.

A sweep (and the forecast, comparison and calibration built on runs) turns the three
signals into exceptions, :class:`KeyboardInterrupt` for Ctrl-C and :class:`Stopped` for
SIGTERM and SIGHUP, so that ``finally`` blocks end the workers and the command line
prints one line with a resume hint and exits ``128 + signum`` (130, 143, 129).

The command line installs the handlers for the whole command (:func:`command_signals`);
a sweep inside it installs its own, which hold a signal back while a run is written.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

__all__ = ["Stopped", "command_signals", "exit_status", "held", "quiet_cancelled_reads",
           "stop_on_signals"]


class Stopped(KeyboardInterrupt):
    """A sweep stopped by SIGTERM or SIGHUP, handled like Ctrl-C.

    Attributes:
        signum: The signal's number (the command line exits with ``128 + signum``).
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                      if hasattr(signal, name))


class _Signals:
    """SIGINT, SIGTERM and SIGHUP as exceptions, held back while zarr works on a store.

    zarr reads and writes chunks concurrently on an event loop in its own thread; an
    exception raised in the main thread while it waits would leave the loop's tasks
    going (a large read goes on decoding for a minute) and, when zarr closes the loop
    at exit, each prints "Exception ignored in: <coroutine ...>". So a signal that
    arrives during :meth:`deferred` is raised when the block is done: a run's writes
    (some tens of milliseconds), or one block of a store's reads (:func:`held`).
    """

    def __init__(self) -> None:
        self.depth = 0
        self.pending: int | None = None

    def handle(self, signum: int, frame: object) -> None:
        if self.depth:
            self.pending = signum
            return
        self.raise_for(signum)

    @staticmethod
    def raise_for(signum: int) -> None:
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Stopped(signum)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold signals back for the duration of the block."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if not self.depth and self.pending is not None:
                signum, self.pending = self.pending, None
                self.raise_for(signum)


_ACTIVE: list[_Signals] = []  # the handlers in force, innermost last


def held() -> AbstractContextManager[None]:
    """Hold signals back for a block of zarr calls, if a sweep's or command's handlers run.

    Readers of a store call zarr in blocks of a fraction of a second each, every one
    inside ``held()``: a stop then waits at most one block and leaves nothing pending.
    Outside the handlers (a notebook, another thread) it does nothing.
    """
    if _ACTIVE and threading.current_thread() is threading.main_thread():
        return _ACTIVE[-1].deferred()
    return nullcontext()


@contextmanager
def _stop_on_signals() -> Iterator[_Signals]:
    """Turn SIGTERM and SIGHUP into :class:`Stopped` (a KeyboardInterrupt), like Ctrl-C.

    Ctrl-C (SIGINT) keeps raising KeyboardInterrupt; all three are held back while a run
    is being written (see :class:`_Signals`). Only signals left at their default action
    are taken over (``nohup`` ignores SIGHUP; an application's own handler stays), and
    only in the main thread, where Python runs signal handlers.
    """
    signals = _Signals()
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    previous = {}
    for sig in (signal.SIGINT, *_STOP_SIGNALS):
        default = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        current = signal.getsignal(sig)
        if current is default or isinstance(getattr(current, "__self__", None), _Signals):
            previous[sig] = signal.signal(sig, signals.handle)
    _ACTIVE.append(signals)
    try:
        yield signals
    finally:
        _ACTIVE.remove(signals)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_on_signals() -> AbstractContextManager[_Signals]:
    """SIGTERM and SIGHUP as :class:`Stopped`, Ctrl-C as KeyboardInterrupt, in the block."""
    return _stop_on_signals()


def command_signals() -> AbstractContextManager[_Signals]:
    """The handlers of :func:`stop_on_signals` for a whole command (the CLI's ``main``)."""
    return _stop_on_signals()


def exit_status(exc: KeyboardInterrupt) -> int:
    """The exit status of a command stopped by ``exc``: ``128 + signum`` (130 for Ctrl-C)."""
    return 128 + exc.signum if isinstance(exc, Stopped) else 128 + signal.SIGINT


def quiet_cancelled_reads() -> None:
    """Silence asyncio's report of tasks a stop cut short, for the rest of the process.

    The reads of a store are held against signals block by block (:func:`held`), so a
    stop finds no read half done; this is the backstop for a read made outside a sweep's
    or a command's handlers, whose chunk tasks asyncio would report at exit ("Task was
    destroyed but it is pending!"). Nothing is lost: the reads only read.
    """
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL + 1)

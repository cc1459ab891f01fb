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
from contextlib import AbstractContextManager, contextmanager

__all__ = ["Stopped", "command_signals", "exit_status", "quiet_cancelled_reads",
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
    """SIGINT, SIGTERM and SIGHUP as exceptions, held back while a run is being written.

    A run's chunks are written concurrently on an event loop; an exception raised in the
    middle would leave its tasks dangling (and print their tracebacks at exit). So a
    signal that arrives during :meth:`deferred` is raised when the write is done (some
    tens of milliseconds later), and the run's writes finish first.
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
    try:
        yield signals
    finally:
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

    A signal that arrives while zarr reads a store (the statuses of a large design) stops
    the read with its chunk tasks pending on zarr's I/O loop; at exit asyncio logs "Task
    was destroyed but it is pending!" for each, tens of thousands of lines after the
    one-line message. Nothing is lost: the reads only read.
    """
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL + 1)

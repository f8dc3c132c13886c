"""Feedback for long commands (``demo``, ``storm``): what they are doing, on stderr.

Three modes, chosen once when the :class:`Feedback` is made:

* ``live`` — stderr is a terminal: a rich progress display, one row per phase with a
  spinner, a counter (``312/1000 sites``) and the elapsed time; finished phases stay on
  screen with a tick.
* ``lines`` — stderr is not a terminal (a log, a pipe, CI): one short line per phase,
  nothing in between, so logs stay small.
* ``off`` — ``--json`` (or ``quiet``): nothing at all; stdout carries only the result.

stdout is never written: the result of a command stays machine-readable whatever the mode.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Literal, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

__all__ = ["Feedback", "Mode"]

Mode = Literal["live", "lines", "off"]


class Feedback:
    """Phases and counters of a long command, shown on stderr (see the module docs).

    Use as a context manager; :meth:`phase` starts a phase (ending the previous one),
    :meth:`count` updates its counter, :meth:`note` prints a line outside the phases.

    Args:
        quiet: no output at all (``--json``).
        stream: where to write (default ``sys.stderr``); its ``isatty()`` picks ``live``
            or ``lines`` unless ``mode`` is given.
        mode: force a mode (tests).
        prefix: put before each line in ``lines`` mode (``"demo: "``).
    """

    def __init__(
        self,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        mode: Mode | None = None,
        prefix: str = "",
    ) -> None:
        self.stream: TextIO = stream if stream is not None else sys.stderr
        if mode is None:
            mode = "off" if quiet else ("live" if _isatty(self.stream) else "lines")
        self.mode: Mode = mode
        self.prefix = prefix
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._phase: str | None = None
        self._started = 0.0
        self.phases: list[str] = []  # every phase started, in order

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> Feedback:
        if self.mode == "live":
            console = Console(file=self.stream, force_terminal=True)
            self._progress = Progress(
                SpinnerColumn(finished_text="[green]✓[/green]"),
                TextColumn("{task.description}"),
                TextColumn("[cyan]{task.fields[detail]}[/cyan]"),
                TimeElapsedColumn(),
                console=console,
                refresh_per_second=8,
            )
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._end_phase(failed=exc_type is not None)
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # ------------------------------------------------------------------ reports

    def phase(self, text: str, detail: str = "") -> None:
        """End the current phase (if any) and start one described by ``text``."""
        self._end_phase(failed=False)
        self._phase = text
        self._started = time.monotonic()
        self.phases.append(text)
        if self.mode == "lines":
            self._line(text + (f" ({detail})" if detail else ""))
        elif self._progress is not None:
            self._task = self._progress.add_task(escape(text), total=None, detail=detail)

    def count(self, done: int, total: int | None, unit: str) -> None:
        """The current phase's counter: ``done/total unit`` (live mode only; lines mode
        stays one line per phase)."""
        if self._progress is None or self._task is None:
            return
        shown = f"{done:,}/{total:,} {unit}" if total is not None else f"{done:,} {unit}"
        self._progress.update(self._task, detail=shown)

    def done(self, detail: str | None = None) -> None:
        """End the current phase, optionally replacing its counter with ``detail``
        (``lines`` mode prints it when given)."""
        if detail is not None and self.mode == "lines" and self._phase is not None:
            self._line(f"{self._phase}: {detail}")
        if detail is not None and self._progress is not None and self._task is not None:
            self._progress.update(self._task, detail=detail)
        self._end_phase(failed=False)

    def fail(self) -> None:
        """End the current phase as failed (the caller reports the error itself)."""
        self._end_phase(failed=True)

    def note(self, text: str) -> None:
        """One line outside the phases (``live`` and ``lines``; nothing when ``off``)."""
        if self.mode == "lines":
            self._line(text)
        elif self._progress is not None:
            self._progress.console.print(escape(text))

    # ---------------------------------------------------------------- internals

    def _end_phase(self, *, failed: bool) -> None:
        if self._progress is not None and self._task is not None:
            if failed:
                desc = f"{escape(self._phase or '')} [red](failed)[/red]"
                self._progress.update(self._task, description=desc)
                self._progress.stop_task(self._task)
            else:
                self._progress.update(self._task, total=1, completed=1)
        self._task = None
        self._phase = None

    def _line(self, text: str) -> None:
        try:
            self.stream.write(f"{self.prefix}{text}\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not stop the work
            pass


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False

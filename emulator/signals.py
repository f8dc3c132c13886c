"""Stopping an asyncio shell on a signal, without the noise of a signal that comes late.

asyncio's ``loop.close()`` closes its self-pipe *before* it removes the signal handlers it
installed. A signal that arrives in between (a second Ctrl-C, the parent's SIGTERM to a
worker that was already stopping) is written to a closed descriptor, and Python prints
"Exception ignored when trying to write to the signal wakeup fd" with a traceback. The
shells therefore take their handlers down themselves, while the loop still runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterable, Iterator

__all__ = ["STOP_SIGNALS", "stop_on_signals"]

#: The signals that stop a shell: Ctrl-C and a polite kill.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals(
    stop: asyncio.Event,
    signals: Iterable[signal.Signals] = STOP_SIGNALS,
    *,
    then_ignore: bool = False,
) -> Iterator[None]:
    """Set ``stop`` on any of ``signals`` while the block runs (call it from a coroutine).

    On leaving, the loop's handlers are removed, so no signal can reach its closing
    wakeup socket. With ``then_ignore`` (a process that is on its way out, its state
    already flushed) the signals are then ignored until the process ends; otherwise the
    handlers that were there before come back. Where the loop cannot take signal
    handlers (not the main thread, or not Unix), this does nothing.
    """
    loop = asyncio.get_running_loop()
    before: dict[signal.Signals, object] = {}
    for sig in signals:
        previous = signal.getsignal(sig)
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        before[sig] = previous
    try:
        yield
    finally:
        for sig, previous in before.items():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
            replacement = signal.SIG_IGN if then_ignore else previous
            if replacement is None:  # installed from C, not by Python: leave it
                continue
            with contextlib.suppress(ValueError, TypeError, OSError):
                signal.signal(sig, replacement)  # type: ignore[arg-type]

"""Stop signals in the asyncio shells: none may reach a closing loop's wakeup socket."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from emulator.signals import stop_on_signals

ROOT = Path(__file__).resolve().parents[1]

# A child that runs one asyncio shell and, exactly where asyncio's loop.close() has closed
# its self-pipe but not yet removed its signal handlers, sends itself a stop signal: the
# window in which Python reports "Exception ignored when trying to write to the signal
# wakeup fd" with a traceback.
_LATE_SIGNAL = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from asyncio import selector_events
    from emulator.signals import stop_on_signals

    close_pipe = selector_events.BaseSelectorEventLoop._close_self_pipe

    def close_then_signal(self):
        close_pipe(self)
        os.kill(os.getpid(), getattr(signal, sys.argv[2]))

    selector_events.BaseSelectorEventLoop._close_self_pipe = close_then_signal

    def late(signum, frame):
        print("late signal to the previous handler", flush=True)

    signal.signal(signal.SIGUSR1, late)

    async def shell(mode):
        stop = asyncio.Event()
        sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)
        if mode == "plain":  # what the shells did before: handlers left to loop.close()
            loop = asyncio.get_running_loop()
            for sig in sigs:
                loop.add_signal_handler(sig, stop.set)
            os.kill(os.getpid(), signal.SIGTERM)
            await stop.wait()
            return
        with stop_on_signals(stop, sigs, then_ignore=mode == "ignore"):
            os.kill(os.getpid(), signal.SIGTERM)
            await stop.wait()
        print("stopped", flush=True)

    asyncio.run(shell(sys.argv[1]))
    print("exited cleanly", flush=True)
    """
)


def _child(mode: str, late: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", _LATE_SIGNAL, mode, late],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_the_window_is_real_without_the_helper() -> None:
    """The control case: with the handlers left for loop.close() to remove, a signal in
    the window gives Python's wakeup-fd traceback (so the other tests test something)."""
    r = _child("plain", "SIGUSR1")
    assert "signal wakeup fd" in r.stderr
    assert "Traceback" in r.stderr


@pytest.mark.parametrize("late", ["SIGINT", "SIGTERM"])
def test_a_late_stop_signal_is_ignored_by_a_process_on_its_way_out(late: str) -> None:
    """``then_ignore``: the first signal stops the shell; one that comes while the loop
    closes is ignored, with nothing printed and a clean exit."""
    r = _child("ignore", late)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout.splitlines() == ["stopped", "exited cleanly"]


def test_without_then_ignore_the_previous_handler_gets_the_late_signal() -> None:
    """Leaving the block restores the handler that was there before, and no signal goes
    to the loop's closed socket."""
    r = _child("restore", "SIGUSR1")
    assert r.returncode == 0, r.stderr
    assert "wakeup fd" not in r.stderr and "Traceback" not in r.stderr
    assert r.stdout.splitlines() == [
        "stopped",
        "late signal to the previous handler",
        "exited cleanly",
    ]


def test_the_block_sets_stop_and_takes_its_handlers_down() -> None:
    """In this process: a signal inside the block sets the event; after it, the loop has
    no wakeup descriptor left and the previous handlers are back."""
    before = signal.getsignal(signal.SIGUSR2)
    seen: list[int] = []
    signal.signal(signal.SIGUSR2, lambda signum, frame: seen.append(signum))

    async def shell() -> tuple[bool, int]:
        stop = asyncio.Event()
        with stop_on_signals(stop, (signal.SIGUSR2,)):
            os.kill(os.getpid(), signal.SIGUSR2)
            await asyncio.wait_for(stop.wait(), 10)
        wakeup = signal.set_wakeup_fd(-1)
        return stop.is_set(), wakeup

    try:
        stopped, wakeup = asyncio.run(shell())
        assert stopped and seen == []  # the loop's handler had it, not the old one
        assert wakeup == -1
        os.kill(os.getpid(), signal.SIGUSR2)
        assert seen == [signal.SIGUSR2]
    finally:
        signal.signal(signal.SIGUSR2, before)

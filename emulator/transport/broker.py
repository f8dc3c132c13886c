"""MQTT brokers run as child processes on 127.0.0.1: amqtt (pip-installed, embedded
default) and mosquitto (real deployments, and the tests' broker when installed).

Both share one interface (:class:`ChildBroker`): ``await start()`` returns once the broker
accepts TCP connections, :attr:`~ChildBroker.url` is what :class:`~.mqtt.MqttBus` takes,
``await stop()`` ends the process (SIGTERM, wait, then SIGKILL) and may be called any
number of times, ``await start()`` after ``stop()`` brings the same broker back on the
same port (with :class:`MosquittoBroker` persistence, with the sessions and queued
messages it had), and ``async with`` starts it and, on exit, stops it and removes its
temporary files.

A broker never outlives its parent: on Linux the child is started with
``PR_SET_PDEATHSIG`` (SIGTERM when the parent dies, however it dies), and the amqtt
runner in this module also exits when its standard input (a pipe the parent holds)
reaches end-of-file or its parent pid changes.

Run ``python -m emulator.transport.broker --port 1883`` for a foreground amqtt broker
(this module's runner; Ctrl-C stops it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from ..signals import stop_on_signals

__all__ = [
    "BrokerStartError",
    "ChildBroker",
    "EmbeddedBroker",
    "MosquittoBroker",
    "best_available_broker",
    "find_mosquitto",
    "free_port",
    "start_test_broker",
]

log = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1
_PORT_RETRIES = 3  # a port picked by free_port() can be taken before the child binds it


class BrokerStartError(RuntimeError):
    """The broker process did not come up (not installed, bad config, port taken...)."""


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port that was free on ``host`` a moment ago (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the brokers bind
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def find_mosquitto() -> str | None:
    """Path of the mosquitto executable (``PATH``, then the Debian location), or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


# Looked up once here: the preexec hook runs between fork and exec, where it must not
# load libraries or start processes.
_PRCTL = _load_prctl()


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A preexec hook asking Linux to SIGTERM the child when its parent dies."""
    prctl = _PRCTL
    if prctl is None:
        return None

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent_pid:  # the parent died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


def _kill_process(proc: subprocess.Popen[bytes]) -> None:
    """Last-resort cleanup (garbage collection, interpreter exit): no waiting on a loop."""
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            proc.wait(timeout=5)
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()


class ChildBroker:
    """An MQTT broker in a child process bound to ``host`` (127.0.0.1) on one port.

    Args:
        port: fixed port; by default a free one is picked at the first start and kept
            across restarts.
        host: listen address (keep it on the loopback for tests).
        start_timeout: seconds :meth:`start` waits for the port to accept connections.
        stop_timeout: seconds :meth:`stop` waits after SIGTERM before SIGKILL.
    """

    kind = "broker"

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = LOCALHOST,
        start_timeout: float = 20.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self._port = port
        self._fixed_port = port is not None
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._proc_finalizer: weakref.finalize | None = None
        self._tmpdir: Path | None = None
        self._tmp_finalizer: weakref.finalize | None = None
        self.starts = 0  # successful starts, restarts included

    # -- what subclasses provide -------------------------------------------------------

    def _command(self, port: int, workdir: Path) -> list[str]:
        raise NotImplementedError

    # -- public API --------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The broker's port (known once :meth:`start` has run, or when given)."""
        if self._port is None:
            raise BrokerStartError(f"{self.kind} broker not started: no port yet")
        return self._port

    @property
    def url(self) -> str:
        """``mqtt://host:port`` for :class:`~.mqtt.MqttBus`."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The child's pid while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    @property
    def workdir(self) -> Path:
        """Temporary directory holding the config, the log and persisted data."""
        if self._tmpdir is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix=f"gbcs-{self.kind}-"))
            self._tmp_finalizer = weakref.finalize(
                self, shutil.rmtree, str(self._tmpdir), ignore_errors=True
            )
        return self._tmpdir

    @property
    def log_path(self) -> Path:
        """The child's combined stdout/stderr."""
        return self.workdir / "broker.log"

    async def start(self) -> None:
        """Start the broker (no-op while running); returns once it accepts connections.

        Raises :class:`BrokerStartError` if the process exits or the port stays closed.
        """
        if self.running:
            return
        for attempt in range(_PORT_RETRIES):
            if self._port is None or (attempt and not self._fixed_port):
                self._port = free_port(self.host)
            try:
                await self._start_once(self._port)
                self.starts += 1
                return
            except BrokerStartError:
                await self.stop()
                if self._fixed_port or attempt == _PORT_RETRIES - 1:
                    raise
                log.info(
                    "%s broker did not start on port %d, trying another", self.kind, self._port
                )

    async def stop(self) -> None:
        """Terminate the process (SIGTERM, wait, SIGKILL); safe to call repeatedly."""
        proc, self._proc = self._proc, None
        if self._proc_finalizer is not None:
            self._proc_finalizer.detach()
            self._proc_finalizer = None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            if not await self._wait_exit(proc, self.stop_timeout):
                log.warning("%s broker pid %d ignored SIGTERM; killing it", self.kind, proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await self._wait_exit(proc, self.stop_timeout)
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()

    async def restart(self) -> None:
        """Stop, then start again on the same port."""
        await self.stop()
        await self.start()

    async def aclose(self) -> None:
        """Stop and remove the temporary directory (config, log, persisted data)."""
        await self.stop()
        if self._tmp_finalizer is not None:
            self._tmp_finalizer()
            self._tmp_finalizer = None
            self._tmpdir = None

    async def __aenter__(self) -> ChildBroker:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"<{type(self).__name__} {self.host}:{self._port} {state}>"

    # -- internals ---------------------------------------------------------------------

    async def _start_once(self, port: int) -> None:
        # The readiness probe cannot tell our child from another listener on the port.
        if not _port_free(self.host, port):
            raise BrokerStartError(f"port {self.host}:{port} is in use")
        workdir = self.workdir
        cmd = self._command(port, workdir)
        with open(self.log_path, "ab") as logf:
            logf.write(f"--- start {time.strftime('%H:%M:%S')}: {' '.join(cmd)}\n".encode())
            logf.flush()
            try:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.PIPE,
                    stdout=logf,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                    env=self._env(),
                    start_new_session=True,  # a terminal's Ctrl-C goes to the parent only
                    preexec_fn=_die_with_parent(os.getpid()),
                )
            except OSError as exc:
                raise BrokerStartError(f"cannot run {cmd[0]}: {exc}") from exc
        self._proc = proc
        self._proc_finalizer = weakref.finalize(self, _kill_process, proc)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if proc.poll() is not None:
                raise BrokerStartError(
                    f"{self.kind} broker exited with status {proc.returncode} on port {port}: "
                    f"{self._log_tail()}"
                )
            if await self._port_open(port):
                log.info(
                    "%s broker pid %d listening on %s:%d", self.kind, proc.pid, self.host, port
                )
                return
            if time.monotonic() > deadline:
                raise BrokerStartError(
                    f"{self.kind} broker not accepting connections on {self.host}:{port} "
                    f"after {self.start_timeout:g} s: {self._log_tail()}"
                )
            await asyncio.sleep(0.05)

    def _env(self) -> dict[str, str]:
        return dict(os.environ)

    async def _port_open(self, port: int) -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(self.host, port), 2.0)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    @staticmethod
    async def _wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def _log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        tail = [line for line in text[-lines:] if not line.startswith("--- start")]
        return " | ".join(tail) or "(empty log)"


class EmbeddedBroker(ChildBroker):
    """amqtt (MQTT 3.1.1) in a child process: ``python -m emulator.transport.broker``.

    Needs the ``broker`` extra (``pip install gbcs-emulator[broker]``). Anonymous clients
    are allowed. Nothing is persisted: a restart loses sessions and queued messages, and
    amqtt drops the persistent session of an anonymous client once it disconnects, so
    no-loss across subscriber outages needs :class:`MosquittoBroker`.
    """

    kind = "amqtt"

    def _command(self, port: int, workdir: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            __name__,
            "--host",
            self.host,
            "--port",
            str(port),
            "--parent-pid",
            str(os.getpid()),
        ]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The child must import this package even when it runs from a source checkout.
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        return env


class MosquittoBroker(ChildBroker):
    """mosquitto with a generated minimal config: one listener on ``host:port``,
    anonymous access, and optionally persistence.

    Args:
        persistence: write sessions, subscriptions and queued QoS 1 messages to
            ``data_dir`` when stopping (and every ``autosave_interval`` seconds) and load
            them at start, so a persistent-session subscriber loses nothing across a
            broker restart.
        data_dir: where persisted data lives (default: the broker's temporary directory,
            removed by :meth:`aclose`).
        max_queued_messages: QoS 1/2 messages queued per client beyond those in flight
            (mosquitto's default, 1000, would drop messages during long outages).
        users: user name to password; when given, only these users may connect
            (a ``password_file`` made with ``mosquitto_passwd``).
        executable: mosquitto binary (default: :func:`find_mosquitto`).
    """

    kind = "mosquitto"

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = LOCALHOST,
        persistence: bool = False,
        data_dir: str | Path | None = None,
        autosave_interval: int = 60,
        max_queued_messages: int = 100_000,
        users: dict[str, str] | None = None,
        executable: str | None = None,
        start_timeout: float = 20.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(port, host=host, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self.persistence = persistence
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.autosave_interval = autosave_interval
        self.max_queued_messages = max_queued_messages
        self.users = dict(users) if users else None
        for user in self.users or {}:
            if not user or ":" in user:
                raise ValueError(f"bad MQTT user name {user!r}")
        self.executable = executable

    def config_text(self, port: int) -> str:
        """The mosquitto.conf this broker runs with."""
        lines = [
            f"listener {port} {self.host}",
            # Run as root, mosquitto would switch to the 'mosquitto' user and could not
            # write our temporary directory; naming the current user keeps it as is.
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
            f"max_queued_messages {self.max_queued_messages}",
            # small frames both ways: without it, Nagle + delayed ACK add ~40 ms per hop
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if self.users:
            lines += ["allow_anonymous false", f"password_file {self.workdir / 'passwd'}"]
        else:
            lines.append("allow_anonymous true")
        if self.persistence:
            data = self.data_dir or (self.workdir / "data")
            data.mkdir(parents=True, exist_ok=True)
            lines += [
                "persistence true",
                f"persistence_location {data}/",
                f"autosave_interval {self.autosave_interval}",
            ]
        else:
            lines.append("persistence false")
        return "\n".join(lines) + "\n"

    def _command(self, port: int, workdir: Path) -> list[str]:
        exe = self.executable or find_mosquitto()
        if exe is None:
            raise BrokerStartError(
                "mosquitto is not installed (apt-get install mosquitto), "
                "or use the embedded amqtt broker"
            )
        if self.users:
            self._write_password_file(exe, workdir / "passwd")
        conf = workdir / "mosquitto.conf"
        conf.write_text(self.config_text(port))
        return [exe, "-c", str(conf)]

    def _write_password_file(self, exe: str, path: Path) -> None:
        tool = shutil.which("mosquitto_passwd") or str(
            Path(exe).parent.parent / "bin/mosquitto_passwd"
        )
        path.unlink(missing_ok=True)
        path.touch(mode=0o600)
        for user, password in (self.users or {}).items():
            done = subprocess.run(
                [tool, "-b", str(path), user, password], capture_output=True, text=True
            )
            if done.returncode != 0:
                raise BrokerStartError(f"mosquitto_passwd failed: {done.stderr.strip()}")


def best_available_broker(kind: str | None = None, *, persistence: bool = False) -> ChildBroker:
    """An unstarted broker: ``kind`` (``"mosquitto"`` or ``"amqtt"``), or mosquitto when
    installed and amqtt otherwise. ``persistence`` applies to mosquitto only."""
    if kind is None:
        kind = "mosquitto" if find_mosquitto() else "amqtt"
    if kind == "mosquitto":
        return MosquittoBroker(persistence=persistence)
    if kind == "amqtt":
        return EmbeddedBroker()
    raise ValueError(f"unknown broker kind {kind!r} (mosquitto or amqtt)")


async def start_test_broker(kind: str | None = None, *, persistence: bool = False) -> ChildBroker:
    """:func:`best_available_broker`, started. Call ``aclose()`` when done."""
    broker = best_available_broker(kind, persistence=persistence)
    await broker.start()
    return broker


# -- the amqtt runner (the child process) -------------------------------------------------


async def _serve_amqtt(host: str, port: int, parent_pid: int | None) -> int:
    try:
        from amqtt.broker import Broker
    except ImportError:
        print("amqtt is not installed: pip install 'gbcs-emulator[broker]'", file=sys.stderr)
        return 2
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    try:
        await broker.start()
    except Exception as exc:
        print(f"amqtt broker failed to start on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    print(f"amqtt broker listening on {host}:{port}", file=sys.stderr, flush=True)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = contextlib.ExitStack()  # a process entry point: late signals are ignored
    signals.enter_context(
        stop_on_signals(stop, (signal.SIGTERM, signal.SIGINT, signal.SIGHUP), then_ignore=True)
    )
    stdin_fd = sys.stdin.fileno() if parent_pid is not None and sys.stdin else None
    if stdin_fd is not None and not os.isatty(stdin_fd):

        def on_stdin() -> None:
            try:
                data = os.read(stdin_fd, 4096)
            except OSError:
                data = b""
            if not data:  # the parent closed the pipe, or died
                loop.remove_reader(stdin_fd)
                stop.set()

        loop.add_reader(stdin_fd, on_stdin)

    async def watch_parent() -> None:
        while parent_pid is not None and os.getppid() == parent_pid:
            await asyncio.sleep(1.0)
        stop.set()

    watcher = asyncio.create_task(watch_parent()) if parent_pid is not None else None
    with signals:
        await stop.wait()
    if watcher is not None:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    try:
        await asyncio.wait_for(broker.shutdown(), 10)
    except Exception as exc:  # exiting anyway; say why the shutdown was not clean
        print(f"amqtt broker shutdown: {exc!r}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> None:
    """Run an amqtt broker in the foreground (the :class:`EmbeddedBroker` child)."""
    parser = argparse.ArgumentParser(prog="python -m emulator.transport.broker")
    parser.add_argument("--host", default=LOCALHOST)
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument(
        "--parent-pid", type=int, default=None, help="exit when this parent goes away"
    )
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("transitions").setLevel(logging.WARNING)
    raise SystemExit(asyncio.run(_serve_amqtt(args.host, args.port, args.parent_pid)))


if __name__ == "__main__":
    main()

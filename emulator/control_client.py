"""A Python client of the control API (``gbcs-emu run --control``), over any bus.

Requests go to ``gbcs/<site>/<eui>/control`` as JSON objects ``{"id", "op", ...}``;
replies come back on ``gbcs/<site>/<eui>/control/reply`` and are matched to their
request by ``id`` (see ``docs/control.md`` for the operations)::

    async with ControlClient(MqttBus("mqtt://localhost:1883")) as ctl:
        await ctl.control("site-0", "00DB1234567890A0", "power", on=False)

The client reads its bus's :meth:`~emulator.transport.base.Bus.messages`, so give it a
bus of its own (a head-end on the same broker uses another connection), or pass
``pump=False`` and hand it every received message through :meth:`ControlClient.feed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from typing import Any

from .transport.base import Bus, BusError, BusMessage, Channel

__all__ = ["ControlClient", "ControlFailed", "ControlTimeout"]


class ControlFailed(Exception):
    """The emulator answered ``ok: false``: ``code`` and ``message`` say why."""

    def __init__(self, op: str, code: str, message: str, reply: dict[str, Any]) -> None:
        super().__init__(f"control {op} refused: {code}: {message}")
        self.op = op
        self.code = code
        self.message = message
        self.reply = reply


class ControlTimeout(TimeoutError):
    """No reply within the timeout (is the emulator running with ``--control``?)."""


def _eui_text(eui: str | bytes) -> str:
    text = eui.hex() if isinstance(eui, bytes | bytearray) else str(eui)
    text = text.upper()
    if len(text) != 16 or any(c not in "0123456789ABCDEF" for c in text):
        raise ValueError(f"eui {eui!r} is not an EUI-64 (16 hex digits)")
    return text


class ControlClient:
    """Sends control requests and waits for their replies.

    Args:
        bus: the transport (MQTT, TCP client, in-process); started by :meth:`start`.
        timeout: default seconds to wait for a reply.
        pump: read the bus's messages in a background task (False: call :meth:`feed`).
    """

    def __init__(self, bus: Bus, *, timeout: float = 10.0, pump: bool = True) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout {timeout!r}: a positive number of seconds")
        self.bus = bus
        self.timeout = timeout
        self._pump = pump
        self._prefix = uuid.uuid4().hex[:8]
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._subscribed: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the bus (and the reader task). Idempotent."""
        await self.bus.start()
        if self._pump and self._task is None:
            self._task = asyncio.create_task(self._read(), name="control-client")

    async def close(self) -> None:
        """Stop reading, fail pending requests, close the bus."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for fut in self._waiting.values():
            if not fut.done():
                fut.cancel()
        self._waiting.clear()
        await self.bus.close()

    async def __aenter__(self) -> ControlClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def control(
        self, site: str, eui: str | bytes, op: str, *, timeout: float | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Run ``op`` on device ``eui`` of ``site``; its ``result`` object.

        Raises :class:`ControlFailed` when the emulator refuses (``ok: false``),
        :class:`ControlTimeout` without a reply in time, :class:`ValueError` for an
        argument that cannot be sent (not JSON-serialisable, a bad EUI), and
        :class:`~emulator.transport.base.BusError` when the bus cannot publish.
        """
        if "id" in fields or "op" in fields:
            raise ValueError("'id' and 'op' are set by the client, not passed as fields")
        reply = await self.request(site, eui, {"op": op, **fields}, timeout=timeout)
        if reply.get("ok") is not True:
            error = reply.get("error")
            error = error if isinstance(error, dict) else {}
            raise ControlFailed(
                op, str(error.get("code", "error")), str(error.get("message", "")), reply
            )
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    async def request(
        self, site: str, eui: str | bytes, request: dict[str, Any], *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send ``request`` (an ``id`` is added unless given) and return the whole reply,
        ``ok: false`` included."""
        target = _eui_text(eui)
        if not site or any(c in site for c in "/+#\0"):
            raise ValueError(f"site {site!r}: a non-empty topic level without / + # or NUL")
        rid = request.get("id")
        if rid is None:
            rid = f"{self._prefix}-{next(self._ids)}"
            request = {"id": rid, **request}
        key = json.dumps(rid, sort_keys=True)
        if key in self._waiting:
            raise ValueError(f"request id {rid!r} is already waiting for its reply")
        try:
            payload = json.dumps(request).encode()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"request is not JSON-serialisable: {exc}") from None
        await self.start()
        pattern = BusMessage(site, target, Channel.CONTROL_REPLY, b"").topic
        if pattern not in self._subscribed:
            await self.bus.subscribe(pattern)
            self._subscribed.add(pattern)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[key] = fut
        wait = self.timeout if timeout is None else timeout
        try:
            await self.bus.publish(BusMessage(site, target, Channel.CONTROL, payload))
            return await asyncio.wait_for(fut, wait)
        except TimeoutError:
            raise ControlTimeout(
                f"no reply to control {request.get('op')!r} (id {rid!r}) from {target} in "
                f"{wait:g} s: is the emulator running with --control?"
            ) from None
        finally:
            self._waiting.pop(key, None)

    def feed(self, message: BusMessage) -> bool:
        """Hand over a received message; True if it answered a pending request."""
        if message.channel is not Channel.CONTROL_REPLY:
            return False
        try:
            reply = json.loads(message.frame)
        except ValueError:
            return False
        if not isinstance(reply, dict):
            return False
        fut = self._waiting.get(json.dumps(reply.get("id"), sort_keys=True))
        if fut is None or fut.done():
            return False
        fut.set_result(reply)
        return True

    async def _read(self) -> None:
        async for message in self.bus.messages():
            self.feed(message)
        for fut in self._waiting.values():  # the bus ended: no reply can come any more
            if not fut.done():
                fut.set_exception(BusError("the bus closed before the reply came"))

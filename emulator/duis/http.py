"""The DUIS service over HTTP (issue 16): DCC Boxed's endpoints on aiohttp.

:class:`DuisServer` puts a :class:`~emulator.duis.service.DuisService` behind

* ``POST /api/v1/serviceS``, ``serviceT`` and ``serviceD``: the signed DUIS request in
  (``Content-Type: application/xml``), the signed synchronous reply out (``I99``, ``I0``
  or an ``E`` code; HTTP 400 with one line of text for a body that is not a DUIS
  request, 413 for one over :data:`MAX_REQUEST_BYTES`);

and runs two tasks beside it:

* the commands the service decides to send go to a :class:`DeviceLink` (at once, or at
  their future date), and every frame the devices send comes back through it: a
  response to a command becomes a signed ``ResponseMessage``, a device alert a
  ``DeviceAlertMessage``, the Comms Hub's AD1 record the DCC alert AD1;
* that and every other callback waits in the ledger's outbox until the user's callback
  URL answers 2xx, retried with a growing delay (1 s doubling to
  :data:`MAX_RETRY_DELAY`), so none is lost across a restart.

A firmware activation (CS06) left unanswered for :data:`RESPONSE_TIMEOUT` seconds
suspends its device (SEC modification MP105: only SRV 11.2 is then accepted for it);
``POST /admin/inventory/<EUI>/clear`` is the operator's way back to Commissioned.

With a :class:`~emulator.duis.status.StatusBoard`, ``GET /status`` is the live status
page and ``GET /status.json`` what it polls: the inventory, each device's key state, the
last requests and the device traffic, decoded.

A :class:`DeviceLink` is anything that sends a frame to a device and yields the frames
devices send: the emulator's bus in ``gbcs-emu run``, an in-process site in tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from emulator.duis.inventory import InventoryDevice
from emulator.duis.service import ENDPOINTS, DeviceSend, DuisService
from emulator.duis.status import PAGE, StatusBoard

__all__ = [
    "CALLBACK_TIMEOUT",
    "DUIS_PORT",
    "MAX_REQUEST_BYTES",
    "MAX_RETRY_DELAY",
    "RESPONSE_TIMEOUT",
    "DeviceLink",
    "DuisServer",
]

log = logging.getLogger("gbcs.duis")

#: DCC Boxed's DUIS port (the open clients' default).
DUIS_PORT = 8079
#: A DUIS request body is refused above this size (the largest templates are ~20 KiB).
MAX_REQUEST_BYTES = 1 << 20
#: How long a callback POST may take before it is retried.
CALLBACK_TIMEOUT = 10.0
#: The longest wait between two tries of a callback.
MAX_RETRY_DELAY = 60.0
#: How long a firmware activation (CS06) may go unanswered before the device is
#: Suspended (MP105).
RESPONSE_TIMEOUT = 120.0
_XML = "application/xml"


class DeviceLink(Protocol):
    """How the service reaches the emulated devices."""

    async def send(self, device: InventoryDevice, frame: bytes) -> None:
        """Send ``frame`` to ``device``."""

    def frames(self) -> AsyncIterator[bytes]:
        """The frames devices send (responses, alerts), as they come."""


class DuisServer:
    """The HTTP side of a DUIS service (see the module notes)."""

    def __init__(
        self,
        service: DuisService,
        link: DeviceLink,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        response_timeout: float = RESPONSE_TIMEOUT,
        board: StatusBoard | None = None,
    ) -> None:
        self.service = service
        self.board = board
        self.link = link
        self.clock = clock
        self.response_timeout = response_timeout
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.stats = {
            "requests": 0,
            "sent": 0,
            "callbacks queued": 0,
            "callbacks": 0,
            "retries": 0,
        }

    # --- HTTP -----------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The application with the three DCC Boxed endpoints."""
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        for name in ENDPOINTS:
            app.router.add_post(f"/api/v1/{name}", self._endpoint(name))
        app.router.add_post("/admin/inventory/{eui}/clear", self._clear)
        if self.board is not None:
            app.router.add_get("/status", self._page)
            app.router.add_get("/status.json", self._snapshot)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    def _endpoint(self, name: str) -> Callable[[web.Request], object]:
        async def handle(request: web.Request) -> web.Response:
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return web.Response(status=413, text="request body too large")
            self.stats["requests"] += 1
            reply = self.service.receive(name, body, self.clock())
            log.info("%s %s: %s %s", name, reply.request_id, reply.code, reply.reason)
            if self.board is not None:
                rid = None if reply.request_id is None else str(reply.request_id)
                self.board.request(name, rid, reply.code, reply.reason)
            if reply.http_status != 200:
                return web.Response(status=reply.http_status, text=reply.xml.decode())
            for send in reply.sends:
                self._schedule(send)
            return web.Response(body=reply.xml, content_type=_XML, charset="utf-8")

        return handle

    async def _clear(self, request: web.Request) -> web.Response:
        """The operator's way back from MP105: the device is Commissioned again."""
        text = request.match_info["eui"].replace("-", "")
        try:
            eui = bytes.fromhex(text)
            if len(eui) != 8:
                raise ValueError("an EUI-64 is 16 hex digits")
            self.service.clear_status(eui)
        except ValueError as e:
            return web.json_response({"error": " ".join(str(e).split())}, status=400)
        return web.json_response({"device": eui.hex().upper(), "status": "Commissioned"})

    async def _page(self, _request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html", charset="utf-8")

    async def _snapshot(self, _request: web.Request) -> web.Response:
        assert self.board is not None
        # the device states come from the store on disk: read them off the loop
        snapshot = await asyncio.to_thread(self.board.snapshot)
        return web.json_response(snapshot, headers={"Cache-Control": "no-store"})

    # --- devices ---------------------------------------------------------------------

    def _schedule(self, send: DeviceSend) -> None:
        delay = 0.0
        if send.send_at is not None:
            delay = max(0.0, (send.send_at - self.clock()).total_seconds())
        task = asyncio.get_running_loop().create_task(self._send_later(send, delay))
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)

    async def _send_later(self, send: DeviceSend, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        await self.link.send(send.device, send.gbcs)
        self.stats["sent"] += 1
        if self.board is not None:
            self.board.frame("to device", send.gbcs)
        if send.use_case == "CS06":
            await asyncio.sleep(self.response_timeout)
            if self.service.activation_unanswered(send):
                log.warning(
                    "%s: no response to its firmware activation: Suspended (MP105)",
                    send.device.dashed_id,
                )

    async def _device_frames(self) -> None:
        async for frame in self.link.frames():
            callbacks = self.service.device_frame(frame, self.clock())
            if self.board is not None:
                self.board.frame("from device", frame)
            for callback in callbacks:
                self.stats["callbacks queued"] += 1
                self.service.ledger.enqueue(callback.url, callback.xml, self.clock())
            if callbacks:
                self._wake.set()

    # --- callbacks -------------------------------------------------------------------

    async def _callbacks(self) -> None:
        async with ClientSession(timeout=ClientTimeout(total=CALLBACK_TIMEOUT)) as session:
            while True:
                for item, url, body, attempts in self.service.ledger.due(self.clock()):
                    error = await _post(session, url, body)
                    if error is None:
                        self.service.ledger.delivered(item)
                        self.stats["callbacks"] += 1
                        continue
                    delay = min(MAX_RETRY_DELAY, 2.0**attempts)
                    self.stats["retries"] += 1
                    log.warning("callback to %s: %s; again in %.0f s", url, error, delay)
                    self.service.ledger.retry(item, self.clock() + timedelta(seconds=delay), error)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)

    async def _start(self, _app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._device_frames()))
        self._tasks.append(loop.create_task(self._callbacks()))

    async def _stop(self, _app: web.Application) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _post(session: ClientSession, url: str, body: bytes) -> str | None:
    """POST one callback; None when the user took it (2xx), else why not (one line)."""
    try:
        async with session.post(url, data=body, headers={"Content-Type": _XML}) as r:
            if 200 <= r.status < 300:
                return None
            return f"HTTP {r.status}"
    except (ClientError, TimeoutError, OSError) as e:
        return " ".join(str(e).split()) or type(e).__name__

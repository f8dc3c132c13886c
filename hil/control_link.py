"""The control API of a device on a serial port (``gbcs-emu hil serve --control``).

:class:`ControlLine` opens the port once, head-end side, and shares it between a
:class:`~emulator.control_client.ControlClient` (control frames, :mod:`hil.framing`) and
any number of other buses for head-ends (GBCS frames), so a bench can reset or prepare
the device and then talk GBCS to it over the same line::

    async with await open_control("/dev/ttyUSB1", "binary") as line:
        await line.control("site-0", "00DB1234567890A0", "factory_reset")
        async with HeadEnd(line.headend_bus(), keys, parties=..., counters=...) as he:
            reply = await he.request("site-0", esme, "ECS40")

Without ``--control`` on the served end a request gets no reply:
:class:`~emulator.control_client.ControlTimeout` after ``timeout`` seconds. The ``raw``
framing cannot carry control frames: :func:`open_control` refuses it with ``ValueError``.

The same works without this module: make a head-end-side :class:`~hil.link.SerialBus`
and give ``ControlClient`` the bus itself or one of its :meth:`~hil.link.SerialBus.view`
buses (one per reader: a head-end and a control client both read messages).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.control_client import ControlClient
from emulator.transport.base import Bus

from .framing import CONTROL_FRAMINGS, Framing, get_framing
from .link import HEADEND_SIDE, SerialBus, SerialSettings

__all__ = ["ControlLine", "open_control"]


class ControlLine:
    """One head-end-side serial line carrying control requests and GBCS commands.

    Args:
        port: a ``serial_for_url`` URL (a device path, a pty, ``socket://h:p``).
        framing: a framing name (``gfi`` or ``binary``) or a :class:`~hil.framing.Framing`.
        settings: port settings (115200 8N1 by default).
        site: the site id of GBCS responses and alerts read from the line (a text, or a
            function of the originator's EUI), as for :class:`~hil.link.SerialBus`.
        reliable: link-level acknowledgements (both ends must use it).
        timeout: seconds to wait for a control reply.
        framing_options: options of a framing given by name (e.g. ``max_control``).
    """

    def __init__(
        self,
        port: str,
        framing: str | Framing = "binary",
        *,
        settings: SerialSettings | None = None,
        site: str | Callable[[bytes], str | None] = "site-0",
        reliable: bool = False,
        timeout: float = 10.0,
        framing_options: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(framing, str):
            framing = get_framing(framing, **(framing_options or {}))
        if not framing.carries_control:
            raise ValueError(
                f"the {framing.name} framing cannot carry control frames; "
                f"use one of {', '.join(CONTROL_FRAMINGS)}"
            )
        self.bus = SerialBus(
            port, framing, side=HEADEND_SIDE, site=site, settings=settings, reliable=reliable
        )
        self.client = ControlClient(self.bus.view(), timeout=timeout)

    async def start(self) -> None:
        """Open the port (``BusError`` when it cannot be opened)."""
        await self.bus.start()
        await self.client.start()

    async def close(self) -> None:
        """Stop the control client and close the port (and every bus on it)."""
        await self.client.close()
        await self.bus.close()

    async def __aenter__(self) -> ControlLine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def headend_bus(self) -> Bus:
        """A bus on this line for a head-end (closing it leaves the line open)."""
        return self.bus.view()

    async def control(
        self, site: str, eui: str | bytes, op: str, *, timeout: float | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Run ``op`` on device ``eui``: :meth:`ControlClient.control
        <emulator.control_client.ControlClient.control>` (its ``result`` object; raises
        ``ControlFailed`` or ``ControlTimeout``)."""
        return await self.client.control(site, eui, op, timeout=timeout, **fields)

    async def request(
        self, site: str, eui: str | bytes, request: dict[str, Any], *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a raw request object; the whole reply, ``ok: false`` included."""
        return await self.client.request(site, eui, request, timeout=timeout)

    async def reset(
        self, site: str, eui: str | bytes, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Put device ``eui`` back to its factory state (``factory_reset``); its result."""
        return await self.client.control(site, eui, "factory_reset", timeout=timeout)


async def open_control(
    port: str,
    framing: str | Framing = "binary",
    settings: SerialSettings | None = None,
    **options: Any,
) -> ControlLine:
    """A started :class:`ControlLine` (``options``: its keyword arguments); close it, or
    use it as ``async with await open_control(...) as line``."""
    line = ControlLine(port, framing, settings=settings, **options)
    try:
        await line.start()
    except BaseException:
        await line.close()
        raise
    return line

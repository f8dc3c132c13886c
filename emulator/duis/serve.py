"""The DUIS service in a running emulator (``gbcs-emu run --duis-users FILE``).

:func:`start_duis` builds the service on a running fleet: the state folder's PKI (the
organisations' keys, the ACB's among them) with the devices' public keys derived on
demand, the fleet's inventory, the ledger ``duis.db`` in the state folder, the users file
(validated before the emulator starts: :func:`load_users`), and the broker the workers
serve on, reached through a :class:`BusLink`. It listens on ``host:port`` (DCC Boxed's
8079 by default) until :meth:`RunningDuis.stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from emulator.duis.http import DuisServer
from emulator.duis.inventory import Inventory, InventoryDevice
from emulator.duis.ledger import RequestLedger
from emulator.duis.service import DuisService
from emulator.duis.users import Users
from emulator.runtime.config import FleetConfig
from emulator.runtime.fleetdef import FleetKeyStore
from emulator.runtime.pki import ensure_pki, resolve_seed
from emulator.transport.base import Bus, BusMessage, Channel
from keys.pki import DEFAULT_ORGANISATION_EUIS
from keys.roles import RemotePartyRole

__all__ = ["LEDGER_NAME", "BusLink", "RunningDuis", "load_users", "start_duis"]

#: The DUIS service's ledger in the state folder.
LEDGER_NAME = "duis.db"


class BusLink:
    """The emulator's bus as the DUIS service's device link: commands published on
    ``gbcs/<site>/<eui>/in``, the devices' responses and alerts read from ``.../out`` and
    ``.../alert``."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def start(self) -> None:
        """Connect and subscribe to every device's responses and alerts."""
        await self.bus.start()
        await self.bus.subscribe_many(
            [f"gbcs/+/+/{Channel.OUT.value}", f"gbcs/+/+/{Channel.ALERT.value}"]
        )

    async def send(self, device: InventoryDevice, frame: bytes) -> None:
        """Publish ``frame`` to ``device``."""
        eui = device.device_id.hex().upper()
        await self.bus.publish(BusMessage(device.site_id, eui, Channel.IN, frame))

    async def frames(self) -> AsyncIterator[bytes]:
        """The frames devices publish."""
        async for message in self.bus.messages():
            yield message.frame

    async def close(self) -> None:
        """Disconnect."""
        await self.bus.close()


def load_users(path: Path) -> Users:
    """The users file, validated in full (:class:`~emulator.duis.users.UsersConfigError`
    lists every problem)."""
    return Users.load(path)


@dataclass
class RunningDuis:
    """A DUIS service listening; :meth:`stop` ends it."""

    server: DuisServer
    runner: web.AppRunner
    link: BusLink
    ledger: RequestLedger
    url: str

    async def stop(self) -> None:
        """Stop listening, end its tasks, close the bus and the ledger."""
        await self.runner.cleanup()
        with contextlib.suppress(Exception):
            await self.link.close()
        self.ledger.close()


async def start_duis(
    *,
    state: Path,
    config: FleetConfig,
    bus: Bus,
    users: Users,
    host: str = "127.0.0.1",
    port: int = 8079,
    verify: bool = True,
) -> RunningDuis:
    """The DUIS service for the fleet served from ``state``, listening on
    ``host:port`` (0: any free port; :attr:`RunningDuis.url` says which)."""
    resolve_seed(config, state)
    keys = FleetKeyStore(ensure_pki(state), config, range(config.sites))
    acb = config.parties.get(
        RemotePartyRole.ACCESS_CONTROL_BROKER,
        DEFAULT_ORGANISATION_EUIS[RemotePartyRole.ACCESS_CONTROL_BROKER],
    )
    ledger = RequestLedger(state / LEDGER_NAME)
    try:
        service = DuisService(
            users=users,
            inventory=Inventory(config),
            ledger=ledger,
            keys=keys,
            dcc_counter=lambda: ledger.next_dcc_counter(datetime.now(UTC)),
            verify=verify,
            acb=acb,
        )
        link = BusLink(bus)
        await link.start()
        server = DuisServer(service, link)
        runner = web.AppRunner(server.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        ledger.close()
        raise
    bound = site._server.sockets[0].getsockname()[1] if site._server else port  # type: ignore[union-attr]
    await asyncio.sleep(0)
    return RunningDuis(server, runner, link, ledger, f"http://{host}:{bound}")

"""The DUIS service in a running emulator (``gbcs-emu run --duis-users FILE``).

:func:`start_duis` builds the service on a running fleet: the state folder's PKI (the
organisations' keys, the ACB's among them) with the devices' public keys derived on
demand, the fleet's inventory, the ledger ``duis.db`` in the state folder, the users file
(validated before the emulator starts: :func:`load_users`), and the broker the workers
serve on, reached through a :class:`BusLink`. It listens on ``host:port`` (DCC Boxed's
8079 by default) until :meth:`RunningDuis.stop`, with the live status page at
``/status`` (:mod:`emulator.duis.status`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from cryptography import x509

from emulator.duis.http import RESPONSE_TIMEOUT, DuisServer
from emulator.duis.inventory import Inventory, InventoryDevice
from emulator.duis.ledger import RequestLedger
from emulator.duis.service import DuisService
from emulator.duis.smki import CertificateDirectory, DirectoryCertificate, SearchQuery
from emulator.duis.smki_http import smki_app
from emulator.duis.status import StatusBoard, store_reader
from emulator.duis.users import Users
from emulator.runtime.config import FleetConfig, derive_own_keys
from emulator.runtime.fleetdef import FleetKeyStore
from emulator.runtime.pki import DeviceCertificates, ensure_pki, resolve_seed
from emulator.transport.base import Bus, BusMessage, Channel
from keys.pki import DEFAULT_ORGANISATION_EUIS
from keys.roles import KeyUsage, RemotePartyRole

__all__ = [
    "LEDGER_NAME",
    "BusLink",
    "FleetCertificateDirectory",
    "RunningDuis",
    "load_users",
    "start_duis",
]

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


class FleetCertificateDirectory(CertificateDirectory):
    """The SMKI look-up's certificates for a fleet: the organisations' from the state
    folder's PKI, and each emulated device's own two certificates (DS, KA), issued by the
    state's device CA the first time a search names the device, so a fleet of any size
    costs nothing up front (retrieval follows a search, as the clients do it)."""

    def __init__(self, pki: Path, config: FleetConfig) -> None:
        super().__init__()
        for path in sorted(pki.glob("*.pem")):
            if path.name.startswith("ca-"):
                continue
            with contextlib.suppress(ValueError):
                self.add_certificate(x509.load_pem_x509_certificate(path.read_bytes()))
        self._config = config
        self._issuer = DeviceCertificates(pki)
        self._issued: set[bytes] = set()

    def search(self, query: SearchQuery) -> tuple[DirectoryCertificate, ...]:
        """As :meth:`CertificateDirectory.search`, a fleet device's certificates issued
        on first need."""
        if query.device and query.eui not in self._issued:
            self._issued.add(query.eui)
            self._issue(query.eui)
        return super().search(query)

    def _issue(self, eui: bytes) -> None:
        index = self._config.site_of_eui(eui)
        if index is None or self._config.seed is None:
            return
        site = self._config.site_config(index)
        if eui not in (site.eui(k) for k in site.devices):
            return
        own = derive_own_keys(self._config.seed, eui)
        for usage, key in ((KeyUsage.DS, own.ds), (KeyUsage.KA, own.ka)):
            der = self._issuer.certificate(eui, usage, key.public_key())
            if der is not None:
                self.add_certificate(x509.load_der_x509_certificate(der))


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
    smki: web.AppRunner | None = None
    smki_url: str | None = None

    async def stop(self) -> None:
        """Stop listening, end its tasks, close the bus and the ledger."""
        if self.smki is not None:
            await self.smki.cleanup()
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
    smki_port: int | None = 8083,
    verify: bool = True,
    response_timeout: float = RESPONSE_TIMEOUT,
    suspended_policy: str = "firmware-read",
) -> RunningDuis:
    """The DUIS service for the fleet served from ``state``, listening on
    ``host:port`` (0: any free port; :attr:`RunningDuis.url` says which), and the SMKI
    look-up on ``host:smki_port`` (None: not served). ``response_timeout``: how long a
    firmware activation may go unanswered before MP105 suspends its device;
    ``suspended_policy`` what such a device then takes
    (:data:`~emulator.duis.inventory.SUSPENDED_POLICIES`)."""
    resolve_seed(config, state)
    keys = FleetKeyStore(ensure_pki(state), config, range(config.sites))
    acb = config.parties.get(
        RemotePartyRole.ACCESS_CONTROL_BROKER,
        DEFAULT_ORGANISATION_EUIS[RemotePartyRole.ACCESS_CONTROL_BROKER],
    )
    ledger = RequestLedger(state / LEDGER_NAME)
    try:
        inventory = Inventory(config, statuses=ledger.statuses(), suspended_policy=suspended_policy)
        service = DuisService(
            users=users,
            inventory=inventory,
            ledger=ledger,
            keys=keys,
            dcc_counter=lambda: ledger.next_dcc_counter(datetime.now(UTC)),
            verify=verify,
            acb=acb,
        )
        link = BusLink(bus)
        await link.start()
        board = StatusBoard(inventory, read_site=store_reader(state), keys=keys, acb=acb)
        server = DuisServer(service, link, board=board, response_timeout=response_timeout)
        runner = web.AppRunner(server.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        smki = smki_url = None
        if smki_port is not None:
            directory = FleetCertificateDirectory(state / "pki", config)
            smki = web.AppRunner(smki_app(directory, apikey=users.apikey), access_log=None)
            await smki.setup()
            smki_site = web.TCPSite(smki, host, smki_port)
            try:
                await smki_site.start()
            except OSError:
                await smki.cleanup()
                await runner.cleanup()
                raise
            smki_url = f"http://{host}:{_port(smki_site)}"
    except BaseException:
        ledger.close()
        raise
    await asyncio.sleep(0)
    url = f"http://{host}:{_port(site)}"
    return RunningDuis(server, runner, link, ledger, url, smki, smki_url)


def _port(site: web.TCPSite) -> int:
    server = site._server
    assert server is not None and server.sockets  # type: ignore[attr-defined]
    return int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

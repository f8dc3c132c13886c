"""The head-end: send use cases to devices over a bus and read their verified answers.

:class:`HeadEnd` is the remote-party side of the emulator as a library. It builds a
command from typed arguments (:mod:`.usecases`), takes a durable originator counter
(:class:`~.identity.CounterStore`), protects it as DCC would (critical commands signed
with the originator's DS key, every command MAC'd by the ACB), publishes it on
``gbcs/<site>/<eui>/in`` and waits for the response whose grouping header echoes that
counter. The response must be device-signed (critical use cases) or carry a valid MAC
(the others); its encrypted parts are decrypted with the requester's KA key and its
payload decoded into named values (:class:`Reply`). Alerts from every device are
verified the same way and streamed (:meth:`HeadEnd.alerts`).

One background task reads the bus and hands each response to the request waiting on
(device EUI, originator EUI, counter) — counters are per originator, so two parties may
use the same value towards one device. Anything else (late answers, other parties'
traffic, frames that do not decode) is counted in :attr:`HeadEnd.stats` and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emulator.transport.base import Bus, BusMessage, Channel
from gbcs.codec import GbcsMessage, decode
from gbcs.crypto.ecdsa import SignatureVariant
from gbcs.envelope import Cra, SignatureForm, eui_hex
from gbcs.errors import GbcsDecodeError, GbcsError, GbcsSecurityError
from gbcs.security import (
    DEFAULT_ACB,
    Check,
    Verdict,
    check_mac,
    check_signature,
    decode_plaintext,
    decrypt_parts,
)
from gbcs.usecases import DeviceType, lookup
from keys.roles import RemotePartyRole
from keys.store import EuiLike, KeyStore

from .commands import CommandBuilder
from .identity import (
    CounterStore,
    HeadEndError,
    IdentityError,
    RemoteParty,
    parse_eui,
    parse_parties,
    parse_role,
)
from .usecases import BuildContext, CatalogEntry, ResponseView, UseCaseError
from .usecases import get as get_use_case

__all__ = [
    "AlertEvent",
    "AlertStream",
    "HeadEnd",
    "HeadEndError",
    "Reply",
    "RequestError",
    "RequestTimeout",
    "ResponseError",
    "alert_code_of",
]

log = logging.getLogger("emulator.headend")

_FORBIDDEN_IN_SITE = frozenset("/+#")


class RequestError(HeadEndError, ValueError):
    """A request that cannot be sent as given (bad site name, EUI or frame; not started)."""


class RequestTimeout(HeadEndError, TimeoutError):
    """No response echoing the command's counter arrived in time."""


class ResponseError(HeadEndError):
    """A response was refused or could not be read.

    ``verdict`` names why: a MAC/signature verdict (``"invalid"``, ``"no key"``,
    ``"null"``, ``"absent"``), ``"undecryptable"`` or ``"undecodable"``.
    """

    def __init__(self, message: str, *, verdict: str, response: GbcsMessage | None = None):
        super().__init__(message)
        self.verdict = verdict
        self.response = response


@dataclass(frozen=True, slots=True)
class Reply:
    """A verified response: the use case, the counter it echoed, the decoded message,
    its named values (see :mod:`.usecases`) and what was verified (``"signature"`` for
    a device-signed response, ``"mac"`` for a MAC'd one)."""

    use_case: str
    counter: int
    message: GbcsMessage
    values: dict[str, Any]
    verified: str


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """An alert from a device: where it came from, its alert code (None if the payload
    carries none), message code, the decoded message and what was verified
    (``"signature"``/``"mac"``; for unverified alerts, the failed check and verdict,
    e.g. ``"mac invalid: MAC does not match"``)."""

    site: str
    eui: bytes
    alert_code: int | None
    message_code: int
    message: GbcsMessage
    verified: str

    @property
    def is_verified(self) -> bool:
        return self.verified in ("signature", "mac")


def alert_code_of(msg: GbcsMessage) -> int | None:
    """The alert code an alert payload carries (DLMS, GBZ or ASN.1), if any."""
    p = msg.payload
    code = getattr(p, "alert_code", None)  # DLMS data-notification
    if isinstance(code, int):
        return code
    header = getattr(p, "alert", None)  # GBZ alert header
    code = getattr(header, "alert_code", None)
    if isinstance(code, int):
        return code
    typed = getattr(p, "typed", None)  # ASN.1 typed alerts (CS06 0x00CA ...)
    code = getattr(typed, "alert_code", None)
    return code if isinstance(code, int) else None


def _verify(msg: GbcsMessage, store: KeyStore, acb: bytes, *, signed: bool) -> tuple[str, Check]:
    """(what was checked, its verdict): the signature of a signed message, else the MAC."""
    if signed:
        return "signature", check_signature(msg, store)
    return "mac", check_mac(msg, store, acb)


def _describe(what: str, check: Check) -> str:
    detail = f": {check.detail}" if check.detail else ""
    return f"{what} {check.verdict.value}{detail}"


def _site_name(site: str) -> str:
    if not isinstance(site, str) or not site or _FORBIDDEN_IN_SITE & set(site):
        raise RequestError(f"site {site!r} must be a non-empty name without '/', '+' or '#'")
    return site


def _target(eui: EuiLike) -> bytes:
    try:
        return parse_eui(eui, "target EUI")
    except IdentityError as e:
        raise RequestError(str(e)) from None


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[GbcsMessage]
    originator: bytes
    message_code: int


class AlertStream:
    """Alerts as they arrive, from the moment the stream was made (``async for``).

    Ends when :meth:`close` is called or the head-end closes. Holds at most ``maxsize``
    alerts not yet read; when full, new alerts are dropped and counted in the head-end's
    ``stats["alerts_dropped"]``.
    """

    def __init__(self, headend: HeadEnd, *, include_unverified: bool, maxsize: int) -> None:
        self._headend = headend
        self.include_unverified = include_unverified
        self._queue: asyncio.Queue[AlertEvent | None] = asyncio.Queue(maxsize=maxsize + 1)
        self._maxsize = maxsize
        self._closed = False

    def _offer(self, event: AlertEvent) -> None:
        if self._closed or (not event.is_verified and not self.include_unverified):
            return
        if self._queue.qsize() >= self._maxsize:
            self._headend.stats["alerts_dropped"] += 1
            return
        self._queue.put_nowait(event)

    def close(self) -> None:
        """Stop receiving; iteration ends after the alerts already queued."""
        if not self._closed:
            self._closed = True
            self._headend._streams.discard(self)
            self._queue.put_nowait(None)

    def __aiter__(self) -> AlertStream:
        return self

    async def __anext__(self) -> AlertEvent:
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # later calls end too
            raise StopAsyncIteration
        return item

    async def next(self, timeout: float | None = None) -> AlertEvent:
        """The next alert (``TimeoutError`` after ``timeout`` seconds; ``StopAsyncIteration``
        once closed)."""
        return await asyncio.wait_for(self.__anext__(), timeout)

    async def __aenter__(self) -> AlertStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class HeadEnd:
    """A remote party (or several) on a :class:`~emulator.transport.base.Bus`.

    ``parties`` maps roles (``RemotePartyRole`` or friendly names such as
    ``"supplier"``, ``"network-operator"``, ``"acb"``) to the EUIs the head-end acts as;
    ``store`` holds their private keys, the ACB's KA private key and the devices' public
    keys or certificates. ``clock`` gives the head-end's time (ECS70 windows, CS06 ...);
    ``sites`` narrows the subscriptions to those sites (default: every site).
    The head-end owns ``bus``: :meth:`start` starts it, :meth:`close` closes it.
    """

    def __init__(
        self,
        bus: Bus,
        store: KeyStore,
        *,
        parties: Mapping[Any, EuiLike],
        counters: CounterStore,
        variant: SignatureVariant = SignatureVariant.CNSA,
        clock: Callable[[], datetime] | None = None,
        sites: Iterable[str] | None = None,
        alert_buffer: int = 10_000,
    ) -> None:
        self.bus = bus
        self.store = store
        self.parties: dict[RemotePartyRole, bytes] = parse_parties(parties)
        self.counters = counters
        self.variant = SignatureVariant(variant)
        self.acb = self.parties.get(RemotePartyRole.ACCESS_CONTROL_BROKER, DEFAULT_ACB)
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.sites = None if sites is None else tuple(_site_name(s) for s in sites)
        self.alert_buffer = alert_buffer
        #: Counts of what the head-end did and ignored: sent, sent_raw, replies, refused,
        #: timeouts, unmatched (responses nobody waits for), undecodable, ignored,
        #: alerts, alerts_unverified, alerts_dropped, dispatch_errors.
        self.stats: Counter[str] = Counter()
        self._pending: dict[tuple[bytes, bytes, int], _Pending] = {}
        self._streams: set[AlertStream] = set()
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._closed = False

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start the bus, subscribe to responses and alerts, start dispatching
        (idempotent)."""
        if self._closed:
            raise RequestError("this head-end was closed; make a new one")
        if self._started:
            return
        await self.bus.start()
        for site in self.sites or ("+",):
            await self.bus.subscribe(f"gbcs/{site}/+/{Channel.OUT.value}")
            await self.bus.subscribe(f"gbcs/{site}/+/{Channel.ALERT.value}")
        self._task = asyncio.get_running_loop().create_task(
            self._dispatch(), name="headend-dispatch"
        )
        self._started = True

    async def close(self) -> None:
        """Close the bus, fail the requests still waiting and end the alert streams."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            await self.bus.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5.0)
            except (TimeoutError, asyncio.CancelledError, Exception):
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
        self._fail_pending("the head-end closed before the response arrived")
        for s in list(self._streams):
            s.close()

    async def __aenter__(self) -> HeadEnd:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _fail_pending(self, why: str) -> None:
        for p in list(self._pending.values()):
            if not p.future.done():
                p.future.set_exception(HeadEndError(why))

    # ------------------------------------------------------------------ requests

    def party(self, role: str | int | RemotePartyRole) -> RemoteParty:
        """The identity used for ``role``; :class:`IdentityError` when none is configured."""
        r = parse_role(role)
        eui = self.parties.get(r)
        if eui is None:
            have = ", ".join(str(RemoteParty(k, v)) for k, v in self.parties.items()) or "none"
            raise IdentityError(f"no EUI configured for the {r.cli_name} role (have: {have})")
        return RemoteParty(r, eui)

    async def request(
        self,
        site: str,
        target_eui: EuiLike,
        use_case: str,
        *,
        as_role: str | int | RemotePartyRole | None = None,
        timeout: float = 30.0,
        target_type: DeviceType | str | None = None,
        **args: Any,
    ) -> Reply:
        """Send ``use_case`` to ``target_eui`` at ``site`` and return its verified reply.

        ``as_role`` defaults to the use case's usual sender (for ``target_type``, the
        target's device type, when given: e.g. the ACB for a CHF). ``args`` are the use
        case's arguments (typed or text). A device that answers with DLMS/ZCL errors
        still gives a :class:`Reply` (``values["ok"]`` false). A GSME answers at its next
        wake-up, so give a timeout that covers it.

        Raises :class:`UseCaseError` (unknown use case, bad arguments),
        :class:`IdentityError` (no such party or missing keys), :class:`RequestError`,
        :class:`RequestTimeout`, :class:`ResponseError` (refused or unreadable response)
        and :class:`~emulator.transport.base.BusError` (the bus could not take it).
        """
        entry = get_use_case(use_case)
        site = _site_name(site)
        target = _target(target_eui)
        if not self._started or self._closed:
            raise RequestError("the head-end is not running: use start() or 'async with'")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise RequestError(f"timeout must be a positive number of seconds, not {timeout!r}")
        parsed = entry.parse_args(args)
        role = parse_role(as_role) if as_role is not None else entry.role_for(target_type)
        me = self.party(role)
        me.require_keys(self.store, sign=entry.critical)
        if self.store.private_key(self.acb, "ka") is None:
            raise IdentityError(
                f"the key store lacks the KA private key of the ACB {eui_hex(self.acb)} "
                "(every command is MAC'd with it)"
            )
        if self.store.public_key(target, "ka") is None:
            raise IdentityError(
                f"the key store has no KA public key (certificate) of the target "
                f"{eui_hex(target)}: commands to it cannot be MAC'd"
            )
        uc = lookup(entry.message_code)
        if uc is not None and uc.roles and int(role) not in uc.roles:
            log.warning("%s is not normally sent by the %s role", entry.name, role.cli_name)

        if entry.prefetch is not None and parsed.get(entry.prefetch.flag):
            pre = await self.request(
                site, target, entry.prefetch.use_case, as_role=role, timeout=timeout
            )
            try:
                parsed[entry.prefetch.into] = entry.convert_arg(
                    entry.prefetch.into, entry.prefetch.select(pre.values)
                )
            except (KeyError, TypeError, UseCaseError) as e:
                raise UseCaseError(
                    f"{entry.name}: could not use the {entry.prefetch.use_case} read-back "
                    f"({pre.values.get('errors') or e})"
                ) from None

        counter = self.counters.next(me.eui)
        ctx = BuildContext(counter, me.eui, target, role, self.clock())
        payload = entry.build_parsed(parsed, ctx)
        try:
            builder = CommandBuilder(self.store, self.acb, self.variant)
            frame = builder.command(
                me.eui,
                target,
                entry.message_code,
                payload,
                counter=counter,
                critical=entry.critical,
            )
        except GbcsSecurityError as e:
            raise IdentityError(f"cannot protect {entry.name}: {e}") from None
        except GbcsError as e:
            raise UseCaseError(f"cannot encode {entry.name}: {e}") from None

        # Counters are per originator: two parties may use the same value to one device.
        key = (target, me.eui, counter)
        future: asyncio.Future[GbcsMessage] = asyncio.get_running_loop().create_future()
        self._pending[key] = _Pending(future, me.eui, entry.message_code)
        try:
            await self.bus.publish(BusMessage(site, eui_hex(target), Channel.IN, frame))
            self.stats["sent"] += 1
            try:
                response = await asyncio.wait_for(future, timeout)
            except TimeoutError:
                self.stats["timeouts"] += 1
                raise RequestTimeout(
                    f"no response from {eui_hex(target)} at {site} to {entry.name} "
                    f"(counter {counter}) within {timeout:g} s"
                ) from None
        finally:
            self._pending.pop(key, None)
        return self._reply(entry, parsed, counter, response)

    def _reply(
        self, entry: CatalogEntry, parsed: Mapping[str, Any], counter: int, msg: GbcsMessage
    ) -> Reply:
        where = f"{entry.name} response from {eui_hex(msg.originator)} (counter {counter})"
        if msg.message_code != entry.message_code:
            self.stats["refused"] += 1
            raise ResponseError(
                f"{where} carries message code 0x{msg.message_code:04X}, "
                f"not 0x{entry.message_code:04X}",
                verdict="wrong message code",
                response=msg,
            )
        what, check = _verify(msg, self.store, self.acb, signed=entry.critical)
        if check.verdict is not Verdict.VALID:
            self.stats["refused"] += 1
            form = "device-signed" if entry.critical else "MAC'd"
            raise ResponseError(
                f"{where} refused: expected a {form} response, {_describe(what, check)}",
                verdict=check.verdict.value,
                response=msg,
            )
        plaintexts = []
        for part in decrypt_parts(msg, self.store):
            if part.plaintext is None:
                self.stats["refused"] += 1
                raise ResponseError(
                    f"{where}: an encrypted part could not be decrypted ({part.detail})",
                    verdict="undecryptable",
                    response=msg,
                )
            try:
                plaintexts.append(decode_plaintext(part))
            except GbcsError as e:
                self.stats["refused"] += 1
                raise ResponseError(
                    f"{where}: decrypted part does not decode: {e}",
                    verdict="undecodable",
                    response=msg,
                ) from None
        try:
            values = entry.values(ResponseView(msg, tuple(plaintexts), parsed))
        except UseCaseError as e:
            self.stats["refused"] += 1
            raise ResponseError(str(e), verdict="undecodable", response=msg) from None
        self.stats["replies"] += 1
        return Reply(entry.name, counter, msg, values, what)

    async def send_raw(self, site: str, eui: EuiLike, frame: bytes) -> None:
        """Publish a ready-made frame on ``gbcs/<site>/<eui>/in`` (no checks, no waiting)."""
        site = _site_name(site)
        target = _target(eui)
        if not isinstance(frame, bytes | bytearray | memoryview) or not frame:
            raise RequestError("frame must be non-empty bytes")
        if not self._started or self._closed:
            raise RequestError("the head-end is not running: use start() or 'async with'")
        await self.bus.publish(BusMessage(site, eui_hex(target), Channel.IN, bytes(frame)))
        self.stats["sent_raw"] += 1

    # -------------------------------------------------------------------- alerts

    def alerts(self, *, include_unverified: bool = False) -> AlertStream:
        """A stream of the alerts arriving from now on: only verified ones unless
        ``include_unverified`` (then :attr:`AlertEvent.verified` says what failed)."""
        stream = AlertStream(self, include_unverified=include_unverified, maxsize=self.alert_buffer)
        if self._closed:
            stream.close()
        else:
            self._streams.add(stream)
        return stream

    # ------------------------------------------------------------------ dispatch

    async def _dispatch(self) -> None:
        try:
            async for m in self.bus.messages():
                try:
                    self._on_message(m)
                except Exception:  # a bad message must never stop the dispatcher
                    self.stats["dispatch_errors"] += 1
                    log.exception("head-end: could not handle a message on %s", m.topic)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("head-end: the bus stopped delivering messages")
        finally:
            self._fail_pending("the bus closed before the response arrived")

    def _on_message(self, m: BusMessage) -> None:
        try:
            msg = decode(m.frame)
        except GbcsDecodeError as e:
            self.stats["undecodable"] += 1
            log.debug("head-end: undecodable frame on %s: %s", m.topic, e)
            return
        if msg.cra is Cra.RESPONSE:
            self._on_response(msg)
        elif msg.cra is Cra.ALERT:
            self._on_alert(m, msg)
        else:
            self.stats["ignored"] += 1

    def _on_response(self, msg: GbcsMessage) -> None:
        pending = self._pending.get((msg.originator, msg.recipient, msg.counter))
        if pending is None or pending.future.done():
            self.stats["unmatched"] += 1
            return
        pending.future.set_result(msg)

    def _on_alert(self, m: BusMessage, msg: GbcsMessage) -> None:
        signed = msg.signature_form is SignatureForm.PRESENT
        what, check = _verify(msg, self.store, self.acb, signed=signed)
        ok = check.verdict is Verdict.VALID
        event = AlertEvent(
            m.site,
            msg.originator,
            alert_code_of(msg),
            msg.message_code,
            msg,
            what if ok else _describe(what, check),
        )
        self.stats["alerts" if ok else "alerts_unverified"] += 1
        if not ok:
            log.info(
                "head-end: unverified alert 0x%04X from %s: %s",
                msg.message_code,
                eui_hex(msg.originator),
                event.verified,
            )
        for s in list(self._streams):
            s._offer(event)

"""Decoding a ZCL header and payload into the typed record its cluster, direction and
command id designate (or :class:`RawZclPayload`), and header/payload checks."""

from __future__ import annotations

from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.zcl.foundation import (
    _GENERAL,
    _GENERAL_CLASSES,
    _HDR_CACHE,
    RawZclPayload,
    ZclCommand,
    ZclHeader,
    decode_zcl_header,
)
from gbcs.zcl.names import _REGISTRY, CLUSTER_MODULES, load_all_clusters, load_cluster
from gbcs.zcl.records import _CLUSTER_DECODERS, _Record

ZclPayload = ZclCommand
"""Any decoded ZCL payload: a typed record or :class:`RawZclPayload`."""


def typed_commands() -> dict[tuple[int, bool, int], type[ZclCommand]]:
    """The cluster-specific commands decoded into typed records:
    ``(cluster, server_to_client, command id) -> record class``, in cluster id order
    and, within a cluster, in definition order (whichever cluster loaded first)."""
    load_all_clusters()
    rank = {module: i for i, module in enumerate(CLUSTER_MODULES.values())}
    # sorted() is stable: within one module the registration order stays.
    return dict(sorted(_REGISTRY.items(), key=lambda kv: rank.get(kv[1].__module__, len(rank))))


def general_commands() -> dict[int, type[ZclCommand]]:
    """The general (profile-wide) commands decoded into typed records."""
    return dict(_GENERAL_CLASSES)


def decode_zcl_slice(
    buf: bytes, pos: int, end: int, cluster: int, frame_control: int, command_id: int, path: str
) -> ZclCommand:
    """Decode ``buf[pos:end]`` as the payload of the given command, without copying the
    buffer; error offsets are absolute in ``buf``."""
    if frame_control & 0x07 == 0x01:
        key = (frame_control & 0x08) << 21 | cluster << 8 | command_id
        dec = _CLUSTER_DECODERS.get(key)
        if dec is None and load_cluster(cluster):
            dec = _CLUSTER_DECODERS.get(key)
    elif frame_control & 0x03 == 0:
        dec = _GENERAL.get(command_id)
    else:
        dec = None
    if dec is not None:
        return dec(buf, pos, end, path)  # type: ignore[no-any-return]
    return RawZclPayload(buf[pos:end])


def decode_zcl_command(
    buf: bytes, pos: int, end: int, cluster: int
) -> tuple[ZclHeader, ZclCommand]:
    """Decode a ZCL header and the payload that follows it up to ``end`` (the hot path
    of GBZ decoding). Error paths are relative: ``zcl.<field>`` or ``zcl_payload.<field>``;
    offsets are absolute in ``buf``."""
    if end - pos >= 3 and not buf[pos] & 0x04:
        key = buf[pos : pos + 3]
        hdr = _HDR_CACHE.get(key)
        if hdr is None:
            hdr = ZclHeader(key[0], key[1], key[2])
            if len(_HDR_CACHE) < 4096:
                _HDR_CACHE[key] = hdr
        pos += 3
    else:
        hdr, pos = decode_zcl_header(buf, pos, end, "zcl")
    fc = hdr.frame_control
    if fc & 0x07 == 0x01:
        key = (fc & 0x08) << 21 | cluster << 8 | hdr.command_id
        dec = _CLUSTER_DECODERS.get(key)
        if dec is None and load_cluster(cluster):
            dec = _CLUSTER_DECODERS.get(key)
    elif fc & 0x03 == 0:
        dec = _GENERAL.get(hdr.command_id)
    else:
        dec = None
    if dec is None:
        return hdr, RawZclPayload(buf[pos:end])
    return hdr, dec(buf, pos, end, "zcl_payload")


def decode_zcl_payload(
    cluster: int,
    frame_control: int,
    command_id: int,
    data: bytes,
    path: str = "zcl_payload",
    base_offset: int = 0,
) -> ZclPayload:
    """Decode a standalone ZCL payload (e.g. the plaintext of an encrypted component).

    ``base_offset`` is added to the offsets of any :class:`GbcsDecodeError` so errors
    point into the enclosing message.
    """
    data = bytes(data)
    try:
        return decode_zcl_slice(data, 0, len(data), cluster, frame_control, command_id, path)
    except GbcsDecodeError as e:
        if not base_offset:
            raise
        raise GbcsDecodeError(e.path, e.offset + base_offset, e.reason) from None


def check_zcl_header(header: ZclHeader, body: ZclCommand) -> None:
    """Raise :class:`GbcsEncodeError` when ``header`` cannot carry ``body``.

    A typed general record needs a general frame with its command id; a typed
    cluster-specific record needs a cluster-specific, non-manufacturer-specific frame in
    its direction with its command id. Raw payloads fit any header.
    """
    if isinstance(body, RawZclPayload):
        return
    if isinstance(body, _Record):
        if header.frame_control & 0x07 != 0x01:
            raise GbcsEncodeError(f"{body.NAME} needs a cluster-specific ZCL frame")
        if header.server_to_client != body.SERVER_TO_CLIENT:
            way = "server to client" if body.SERVER_TO_CLIENT else "client to server"
            raise GbcsEncodeError(f"{body.NAME} travels {way}")
    elif header.frame_type != 0:
        raise GbcsEncodeError(f"{body.NAME} needs a general ZCL frame")
    cid = getattr(body, "COMMAND_ID", None)
    if cid is not None and header.command_id != cid:
        raise GbcsEncodeError(
            f"{body.NAME} has command id 0x{cid:02X}, header says 0x{header.command_id:02X}"
        )

"""The SMKI look-up over HTTP (aiohttp): DCC Boxed's port-8083 certificate services.

:func:`smki_app` returns a :class:`aiohttp.web.Application` with

* ``POST /services/certificatesearch``
* ``POST /services/retrievecertificate``

answered by :mod:`emulator.duis.smki`. With an ``apikey`` configured, a request whose
``?apikey=`` query parameter differs gets 401. The open DCC Boxed clients send
:data:`DCC_BOXED_APIKEY`. The caller runs the application (on port 8083 to be where the
clients look), e.g. with :class:`aiohttp.web.AppRunner` and a ``TCPSite``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from emulator.duis.smki import (
    MAX_REQUEST_BYTES,
    CertificateDirectory,
    SmkiReply,
    handle_retrieve,
    handle_search,
    invalid,
)

__all__ = [
    "DCC_BOXED_APIKEY",
    "RETRIEVE_PATH",
    "SEARCH_PATH",
    "SMKI_DIRECTORY",
    "SMKI_PORT",
    "smki_app",
]

#: Port DCC Boxed serves the SMKI services on (the clients hard-code it).
SMKI_PORT = 8083
SEARCH_PATH = "/services/certificatesearch"
RETRIEVE_PATH = "/services/retrievecertificate"
#: The fixed test API key the open client dccboxed-keystore sends with every look-up.
DCC_BOXED_APIKEY = "u3bg9gt38htd0j2"

#: The directory an application serves.
SMKI_DIRECTORY = web.AppKey("smki_directory", CertificateDirectory)

_Handler = Callable[[CertificateDirectory, bytes], SmkiReply]
_CHUNK = 4096


def _response(reply: SmkiReply) -> web.Response:
    return web.Response(
        status=reply.status, body=reply.body, content_type=reply.content_type, charset="utf-8"
    )


def _apikey_ok(request: web.Request, apikey: str | None) -> bool:
    if apikey is None:
        return True
    given = request.query.get("apikey")
    return given is not None and hmac.compare_digest(given.encode(), apikey.encode())


async def _read_limited(request: web.Request) -> bytes | None:
    """The request body, or None when it is larger than :data:`MAX_REQUEST_BYTES`."""
    length = request.content_length
    if length is not None and length > MAX_REQUEST_BYTES:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(_CHUNK):
        body.extend(chunk)
        if len(body) > MAX_REQUEST_BYTES:
            return None
    return bytes(body)


def _endpoint(
    directory: CertificateDirectory, apikey: str | None, handle: _Handler
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def endpoint(request: web.Request) -> web.Response:
        if not _apikey_ok(request, apikey):
            return _response(invalid("missing or wrong apikey"))
        body = await _read_limited(request)
        if body is None:
            return _response(invalid(f"request body exceeds {MAX_REQUEST_BYTES} bytes"))
        return _response(handle(directory, body))

    return endpoint


def smki_app(directory: CertificateDirectory, *, apikey: str | None) -> web.Application:
    """An application serving ``directory`` on the two SMKI paths.

    ``apikey`` None accepts every request; otherwise ``?apikey=`` must equal it.
    """
    app = web.Application()
    app[SMKI_DIRECTORY] = directory
    app.router.add_post(SEARCH_PATH, _endpoint(directory, apikey, handle_search))
    app.router.add_post(RETRIEVE_PATH, _endpoint(directory, apikey, handle_retrieve))
    return app

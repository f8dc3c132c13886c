"""How a command reaches a broker: its URL, credentials and TLS files, validated up front.

Secrets never travel on a command line (``ps`` shows it to every user), in ``run.json``
or on the console: the password comes from the ``GBCS_BROKER_PASSWORD`` environment
variable or from a file named with ``--broker-password-file``, and a URL that carries a
password is refused. Worker processes get it through their environment, which only their
owner can read.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from .mqtt import MqttBus, parse_broker_urls

__all__ = [
    "PASSWORD_ENV",
    "BrokerAccess",
    "broker_access_options",
    "from_cli",
    "optional_from_cli",
]

PASSWORD_ENV = "GBCS_BROKER_PASSWORD"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class BrokerAccess:
    """A broker URL, or several separated by commas (never with a password), plus what is
    needed to log in and verify them."""

    url: str
    password: str | None = None
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context for ``mqtts://`` (CA file, client certificate), else None."""
        if not any(a.tls for a in parse_broker_urls(self.url)):
            return None
        ctx = ssl.create_default_context(cafile=self.cafile)
        if self.certfile:
            ctx.load_cert_chain(self.certfile, self.keyfile)
        return ctx

    def bus(self, **kwargs: Any) -> MqttBus:
        """An :class:`MqttBus` to this broker."""
        return MqttBus(self.url, password=self.password, tls_context=self.tls_context(), **kwargs)

    def public(self) -> dict[str, str | None]:
        """What may be written down (``run.json``, worker options): no password."""
        return {
            "broker": self.url,
            "cafile": self.cafile,
            "certfile": self.certfile,
            "keyfile": self.keyfile,
        }

    def child_env(self) -> dict[str, str]:
        """The environment for a child process that connects with this access."""
        env = dict(os.environ)
        if self.password is not None:
            env[PASSWORD_ENV] = self.password
        return env


def _readable(path: str | None, what: str) -> str | None:
    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        raise click.BadParameter(f"{path}: no such file", param_hint=what)
    if not os.access(p, os.R_OK):
        raise click.BadParameter(f"{path}: not readable (permission denied)", param_hint=what)
    return str(p)


def from_cli(
    url: str,
    *,
    password_file: str | None = None,
    cafile: str | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    param_hint: str = "--broker",
) -> BrokerAccess:
    """Validate a command's broker options (click errors name the option); ``url`` may
    list several brokers (nodes of one cluster) separated by commas."""
    try:
        addresses = parse_broker_urls(url)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=param_hint) from None
    if any(a.password is not None for a in addresses):
        raise click.BadParameter(
            f"the URL carries a password, which would show in 'ps' and logs; give only "
            f"the user in the URL and the password in ${PASSWORD_ENV} or "
            "--broker-password-file",
            param_hint=param_hint,
        )
    password = os.environ.get(PASSWORD_ENV)
    if password_file is not None:
        pf = _readable(password_file, "--broker-password-file")
        assert pf is not None
        password = Path(pf).read_text().rstrip("\r\n")
    cafile = _readable(cafile, "--cafile")
    certfile = _readable(certfile, "--certfile")
    keyfile = _readable(keyfile, "--keyfile")
    if keyfile and not certfile:
        raise click.BadParameter("--keyfile needs --certfile", param_hint="--keyfile")
    if (cafile or certfile) and not any(a.tls for a in addresses):
        raise click.BadParameter(
            "--cafile/--certfile apply to TLS: use an mqtts:// URL", param_hint=param_hint
        )
    access = BrokerAccess(",".join(map(str, addresses)), password, cafile, certfile, keyfile)
    try:
        access.tls_context()
    except (ssl.SSLError, OSError) as e:
        raise click.BadParameter(f"TLS files: {e}", param_hint="--cafile/--certfile") from None
    return access


def optional_from_cli(
    url: str | None,
    *,
    password_file: str | None = None,
    cafile: str | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> BrokerAccess | None:
    """:func:`from_cli` when ``--broker`` is given (None otherwise, for a command that can
    start its own broker); credentials or TLS files without ``--broker`` are refused."""
    if url is not None:
        return from_cli(
            url, password_file=password_file, cafile=cafile, certfile=certfile, keyfile=keyfile
        )
    if password_file or cafile or certfile or keyfile:
        raise click.BadParameter("broker credentials and TLS files need --broker")
    return None


def broker_access_options(f: F) -> F:
    """Add ``--broker-password-file``, ``--cafile``, ``--certfile``, ``--keyfile``."""
    f = click.option("--keyfile", type=str, help="Client private key for TLS (with --certfile).")(f)
    f = click.option("--certfile", type=str, help="Client certificate for TLS to the broker.")(f)
    f = click.option("--cafile", type=str, help="CA certificates to verify the broker (TLS).")(f)
    f = click.option(
        "--broker-password-file",
        type=str,
        help=f"File holding the broker password (or set ${PASSWORD_ENV}); never in the URL.",
    )(f)
    return f

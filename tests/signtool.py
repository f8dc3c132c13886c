"""A small harness around the DCC Boxed signing tool, run as an external program.

The tool (SmartDCCInnovation/dccboxed-signing-tool) is the jar the npm package
``@smartdcc/duis-sign-wrap`` bundles. ``scripts/install-signing-tool.sh`` installs a pinned,
checksummed copy into a cache directory outside the repository (``$GBCS_TOOLS_DIR`` or
``~/.cache/gbcs-emulator``); nothing of it is shipped. It is run as the package's own
wrapper (``dist/tool.js``) runs it::

    java -cp tool.jar uk.co.smartdcc.boxed.xmldsig.Sign - [--preserveCounter]
    java -cp tool.jar uk.co.smartdcc.boxed.xmldsig.Validate -

with the document on stdin. ``Sign`` picks the key of the ``RequestID`` originator and
writes the signed document to stdout; ``Validate`` checks the DUIS XSD (5.1, bundled) and
the signature against the certificate with the signature's serial, then writes the
document without its signature. Both use only the public test keys bundled in the jar.

Opt-in: the tests using it skip unless ``-m duis_signing_tool`` selects them or
``GBCS_DUIS_SIGNING_TOOL=1`` is set; only the latter lets the harness install the tool
with npm (network). With ``GBCS_REQUIRE_DUIS_SIGNING_TOOL=1`` (CI after installing it) a
missing tool fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import pytest

from tests.optin import OptIn, Unavailable, run_install_script

ROOT = Path(__file__).resolve().parent.parent
INSTALL_SCRIPT = ROOT / "scripts" / "install-signing-tool.sh"

MARKER = "duis_signing_tool"
ENV_OPT_IN = "GBCS_DUIS_SIGNING_TOOL"
ENV_REQUIRE = "GBCS_REQUIRE_DUIS_SIGNING_TOOL"

MAIN_PACKAGE = "uk.co.smartdcc.boxed.xmldsig"
#: Seconds one tool run may take (a run takes about one second, mostly JVM start-up).
TIMEOUT = 60.0
#: Seconds the install script may take (its npm install has a 300 s limit of its own).
INSTALL_TIMEOUT = 330.0
# JVM start-up flags only (they halve the start time); what the tool computes is unchanged.
JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


class ExitCode(IntEnum):
    """The tool's exit codes, as the wrapper's ``tool.js`` names them."""

    OK = 0
    ENVIRONMENT_ERROR = 1
    APPLICATION_ERROR = 2
    MISSING_CREDENTIALS = 3
    VALIDATION_FAILED = 10


# Everything the pinned tool (0.1.2) prints on stderr for the documents the tests give it.
_KNOWN_LINES = tuple(
    re.compile(p)
    for p in (
        r"\[I\] passed xsd validation",
        r"\[I\] failed xsd validation",
        # The XML parser's schema errors, one per line, before "failed xsd validation".
        r"\[(?:Warning|Error|Fatal Error)\] .*",
        r"\[I\] certificate serial number: \d+",
        r"\[I\] passed signature check",
        r"\[I\] failed signature check",
        r"\[W\] cert file not provided, looking up serial number",
        r"\[W\] cert file not provided, looking up from request id",
        r"\[W\] private key file not provided, looking up from request id",
        r"\[W\] already signed, dropping signature",
        r"\[E\] could not locate certificate for: \d+",
        # The JVM's own notice when JAVA_TOOL_OPTIONS or _JAVA_OPTIONS is set.
        r"Picked up \S*JAVA\S*OPTIONS: .*",
    )
)


class ToolUnavailable(Unavailable):
    """The tool cannot be used here; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class ToolRun:
    """One run of the tool: how it exited, what it wrote, how long it took."""

    mode: str
    exit_code: int
    stdout: bytes
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        """True when the tool exited 0 (signed, or validated)."""
        return self.exit_code == ExitCode.OK

    def messages(self) -> list[str]:
        """The tool's stderr lines (``[I] ...``, ``[W] ...``, ``[E] ...``)."""
        return [line.strip() for line in self.stderr.splitlines() if line.strip()]

    def unexpected(self) -> list[str]:
        """Stderr lines the pinned tool is not known to print (a stack trace, a new text)."""
        return [m for m in self.messages() if not any(k.fullmatch(m) for k in _KNOWN_LINES)]

    def describe(self) -> str:
        """One line for an assertion message: mode, exit code and meaning, stderr."""
        try:
            meaning = ExitCode(self.exit_code).name.lower().replace("_", " ")
        except ValueError:
            meaning = "unknown exit code"
        said = " | ".join(self.messages()) or "nothing on stderr"
        return f"{self.mode}: exit {self.exit_code} ({meaning}) in {self.seconds:.1f}s: {said}"


@dataclass(frozen=True, slots=True)
class SigningTool:
    """The signing tool's jar and the Java runtime that runs it."""

    java: str
    jar: Path

    def sign(self, xml: bytes, *, preserve_counter: bool = True) -> ToolRun:
        """Sign ``xml`` with the key of its originator; ``preserve_counter`` keeps the
        ``RequestID`` counter (otherwise the tool writes the current time in ms)."""
        return self._run("Sign", xml, ("--preserveCounter",) if preserve_counter else ())

    def validate(self, xml: bytes) -> ToolRun:
        """Check the schema and the signature of ``xml`` (exit 0 only when both pass)."""
        return self._run("Validate", xml, ())

    def _run(self, mode: str, xml: bytes, extra: tuple[str, ...]) -> ToolRun:
        args = [self.java, *JVM_FLAGS, "-cp", str(self.jar), f"{MAIN_PACKAGE}.{mode}", "-"]
        start = time.monotonic()
        try:
            done = subprocess.run(
                [*args, *extra], input=xml, capture_output=True, timeout=TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"signing tool {mode} did not finish within {TIMEOUT:.0f}s")
        return ToolRun(
            mode=mode,
            exit_code=done.returncode,
            stdout=done.stdout,
            stderr=done.stderr.decode("utf-8", "replace"),
            seconds=time.monotonic() - start,
        )


OPT_IN = OptIn(
    MARKER,
    ENV_OPT_IN,
    ENV_REQUIRE,
    "runs the DCC Boxed signing tool; needs Java 11+ and npm's @smartdcc/duis-sign-wrap",
)


def locate(*, allow_install: bool) -> SigningTool:
    """Find (or, with ``allow_install``, install) the tool through the install script.

    Raises :class:`~tests.optin.Unavailable` with the reason when it cannot be used.
    """
    jar = Path(
        run_install_script(INSTALL_SCRIPT, allow_install=allow_install, timeout=INSTALL_TIMEOUT)
    )
    java = os.environ.get("JAVA") or shutil.which("java")
    if java is None or not jar.is_file():
        raise ToolUnavailable(f"no java, or no jar at {jar}")
    return SigningTool(java=java, jar=jar)


def require_tool(config: pytest.Config) -> SigningTool:
    """The tool; skips unless opted in, and skips (or fails when required) without it."""
    return OPT_IN.require(config, locate, "DCC Boxed signing tool")

"""Opt-in tests that run an external program (the DCC Boxed signing tool, the open DCC
Boxed client, headless Chromium): one rule for all of them.

A test of the kind skips unless the run asks for it: ``-m <marker>`` (not after ``not``),
or ``<ENV_OPT_IN>=1`` (which may also install the program), or ``<ENV_REQUIRE>=1`` (CI,
after installing it: a missing program then fails the test instead of skipping it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

T = TypeVar("T")


class Unavailable(Exception):
    """The external program cannot be used; the message says why, in one line."""


def _env(name: str) -> bool:
    return os.environ.get(name) == "1"


@dataclass(frozen=True, slots=True)
class OptIn:
    """The opt-in rule of one kind of test (see the module notes)."""

    marker: str
    env_opt_in: str
    env_require: str
    #: What the tests run, for the skip message ("runs ...; needs ...").
    runs: str

    def marker_selected(self, markexpr: str) -> bool:
        """Whether a ``-m`` expression names the marker other than right after ``not``."""
        tokens = re.findall(r"\w+|[()]", markexpr)
        return any(
            t == self.marker and (i == 0 or tokens[i - 1] != "not") for i, t in enumerate(tokens)
        )

    def opted_in(self, config: pytest.Config) -> bool:
        """Whether this run asked for the tests (marker, or an env var)."""
        markexpr = str(config.getoption("markexpr", default="") or "")
        return _env(self.env_opt_in) or self.required or self.marker_selected(markexpr)

    @property
    def required(self) -> bool:
        """A missing program fails the tests (``<ENV_REQUIRE>=1``)."""
        return _env(self.env_require)

    @property
    def may_install(self) -> bool:
        """The tests may install the program (``<ENV_OPT_IN>=1``: network)."""
        return _env(self.env_opt_in)

    def skip_unless_opted_in(self, config: pytest.Config) -> None:
        """Skip, saying how to opt in, unless the run asked for the tests."""
        if not self.opted_in(config):
            pytest.skip(f"opt-in: select -m {self.marker} or set {self.env_opt_in}=1 ({self.runs})")

    def unavailable(self, message: str) -> NoReturn:
        """Skip with ``message``, or fail when the program is required."""
        if self.required:
            pytest.fail(f"{message} ({self.env_require}=1)")
        pytest.skip(message)

    def require(self, config: pytest.Config, locate: Callable[..., T], what: str) -> T:
        """What ``locate(allow_install=...)`` finds (it may install when the run allows
        it); skips unless opted in, and skips, or fails when required, with ``what`` and
        the reason when ``locate`` raises :class:`Unavailable`."""
        self.skip_unless_opted_in(config)
        try:
            return locate(allow_install=self.may_install)
        except Unavailable as e:
            msg = f"{what} unavailable: {e}"
        # Outside the except block: the report shows the reason, not a chained traceback.
        self.unavailable(msg)


def run_install_script(script: Path, *, allow_install: bool, timeout: float) -> str:
    """Run an install script (``--offline`` unless ``allow_install``); the last line it
    printed on stdout (where it put the program). Raises :class:`Unavailable` with the
    script's own reason when it fails."""
    bash = shutil.which("bash")
    if bash is None:
        raise Unavailable(f"no bash to run {script.relative_to(script.parents[1])}")
    args = [bash, str(script)] + ([] if allow_install else ["--offline"])
    name = f"scripts/{script.name}"
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{name} did not finish within {timeout:.0f}s") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit {done.returncode}"]
        raise Unavailable(lines[-1].removeprefix(f"{script.stem}: "))
    printed = done.stdout.strip().splitlines()
    if not printed:
        raise Unavailable(f"{name} printed nothing")
    return printed[-1]

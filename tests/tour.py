"""Helpers for the README tour test (``tests/test_readme_tour.py``).

* :func:`sh_commands` pulls the shell commands out of a Markdown file's ``sh`` blocks:
  backslash continuations joined, comments dropped, one :class:`ShCommand` per command.
* :class:`Rule` is one row of the tour's table: which README commands it covers (a
  regular expression over the whitespace-normalised command) and how they are handled.
* :class:`Background` runs a long-running command in its own process group and stops it
  the way a terminal's Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

__all__ = [
    "TOUR_PROGRAMS",
    "Background",
    "Outcome",
    "Rule",
    "ShCommand",
    "help_commands",
    "is_tour_command",
    "normalise",
    "option_value",
    "sh_commands",
    "strip_comment",
]

SH_FENCES = ("```sh", "```bash", "```shell", "```console")
# The programs whose README commands the tour must run (or skip for a recorded reason);
# any other line (pip, apt, cd, ./scripts/...) is not part of the CLI tour.
TOUR_PROGRAMS = ("gbcs-emu", "tshark")


@dataclass(frozen=True, slots=True)
class ShCommand:
    """One command of a README ``sh`` block."""

    section: str  # the nearest heading above the block
    block: int  # README line of the block's opening fence (the same for its commands)
    line: int  # README line (1-based) where the command starts
    text: str  # continuations joined, comment removed, whitespace normalised


def strip_comment(line: str) -> str:
    """``line`` without a shell comment (``#`` at a word start, outside quotes)."""
    quote = ""
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def normalise(text: str) -> str:
    """Runs of whitespace as one space, no leading or trailing space."""
    return " ".join(text.split())


def sh_commands(markdown: str) -> list[ShCommand]:
    """Every command of the ``sh`` blocks of ``markdown``, in document order."""
    commands: list[ShCommand] = []
    section = ""
    in_block = False
    pending = ""
    start = 0
    block = 0
    for number, raw in enumerate(markdown.splitlines(), start=1):
        stripped = raw.strip()
        if not in_block:
            if stripped.startswith("#"):
                section = stripped.lstrip("#").strip()
            elif stripped.startswith("```") and stripped.lower() in SH_FENCES:
                in_block = True
                block = number
            continue
        if stripped.startswith("```"):
            in_block = False
            if pending.strip():
                commands.append(ShCommand(section, block, start, normalise(pending)))
            pending = ""
            continue
        if not pending:
            start = number
        # a comment ends the line, so a trailing backslash inside it continues nothing
        code = strip_comment(raw) if not raw.rstrip().endswith("\\") else raw.rstrip()
        if code.endswith("\\"):
            pending += code[:-1] + " "
            continue
        pending += code
        if pending.strip():
            commands.append(ShCommand(section, block, start, normalise(pending)))
        pending = ""
    return commands


def _programs(text: str) -> list[str]:
    """The program of each stage of a pipeline or command list (env assignments skipped)."""
    programs = []
    for stage in re.split(r"\|\||&&|[|;&]", text):
        try:
            words = shlex.split(stage)
        except ValueError:
            words = stage.split()
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            words.pop(0)
        if words:
            programs.append(words[0])
    return programs


def is_tour_command(text: str) -> bool:
    """True when a stage of the command runs ``gbcs-emu``, ``tshark`` or a ``.venv`` tool."""
    return any(p in TOUR_PROGRAMS or p.startswith((".venv/", "./.venv/")) for p in _programs(text))


def option_value(text: str, option: str, default: str | None = None) -> str | None:
    """The value of ``option`` (``--state X`` or ``--state=X``) in a command line."""
    words = shlex.split(text)
    for i, w in enumerate(words):
        if w == option and i + 1 < len(words):
            return words[i + 1]
        if w.startswith(option + "="):
            return w.split("=", 1)[1]
    return default


def help_commands(help_text: str) -> list[str]:
    """The command names of a click ``--help`` page's ``Commands:`` section."""
    names: list[str] = []
    in_commands = False
    for line in help_text.splitlines():
        if line.strip() == "Commands:":
            in_commands = True
            continue
        if in_commands:
            if line and not line.startswith(" "):
                break
            m = re.match(r"\s{2}(\S+)", line)
            if m and not line.startswith("    "):
                names.append(m.group(1))
    return names


Handling = Literal["run", "background", "skip"]


@dataclass(frozen=True, slots=True)
class Rule:
    """How the tour handles the README commands matching ``pattern``.

    Attributes:
        pattern: regular expression that must match the whole (normalised) README command.
        how: ``run`` (foreground, must exit ``exit_code``), ``background`` (long-running:
            started, waited for with ``ready``, probed, stopped with SIGINT like Ctrl-C,
            then it must exit 0) or ``skip`` (never run; ``why`` says why).
        why: what the row does differently from the README, and why.
        subs: ``(regex, replacement)`` pairs applied to this command after the global
            ones; replacements may name the tour's values (``{metrics_port}``...).
        needs: ``tshark``, ``interop`` or ``duis`` (comma-separated): skipped, with the
            reason, when absent.
        prepare: name of a tour method run before the command (makes its input files).
        ready: ``run`` (the emulator printed that it serves), ``hil-serve`` (the state's
            ``hil-ready`` file) or ``""`` (none: the probe retries).
        probe: name of a tour method run while a background command is up.
        until: when a background command is stopped: ``ready`` (once probed) or
            ``block`` (at the end of its README code block).
        optional: regular expressions of options the README may add or leave out (each is
            removed once from the command before ``pattern`` is matched).
        expect: fragments that must appear in the (whitespace-normalised) output.
        absent: fragments that must not appear in it.
        files: paths (relative to the working directory) the command must leave behind.
        exit_code: the documented exit status.
    """

    pattern: str
    how: Handling = "run"
    optional: tuple[str, ...] = ()
    why: str = ""
    subs: tuple[tuple[str, str], ...] = ()
    needs: str = ""
    prepare: str = ""
    ready: str = ""
    probe: str = ""
    until: Literal["ready", "block"] = "ready"
    expect: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    exit_code: int = 0

    def matches(self, command: str) -> bool:
        """True when ``pattern`` matches the whole normalised ``command``."""
        text = normalise(command)
        for option in self.optional:
            text = re.sub(option, "", text, count=1)
        return re.fullmatch(self.pattern, text) is not None


@dataclass(slots=True)
class Outcome:
    """What happened to one README command."""

    command: ShCommand
    status: Literal["ok", "skipped", "failed"] = "ok"
    executed: str = ""
    detail: str = ""
    output: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        """``ok      README:123  gbcs-emu ...  (detail)`` for the summary."""
        took = f"{self.seconds:5.1f}s" if self.seconds else " " * 6
        text = f"{self.status:<8}{took} README:{self.command.line:<4} {self.command.text}"
        extra = [f"-> {self.detail}"] if self.detail else []
        extra += [f"   ({n})" for n in self.notes if self.status != "skipped"]
        return "\n".join([text, *(f"{'':>24}{e}" for e in extra)])


class Background:
    """A long-running shell command in its own process group, output to ``log``."""

    def __init__(self, command: str, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.command = command
        self.log = log
        self._out: IO[bytes] = log.open("wb")
        # `exec`: the README's program is the group leader, as in a terminal
        self.proc = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        """Everything it printed so far."""
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    def stop(self, grace: float = 60.0) -> int:
        """Ctrl-C (SIGINT to the process group), then SIGTERM and SIGKILL if it lingers;
        returns the exit status (negative: killed by that signal)."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace)
        code = self.proc.wait()
        self._out.close()
        return code

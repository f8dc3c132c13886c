"""The README tour, run as a user would after ``./scripts/run.sh`` (issue 9 acceptance).

README.md is read at test time. Every command of its ``sh`` blocks that runs
``gbcs-emu`` or ``tshark`` is matched against :data:`TABLE`, the reviewed list of how
each is handled, and run in README order in a fresh working directory holding a copy of
``examples/`` and the small input files the tour names (``msg.hex``, ``log.txt``,
``vectors.json``, ``keys/``, ``k1/``, ``k2/``, ``bench.toml``). Stand-ins:

* ``/dev/ttyUSB0`` and ``/dev/ttyUSB1`` are the two ends of a pty pair (socat, or two
  relayed ``os.openpty()`` pairs), so ``hil serve`` on one is driven from the other;
* ``mqtt://localhost:1883`` is an embedded amqtt broker on a free port;
* ``DD00...`` placeholders are the bundled ECS17b response
  (``examples/messages/03-ecs17b-response-encrypted.hex``, also ``msg.hex``);
* fleet sizes are scaled down (100 sites for ``run``, 50 for ``storm``).

Long-running commands run in the background and are stopped with Ctrl-C (SIGINT to their
process group) once what needs them has run. Every command must exit with its documented
status (0 everywhere) and print no ``Traceback``. A README command that no row of the
table matches fails the test, so the tour stays covered; ``gbcs-emu`` commands (and
subcommands of its groups) that the README never shows are reported as a
:class:`TourCoverageWarning`. The summary (printed, and in ``tour-report.txt`` of the
test's temporary directory) lists every command: ok, skipped (why) or failed (why).

``bench.toml`` (the user's own scenario in the README) is ``examples/bench.toml`` with
``[bench] ignore`` naming the readings that grow while the served site runs: ``hil diff``
against the emulator itself then has no difference and exits 0 (it exits 1 on any).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from emulator.transport.broker import EmbeddedBroker, free_port
from tests.duiskit import duis_candidate, duis_dir
from tests.interop import interop_candidate, interop_dir
from tests.test_hil import linked_ports
from tests.tour import (
    Background,
    Outcome,
    Rule,
    ShCommand,
    help_commands,
    is_tour_command,
    normalise,
    option_value,
    sh_commands,
)

ROOT = Path(__file__).resolve().parent.parent
# GBCS_TOUR_README: try the tour on a draft README (the default is the repository's)
README = Path(os.environ.get("GBCS_TOUR_README") or ROOT / "README.md")
EXAMPLES = ROOT / "examples"
MESSAGE = EXAMPLES / "messages" / "03-ecs17b-response-encrypted.hex"
EUI = r"[0-9A-Fa-f]{16}"
# Values of the bench steps that change while an emulated site runs (energy, demand, gas).
LIVE_VALUES = (
    "active_import",
    "reactive_import",
    "import_md",
    "import_md_time",
    "consumption",
    "consumption_scaled",
)
COMMAND_TIMEOUT = 300.0  # a guard against a hung command, not a speed requirement
READY_TIMEOUT = 120.0

# Applied to every command, before the row's own substitutions.
GLOBAL_SUBS: tuple[tuple[str, str], ...] = (
    (r"/dev/ttyUSB0", "{tty0}"),
    (r"/dev/ttyUSB1", "{tty1}"),
    (r"mqtt://localhost:1883", "{broker}"),
    (r"\bDD0*\.\.\.", "{msg_hex}"),  # the README's elided example messages
)

# fmt: off
TABLE: tuple[Rule, ...] = (
    # ---- CLI tour: decode
    Rule(r"gbcs-emu decode DD0+\.\.\.",
         why="DD000000000000... -> the bundled ECS17b response",
         expect=("ECS17b", "MAC: no key")),
    Rule(r"gbcs-emu decode --file msg\.hex --keys keys/",
         why="msg.hex = the ECS17b response; keys/ = examples/keys",
         expect=("MAC: valid", "decrypted: 1")),
    Rule(r"echo DD0+\.\.\. \| gbcs-emu decode - --json",
         why="DD00... -> the bundled ECS17b response",
         expect=('"use_case": "ECS17b"',)),
    Rule(rf"gbcs-emu decode --file msg\.hex --keys k1/ --keys k2/ --acb {EUI}",
         why="k1/ = the organisations' keys and CAs of examples/keys, k2/ = its device keys",
         expect=("MAC: valid", "decrypted: 1")),
    Rule(r"gbcs-emu decode --batch --jobs 0 --file log\.txt --keys keys/",
         why="log.txt = the three bundled messages; one process per CPU",
         expect=('"id": "02-ecs42-response-device-signed"', '"signature": "valid"')),
    Rule(r"cat log\.txt \| gbcs-emu decode --batch --keys keys/",
         why="log.txt = the three bundled messages, read from a pipe",
         expect=('"id": "02-ecs42-response-device-signed"', '"signature": "valid"',
                 '"mac": "valid"', '"decrypted_parts": 1')),
    Rule(r"gbcs-emu decode --batch --file log\.txt --keys keys/",
         why="log.txt = the three bundled messages, as HEX and ID<TAB>HEX lines",
         expect=('"id": "02-ecs42-response-device-signed"', '"signature": "valid"',
                 '"mac": "valid"', '"decrypted_parts": 1')),
    # ---- keys and captures
    Rule(rf"gbcs-emu keys init \./pki( --device {EUI})+",
         files=("pki/ca-root.pem", "pki/90b3d51f30fe0002-ds.key", "pki/00db1234567890a0-ds.pem")),
    Rule(r"gbcs-emu capture to-pcap log\.txt -o out\.pcap",
         expect=("wrote 3 frame(s) to out.pcap",), files=("out.pcap",)),
    Rule(r"gbcs-emu capture to-pcap vectors\.json -o out\.pcap --gbt-block-size \d+",
         why="vectors.json = the three bundled messages as [{id, hex}]",
         expect=("frame(s) to out.pcap",), files=("out.pcap",)),
    Rule(r"tshark -r out\.pcap -V", needs="tshark",
         expect=("gbcs_message",)),
    # ---- conformance (DCC's RTDS vectors)
    Rule(r"gbcs-emu conformance", needs="interop",
         expect=("ESME:", "GSME:", "GPF:", "CHF:")),
    Rule(r"gbcs-emu conformance --device gsme -v", needs="interop",
         expect=("GSME:",)),
    Rule(r"gbcs-emu conformance --json --save out/", needs="interop",
         expect=('"summary"',), files=("out/commands", "out/responses", "out/keys")),
    Rule(r"gbcs-emu conformance --junit conformance\.xml", needs="interop",
         expect=("Gate passed",), files=("conformance.xml",)),
    Rule(r"gbcs-emu conformance --rtds RTDS-4\.5\.0/ --keys keys/", needs="interop",
         prepare="rtds_tree", subs=((r"--keys keys/", "--keys {interop_keys}"),),
         why="RTDS-4.5.0/ = a *_GBCS.HEX tree written from vectors.json; keys/ -> "
             "$GBCS_INTEROP_DIR/keys (the tour's keys/ holds examples/keys)",
         expect=("ESME:", "GSME:"), absent=("ESME: 0/",)),
    # ---- use cases as typed arguments
    Rule(r"gbcs-emu usecase explain --batch --file commands\.txt --keys keys/ > args\.jsonl",
         why="commands.txt = the bundled ECS42 command as an ID<TAB>HEX line",
         files=("args.jsonl",)),
    Rule(r"gbcs-emu usecase build --batch --file args\.jsonl",
         expect=("01-ecs42-command-signed",), absent=("error",)),
    Rule(rf"gbcs-emu usecase build --batch --file args\.jsonl --keys keys/ --acb {EUI}",
         expect=("01-ecs42-command-signed",), absent=("error",)),
    Rule(r"gbcs-emu usecase list --device GSME", expect=("GCS13a",)),
    Rule(r"gbcs-emu usecase show ECS37",
         expect=("0x004A", "parameters:", "start (time, required)")),
    Rule(r"gbcs-emu usecase reference -o usecases\.md", files=("usecases.md",)),
    Rule(r"gbcs-emu keys inspect \./pki",
         expect=("90b3d51f30fe0002", "00db1234567890a1", "private")),
    # ---- running emulators (the first `run` serves `send` and `stats` below)
    Rule(r"gbcs-emu run", how="background", ready="run", until="block",
         why="stopped with Ctrl-C at the end of its block, after send/stats/demo/storm"),
    Rule(r"gbcs-emu run --config examples/site\.toml --clock x60 --state \./state",
         how="background", ready="run", files=("state/state.json",)),
    Rule(r"gbcs-emu run --sites 100000 --workers 2 --broker mqtt://localhost:1883"
         r" --metrics-port 9100", optional=(r" --state \S+",),
         how="background", ready="run", probe="metrics",
         subs=((r"--sites 100000", "--sites 100"),
               (r"--metrics-port 9100", "--metrics-port {metrics_port}")),
         why="100 sites, not 100000; the metrics port is a free one, scraped once"),
    Rule(r"gbcs-emu send --to 00DB1234567890A0 ECS43",
         expect=("signature verified", "True")),
    Rule(r"gbcs-emu send --to 00DB1234567890A0 ECS37 start=17:00 end=22:00 --json",
         expect=('"window_start": "17:00"', '"window_end": "22:00"')),
    Rule(r"gbcs-emu send --to 00DB1234567890A0 ECS34 low_medium_power_threshold=2000"
         r" medium_high_power_threshold=5000", expect=("ok", "True")),
    Rule(r"gbcs-emu send --to 00DB1234567890A0 ECS26f",
         expect=("low_medium_power_threshold", "2000", "W")),
    Rule(r"gbcs-emu send", expect=("Use cases", "ECS37")),
    Rule(r"gbcs-emu send --to 00DB1234567890A0 ECS17b --timeout \d+(\.\d+)?",
         expect=("ECS17b from 00DB1234567890A0", "mac verified")),
    Rule(r"gbcs-emu stats", expect=("out.response",)),
    Rule(r"gbcs-emu demo", expect=("every response verified",)),
    Rule(r"gbcs-emu storm --sites 2000 --workers 2",
         subs=((r"--sites 2000", "--sites 50"),), why="50 sites, not 2000",
         expect=("complete │ True",)),
    Rule(r"gbcs-emu run --config examples/site\.toml --check", optional=(r" --state \./state",),
         expect=("ok: 1 site(s)",)),
    # ---- beyond one host: a fleet definition, one host of it, a head-end with only it
    Rule(r"gbcs-emu fleet init \./myfleet --sites 200000",
         subs=((r"--sites 200000", "--sites 4"),), why="4 sites, not 200000",
         expect=("site(s) written to myfleet",),
         files=("myfleet/fleet.toml", "myfleet/seed", "myfleet/pki/ca-root.pem")),
    Rule(r"gbcs-emu fleet show \./myfleet", expect=("base EUI", "seed", "not shown")),
    Rule(r"gbcs-emu run --fleet \./myfleet --workers 4 --shard 0:8 --state \./host-a"
         r" --broker mqtt://localhost:1883",
         how="background", ready="run", until="block",
         subs=((r"--workers 4 --shard 0:8", "--workers 1 --shard 0:2"),),
         why="one worker of two (the even sites), not four of eight; serves the send below",
         files=("host-a/fleet.json",)),
    Rule(r"gbcs-emu send --fleet \./myfleet --broker mqtt://localhost:1883"
         r" --to 00DB120000000000 ECS17b",
         expect=("ECS17b from 00DB120000000000", "mac verified")),
    # ---- state tools, on the ./state the x60 run above left
    Rule(r"gbcs-emu state check --state \./state",
         expect=("state/state.json │ ok",)),
    Rule(r"gbcs-emu state backup --state \./state --to \./backup-1",
         expect=("backed up",), files=("backup-1/state.json",)),
    Rule(r"gbcs-emu state restore --state \./state --from \./backup-1",
         expect=("restored",)),
    Rule(r"gbcs-emu state migrate --state \./state --sites \d+ --workers \d+",
         expect=("migrated",)),
    # ---- DUIS XML signatures (the shared DUIS material: templates, keys, XSD)
    Rule(r'gbcs-emu duis sign --keys \.\./shared/duis/keys request\.xml > signed\.xml',
         needs="duis", prepare="duis_request",
         subs=((r"\.\./shared/duis", "{duis_dir}"),),
         why="request.xml = the shared ECS17b 4.1.1 request template; ../shared/duis -> "
             "$GBCS_DUIS_DIR", files=("signed.xml",)),
    Rule(r"gbcs-emu duis verify --keys \.\./shared/duis/keys signed\.xml", needs="duis",
         subs=((r"\.\./shared/duis", "{duis_dir}"),), expect=("valid",),
         absent=("invalid",)),
    Rule(r'gbcs-emu duis validate --xsd "\.\./shared/duis/xsd/DUIS Schema V5\.4\.xsd"'
         r" signed\.xml", needs="duis",
         subs=((r"\.\./shared/duis", "{duis_dir}"),), expect=("valid",)),
    Rule(r"gbcs-emu duis decode --keys \.\./shared/duis/keys signed\.xml", needs="duis",
         subs=((r"\.\./shared/duis", "{duis_dir}"),),
         expect=("4.1.1 Read Instantaneous Import Registers", "signature verified")),
    Rule(r"gbcs-emu duis transform --verify-off --target-type ESME"
         r" --gbcs-keys \.\./shared/interop/keys request\.xml", needs="duis,interop",
         subs=((r"\.\./shared/interop/keys", "{interop_keys}"),),
         why="request.xml = the ECS17b 4.1.1 template; ../shared/interop/keys -> "
             "$GBCS_INTEROP_DIR/keys",
         expect=("request.xml DD00", "ECS17b (0x0027) command (ACB MAC)")),
    Rule(r"gbcs-emu duis serve --duis-users users\.toml --broker mqtt://localhost:1883"
         r" --state \./duis-state", how="background", ready="run", prepare="duis_users",
         probe="duis_status",
         subs=((r"--duis-users users\.toml",
                "--duis-users users.toml --duis-port {duis_port} --smki-port {smki_port}"),),
         why="users.toml: one user and the DSP, keys made here; free ports, not 8079/8083; "
             "the status page read once", files=("duis-state/duis.db",)),
    Rule(r"gbcs-emu duis srvs",
         expect=("4.1.1 ESME,GSME,GPF Read Instantaneous Import Registers",
                 "SRV variant(s) transformed for")),
    # ---- hardware in the loop: serve on one pty end, drive/diff/bridge on the other
    Rule(r"gbcs-emu hil serve --port /dev/ttyUSB0 --device site --framing binary"
         r" --state \./hil-state",
         how="background", ready="hil-serve", until="block",
         why="serves the whole block; stopped with Ctrl-C at its end",
         expect=("hil serve: site-0", "stopped after")),
    Rule(r"gbcs-emu hil drive --port /dev/ttyUSB1 --script examples/bench\.toml"
         r" --state \./hil-state --junit bench\.xml --pcap bench\.pcap",
         expect=("frames in",), files=("bench.xml", "bench.pcap"), probe="junit"),
    Rule(r"gbcs-emu hil drive --port /dev/ttyUSB1 --script bench\.toml"
         r" --keys \./meter-keys --keys \./pki",
         prepare="meter_keys",
         subs=((r"--keys \./pki\b", "--keys ./hil-state/pki"),),
         why="the 'real meter' is the emulated site on the other pty end: ./meter-keys = its "
             "devices' public keys, ./pki -> ./hil-state/pki (the organisations it trusts; "
             "the ./pki of `keys init` is not provisioned on it)",
         expect=("frames in",)),
    Rule(r"gbcs-emu hil diff --port /dev/ttyUSB1 --script bench\.toml --state \./hil-state",
         why="the device on the port is the emulator itself; bench.toml ignores the values "
             "that grow with time (live readings): no difference, exit 0",
         expect=("0 difference(s)",)),
    Rule(rf"gbcs-emu hil bridge --port /dev/ttyUSB1 --broker mqtt://localhost:1883 --eui {EUI}",
         how="background", probe="bridge_send",
         why="the served site stands for the meter; probed with `gbcs-emu send` through the "
             "broker, then stopped with Ctrl-C"),
)
# fmt: on


class TourCoverageWarning(UserWarning):
    """A ``gbcs-emu`` command that the README tour never shows."""


def _bin_dir(tmp: Path) -> Path:
    """A directory with ``gbcs-emu``: the venv's console script, or a shim to this Python."""
    venv_bin = Path(sys.executable).parent
    if (venv_bin / "gbcs-emu").is_file():
        return venv_bin
    shim = tmp / "bin"
    shim.mkdir(exist_ok=True)
    (shim / "gbcs-emu").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m emulator "$@"\n')
    (shim / "gbcs-emu").chmod(0o755)
    return shim


def _has_traceback(text: str) -> bool:
    return "Traceback (most recent call last)" in text or "\nTraceback" in text


class Tour:
    """Runs README commands one by one in ``work``; collects an :class:`Outcome` each."""

    def __init__(self, tmp: Path, values: dict[str, str]) -> None:
        self.tmp = tmp
        self.work = tmp / "work"
        self.logs = tmp / "logs"
        self.values = values
        self.outcomes: list[Outcome] = []
        self.background: list[tuple[Background, Outcome, Rule]] = []
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("GBCS_BROKER_PASSWORD", "COLUMNS")
        }
        self.env["PATH"] = f"{_bin_dir(tmp)}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["TMPDIR"] = str(tmp / "tmpdir")  # `hil drive --keys` keeps counters there
        self.env["PYTHONUNBUFFERED"] = "1"  # background logs show progress as it happens
        if (found := interop_dir()) is not None:
            self.env["GBCS_INTEROP_DIR"] = str(found)  # as ./scripts/run.sh would use it
        self._count = 0

    # -- the working directory -------------------------------------------------------------

    def prepare(self) -> None:
        """``examples/`` and the input files the tour reads but the repository lacks."""
        for d in (self.work, self.logs, self.tmp / "tmpdir"):
            d.mkdir(parents=True)
        shutil.copytree(EXAMPLES, self.work / "examples")
        shutil.copytree(EXAMPLES / "keys", self.work / "keys")
        k1, k2 = self.work / "k1", self.work / "k2"
        k1.mkdir()
        k2.mkdir()
        for f in (EXAMPLES / "keys").iterdir():
            shutil.copy(f, (k2 if f.name.startswith("00") else k1) / f.name)
        # the user's own bench.toml: the example, ignoring for `hil diff` the readings that
        # grow while the served site runs (the reference emulator starts fresh)
        bench = (EXAMPLES / "bench.toml").read_text()
        assert "\n[bench]\n" in bench and "ignore" not in bench
        ignore = f"ignore = {json.dumps(list(LIVE_VALUES))}\n"
        (self.work / "bench.toml").write_text(bench.replace("\n[bench]\n", f"\n[bench]\n{ignore}"))
        shutil.copy(MESSAGE, self.work / "msg.hex")
        messages = sorted((EXAMPLES / "messages").glob("*.hex"))
        hexes = [(m.stem, "".join(m.read_text().split())) for m in messages]
        lines = [h if i == 0 else f"{name}\t{h}" for i, (name, h) in enumerate(hexes)]
        (self.work / "log.txt").write_text("\n".join(lines) + "\n")
        commands = [f"{name}\t{h}" for name, h in hexes if "command" in name]
        (self.work / "commands.txt").write_text("\n".join(commands) + "\n")
        vectors = [{"id": name, "hex": h} for name, h in hexes]
        (self.work / "vectors.json").write_text(json.dumps(vectors))

    def rtds_tree(self) -> None:
        """``RTDS-4.5.0/``: DCC's folder tree (``<use case>/<test case>_GBCS.HEX``), written
        from the interop ``vectors.json``."""
        found = interop_dir()
        assert found is not None
        prefix = "RTDS-4.5.0/"
        for v in json.loads((found / "vectors.json").read_text()):
            if v["id"].startswith(prefix):
                path = self.work / (v["id"] + "_GBCS.HEX")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(v["hex"])

    def duis_request(self) -> None:
        """``request.xml``: the shared DUIS ECS17b 4.1.1 request template (unsigned)."""
        found = duis_dir()
        assert found is not None
        template = found / "templates" / "ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML"
        shutil.copy(template, self.work / "request.xml")

    def duis_users(self) -> None:
        """``users.toml``: one DUIS user and the DSP, their keys made here (the DSP's key
        mode 0600, as the users file requires)."""
        from cryptography.hazmat.primitives import serialization

        from keys.pki import create_authorities, issue_organisation_keys
        from keys.roles import KeyUsage, RemotePartyRole

        ca = create_authorities()
        made = {
            name: issue_organisation_keys(ca, role, eui, usages=(KeyUsage.DS,))[0]
            for name, role, eui in (
                ("user", RemotePartyRole.XML_SIGN, "90B3D51F30FE0002"),
                ("dsp", RemotePartyRole.DSP_XML_SIGN, "90B3D51F30000002"),
            )
        }
        for name, issued in made.items():
            (self.work / f"{name}.pem").write_bytes(
                issued.certificate.public_bytes(serialization.Encoding.PEM)
            )
        key = made["dsp"].private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(self.work / "dsp.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        (self.work / "users.toml").write_text(
            '[dsp]\nkey = "dsp.key"\ncertificate = "dsp.pem"\n\n'
            '[[user]]\neui = "90B3D51F30FE0002"\nrole = ["IS", "GS"]\n'
            'xml_certificate = "user.pem"\ncallback = "http://127.0.0.1:9/smartdcc/duis"\n'
        )

    def probe_duis_status(self, bg: Background) -> str | None:
        url = f"http://127.0.0.1:{self.values['duis_port']}/status.json"
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                snapshot = json.loads(r.read())
        except (OSError, ValueError) as e:
            return f"no status on {url}: {e}"
        devices = [d["device"] for d in snapshot.get("devices", [])]
        if "00-DB-12-34-56-78-90-A0" not in devices:
            return f"{url} lists no ESME: {devices}"
        return None

    def meter_keys(self) -> None:
        """``./meter-keys``: the public keys of the devices served from ``./hil-state``
        (a real meter's certificates would go there)."""
        from cryptography.hazmat.primitives import serialization

        from emulator.runtime.config import FleetConfig, derive_own_keys
        from emulator.runtime.statedir import load_info

        info = load_info(self.work / "hil-state")
        assert info is not None, "hil serve left no state.json in ./hil-state"
        out = self.work / "meter-keys"
        out.mkdir(exist_ok=True)
        for eui in FleetConfig().site_config(0).euis.values():
            own = derive_own_keys(info.seed_bytes, eui)
            for usage, key in (("ka", own.ka), ("ds", own.ds)):
                (out / f"{eui.hex()}-{usage}.pem").write_bytes(
                    key.public_key().public_bytes(
                        serialization.Encoding.PEM,
                        serialization.PublicFormat.SubjectPublicKeyInfo,
                    )
                )

    # -- probes of background commands -------------------------------------------------------

    def probe_metrics(self, bg: Background) -> str | None:
        url = f"http://127.0.0.1:{self.values['metrics_port']}/metrics"
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    body = r.read().decode()
                break
            except OSError as e:
                if not bg.alive() or time.monotonic() > deadline:
                    return f"no metrics on {url}: {e}"
                time.sleep(0.2)
        if "gbcs_command_latency_seconds_count" not in body:
            return f"{url} served no gbcs_* metrics: {body[:200]!r}"
        return None

    def probe_junit(self, bg: Background | None) -> str | None:
        junit = (self.work / "bench.xml").read_text()
        if 'failures="0"' not in junit:
            return f"bench.xml records failures: {junit[:300]}"
        return None

    def probe_bridge_send(self, bg: Background) -> str | None:
        """A command through the broker and the bridge to the served ESME, answered.
        Retried: the bridge prints nothing when its subscription is in place."""
        eui = option_value(bg.command, "--eui")
        cmd = [
            "gbcs-emu", "send", "--broker", self.values["broker"], "--state", "./hil-state",
            "--to", str(eui), "--timeout", "3", "--json", "ECS45",
        ]  # fmt: skip
        last = ""
        for _ in range(20):
            res = subprocess.run(
                cmd, cwd=self.work, env=self.env, capture_output=True, text=True,
                timeout=COMMAND_TIMEOUT,
            )  # fmt: skip
            last = res.stdout + res.stderr
            if _has_traceback(last):
                return f"send through the bridge printed a traceback:\n{last}"
            if res.returncode == 0:
                if '"supply_state"' not in res.stdout:
                    return f"send through the bridge: unexpected answer {res.stdout!r}"
                return None
            if not bg.alive():
                break
        return f"no answer through the bridge: {last.strip()[-500:]}"

    # -- readiness -----------------------------------------------------------------------------

    def wait_ready(self, bg: Background, rule: Rule) -> str | None:
        """None once ``bg`` is ready, else why not (it exited, or the guard ran out)."""
        check: Callable[[], bool]
        if rule.ready == "run":
            # printed once every worker serves
            def check() -> bool:
                return "Ctrl-C stops" in normalise(bg.output())
        elif rule.ready == "hil-serve":
            state = self.work / str(option_value(bg.command, "--state", "gbcs-hil-state"))
            ready_file = state / "hil-ready"

            def check() -> bool:
                return ready_file.exists()
        else:
            return None
        deadline = time.monotonic() + READY_TIMEOUT
        while not check():
            if not bg.alive():
                return f"exited with status {bg.proc.returncode} before it was ready"
            if time.monotonic() > deadline:
                return f"not ready after {READY_TIMEOUT:.0f} s"
            time.sleep(0.1)
        return None

    # -- running ---------------------------------------------------------------------------------

    def substitute(self, text: str, rule: Rule) -> str:
        for pattern, repl in (*GLOBAL_SUBS, *rule.subs):
            text = re.sub(pattern, lambda _m, r=repl: r.format_map(self.values), text)
        return text

    def _check_output(self, outcome: Outcome, rule: Rule, output: str) -> None:
        flat = normalise(output)
        problems = []
        if _has_traceback(output):
            problems.append("a Traceback in its output")
        problems += [f"no {e!r} in its output" for e in rule.expect if e not in flat]
        problems += [f"{a!r} in its output" for a in rule.absent if a in flat]
        problems += [f"{f} was not written" for f in rule.files if not (self.work / f).exists()]
        if problems:
            outcome.status = "failed"
            outcome.detail = "; ".join(problems)
            outcome.output = output

    def skip_reason(self, rule: Rule) -> str | None:
        if rule.how == "skip":
            return rule.why
        if rule.needs == "tshark" and shutil.which("tshark") is None:
            return "tshark is not installed (apt install tshark)"
        needs = set(rule.needs.split(","))
        if "duis" in needs and duis_dir() is None:
            why = f"no DUIS material in {duis_candidate()} (set GBCS_DUIS_DIR)"
            if os.environ.get("GBCS_REQUIRE_INTEROP") == "1":
                pytest.fail(f"{why}, and GBCS_REQUIRE_INTEROP=1")
            return why
        if "interop" in needs and interop_dir() is None:
            why = f"no vectors.json in {interop_candidate()} (DCC's RTDS: set GBCS_INTEROP_DIR)"
            if os.environ.get("GBCS_REQUIRE_INTEROP") == "1":
                pytest.fail(f"{why}, and GBCS_REQUIRE_INTEROP=1")
            return why
        return None

    def run(self, command: ShCommand, rule: Rule) -> None:
        outcome = Outcome(command, notes=[rule.why] if rule.why else [])
        self.outcomes.append(outcome)
        if (reason := self.skip_reason(rule)) is not None:
            outcome.status, outcome.detail = "skipped", reason
            return
        if rule.prepare:
            getattr(self, rule.prepare)()
        started = time.monotonic()
        outcome.executed = self.substitute(command.text, rule)
        self._count += 1
        if rule.how == "background":
            log = self.logs / f"{self._count:02d}.log"
            bg = Background(outcome.executed, self.work, self.env, log)
            self.background.append((bg, outcome, rule))
            if (why := self.wait_ready(bg, rule)) is None and rule.probe:
                why = getattr(self, f"probe_{rule.probe}")(bg)
            if why is not None:
                outcome.status, outcome.detail = "failed", why
            if why is not None or rule.until == "ready":
                self.stop(bg)
            outcome.seconds = time.monotonic() - started
            return
        res = subprocess.run(
            ["bash", "-o", "pipefail", "-c", outcome.executed],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        outcome.seconds = time.monotonic() - started
        output = res.stdout + res.stderr
        if res.returncode != rule.exit_code:
            outcome.status = "failed"
            outcome.detail = f"exit status {res.returncode}, documented {rule.exit_code}"
            outcome.output = output
            return
        self._check_output(outcome, rule, output)
        if outcome.status == "ok" and rule.probe:
            why = getattr(self, f"probe_{rule.probe}")(None)
            if why is not None:
                outcome.status, outcome.detail = "failed", why

    def stop(self, bg: Background) -> None:
        """Ctrl-C ``bg``; it must exit 0 with no traceback (and the row's expectations)."""
        for i, (b, outcome, rule) in enumerate(self.background):
            if b is not bg:
                continue
            del self.background[i]
            code = bg.stop()
            output = bg.output()
            if outcome.status == "failed":
                outcome.output = output
            elif code != 0:
                outcome.status = "failed"
                outcome.detail = f"exit status {code} after Ctrl-C, documented 0"
                outcome.output = output
            else:
                self._check_output(outcome, rule, output)
            return

    def end_of_block(self) -> None:
        """Stop what the block left running, newest first (as a user would)."""
        for bg, _, _ in reversed(list(self.background)):
            self.stop(bg)


def _rule_for(command: ShCommand) -> Rule | str:
    """The one row matching ``command``, or why there is none."""
    rows = [r for r in TABLE if r.matches(command.text)]
    if len(rows) == 1:
        return rows[0]
    if not rows:
        return (
            f"README:{command.line} {command.text!r} is not in the tour's TABLE "
            f"(tests/test_readme_tour.py): add a row saying how to run or skip it"
        )
    return f"README:{command.line} {command.text!r} matches {len(rows)} rows of TABLE"


@contextmanager
def _broker() -> Iterator[str]:
    broker = EmbeddedBroker()
    asyncio.run(broker.start())
    try:
        yield broker.url
    finally:
        asyncio.run(broker.aclose())


def _coverage(commands: list[ShCommand], env: dict[str, str], cwd: Path) -> list[str]:
    """``gbcs-emu`` commands (as ``gbcs-emu --help`` lists them) and subcommands of its
    groups that no README command shows."""
    import click

    from emulator.cli import main

    res = subprocess.run(
        ["gbcs-emu", "--help"], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=COMMAND_TIMEOUT,
    )  # fmt: skip
    assert res.returncode == 0 and not _has_traceback(res.stderr), res.stderr
    tops = help_commands(res.stdout)
    assert set(tops) == set(main.commands), (tops, sorted(main.commands))
    shown = [re.findall(r"gbcs-emu((?: [a-z][a-z0-9-]*)+)", c.text) for c in commands]
    words = {tuple(s.split()) for found in shown for s in found}
    missing = []
    for top in tops:
        if not any(w[:1] == (top,) for w in words):
            missing.append(top)
            continue
        group = main.commands[top]
        for sub in group.commands if isinstance(group, click.Group) else ():
            if not any(w[:2] == (top, sub) for w in words):
                missing.append(f"{top} {sub}")
    return missing


def test_readme_sh_blocks_are_parsed() -> None:
    """Continuations are joined, comments dropped, and only tour programs are tour lines."""
    text = (
        "# Title\n```sh\n# a comment\ngbcs-emu a --x 1 \\\n    --y 2   # trailing\n"
        "echo 00 | gbcs-emu decode -\npip install x\n```\n```python\ngbcs-emu no\n```\n"
    )
    got = sh_commands(text)
    assert [(c.block, c.line, c.text) for c in got] == [
        (2, 4, "gbcs-emu a --x 1 --y 2"),
        (2, 6, "echo 00 | gbcs-emu decode -"),
        (2, 7, "pip install x"),
    ]
    assert [is_tour_command(c.text) for c in got] == [True, True, False]
    assert is_tour_command("tshark -r out.pcap -V")
    assert not is_tour_command("cd gbcs-emulator")


def test_every_readme_command_has_one_row() -> None:
    """The table knows every tour command of the README as it is now."""
    problems = [
        p
        for c in sh_commands(README.read_text())
        if is_tour_command(c.text) and isinstance(p := _rule_for(c), str)
    ]
    assert not problems, "\n".join(problems)


def test_a_command_the_table_does_not_know_is_reported() -> None:
    """A new README command fails the tour until TABLE says how to handle it; rows with
    optional options match with and without them; one row per command."""
    new = ShCommand("Running emulators", 1, 2, "gbcs-emu run --frobnicate")
    assert "not in the tour's TABLE" in str(_rule_for(new))
    fleet = (
        "gbcs-emu run --sites 100000 --workers 2 --broker mqtt://localhost:1883 --metrics-port 9100"
    )
    for text in (fleet, fleet + " --state ./fleet", fleet.replace("run", "run --state x", 1)):
        assert isinstance(_rule_for(ShCommand("", 1, 2, text)), Rule), text
    assert isinstance(_rule_for(ShCommand("", 1, 2, fleet + " --seed x")), str)
    for row in TABLE:  # each row is written against the README's own spelling
        assert row.pattern == row.pattern.strip() and "  " not in row.pattern


def test_readme_tour(tmp_path: Path) -> None:
    """Every tour command of the README runs, in order, and exits as documented."""
    commands = sh_commands(README.read_text())
    tour = [c for c in commands if is_tour_command(c.text)]
    unknown = [p for c in tour if isinstance(p := _rule_for(c), str)]
    assert not unknown, "\n".join(unknown)
    with ExitStack() as stack:
        tty0, tty1 = stack.enter_context(linked_ports(tmp_path))
        broker = stack.enter_context(_broker())
        values = {
            "tty0": tty0,
            "tty1": tty1,
            "broker": broker,
            "msg_hex": "".join(MESSAGE.read_text().split()),
            "metrics_port": str(free_port()),
            "duis_port": str(free_port()),
            "smki_port": str(free_port()),
            "interop_keys": str((interop_dir() or interop_candidate()) / "keys"),
            "duis_dir": str(duis_dir() or duis_candidate()),
        }
        runner = Tour(tmp_path, values)
        runner.prepare()
        stack.callback(runner.end_of_block)  # whatever a failure left running
        block = None
        for c in commands:
            if c.block != block:
                runner.end_of_block()
                block = c.block
            if not is_tour_command(c.text):
                runner.outcomes.append(
                    Outcome(c, "skipped", detail="not a gbcs-emu/tshark command")
                )
                continue
            rule = _rule_for(c)
            assert isinstance(rule, Rule)
            runner.run(c, rule)
        runner.end_of_block()
        missing = _coverage(commands, runner.env, runner.work)
    outcomes = runner.outcomes
    summary = "\n".join(o.line() for o in outcomes)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "skipped", "failed")}
    unused = [r.pattern for r in TABLE if not any(r.matches(c.text) for c in tour)]
    report = (
        f"README tour: {counts['ok']} ok, {counts['skipped']} skipped, {counts['failed']} failed\n"
        f"{summary}\n"
        + (f"rows matching no README command: {unused}\n" if unused else "")
        + (f"gbcs-emu commands the README never shows: {', '.join(missing)}\n" if missing else "")
    )
    print(report)
    (tmp_path / "tour-report.txt").write_text(report)
    if missing:
        warnings.warn(
            TourCoverageWarning(f"the README tour never shows: {', '.join(missing)}"),
            stacklevel=1,
        )
    failed = [o for o in outcomes if o.status == "failed"]
    details = "\n\n".join(
        f"README:{o.command.line} {o.command.text}\n  ran: {o.executed}\n  {o.detail}\n"
        + "\n".join("  | " + ln for ln in o.output.strip().splitlines()[-25:])
        for o in failed
    )
    if failed:
        pytest.fail(f"{report}\n{details}", pytrace=False)
    assert counts["ok"] > 0

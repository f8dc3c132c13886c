"""`hil drive` sends more than 30 use cases across the four device types to `hil serve`
over a pty pair (examples/bench-catalogue.toml), each from named arguments."""

from __future__ import annotations

import json
from pathlib import Path

from emulator.headend.catalogue.docs import argument_style
from emulator.headend.usecases import get
from hil.bench import load_scenario
from tests.test_hil import ROOT, SITE, _hil, linked_ports, served

CATALOGUE = ROOT / "examples" / "bench-catalogue.toml"


#: The served site's devices (`hil serve --device site`).
DEVICE_TYPES = {f"00DB1234567890A{i}": t for i, t in enumerate(("ESME", "GSME", "CHF", "GPF"))}


def test_catalogue_scenario_loads_with_30_use_cases_across_four_device_types() -> None:
    scenario = load_scenario(CATALOGUE)
    per_type: dict[str, set[str]] = {}
    for step in scenario.steps:
        assert step.use_case is not None and step.to is not None
        device_type = DEVICE_TYPES[step.to.hex().upper()]
        assert device_type in {t.value for t in get(step.use_case).targets}, step.name
        per_type.setdefault(device_type, set()).add(step.use_case)
    assert set(per_type) == {"ESME", "GSME", "GPF", "CHF"}
    assert len(set().union(*per_type.values())) >= 30
    for step in scenario.steps:  # named arguments: the whole request GBCS defines
        assert argument_style(step.use_case or "") in {"typed", "described"}, step.name
        assert "args" not in step.args, step.name


def test_drive_the_catalogue_against_served_site(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = tmp_path / "site.toml"
    config.write_text("[gsme]\nwake_interval_seconds = 2\n")  # GSME steps answer soon
    with (
        linked_ports(tmp_path) as (a, b),
        served(a, state, *SITE, "--config", str(config), "--framing", "binary"),
    ):
        res = _hil(
            "drive", "--port", b, "--script", str(CATALOGUE), "--state", str(state), "--json"
        )
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    steps = report["steps"]
    failed = [s for s in steps if not s["passed"]]
    assert report["passed"] and not failed, failed
    scenario = load_scenario(CATALOGUE)
    assert len(steps) == len(scenario.steps)
    per_type: dict[str, set[str]] = {}
    for step in scenario.steps:
        assert step.use_case is not None and step.to is not None
        per_type.setdefault(DEVICE_TYPES[step.to.hex().upper()], set()).add(step.use_case)
    assert set(per_type) == {"ESME", "GSME", "GPF", "CHF"}
    assert all(len(v) >= 4 for v in per_type.values())
    assert len(set().union(*per_type.values())) >= 30
    critical = {i for i, st in enumerate(scenario.steps) if get(st.use_case or "").critical}
    assert critical  # signed commands too
    for i, s in enumerate(steps):  # every answer verified: MAC'd, or signed where GBCS signs
        assert s["verified"] in ({"mac", "signature"} if i in critical else {"mac"}), s

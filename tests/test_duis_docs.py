"""``docs/duis.md``'s table of what is transformed is what ``gbcs-emu duis srvs --markdown``
prints today."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("lxml", reason="the DUIS model needs lxml (the duis extra)")

from emulator.cli import main

PAGE = Path(__file__).resolve().parent.parent / "docs" / "duis.md"


def test_the_table_of_transformed_srvs_is_current() -> None:
    text = PAGE.read_text()
    begin, end = "<!-- srvs:begin -->\n", "<!-- srvs:end -->"
    table = text[text.index(begin) + len(begin) : text.index(end)]
    r = CliRunner().invoke(main, ["duis", "srvs", "--markdown"])
    assert r.exit_code == 0, r.output
    assert table == r.stdout, (
        "docs/duis.md is out of date: put the output of gbcs-emu duis srvs --markdown "
        "between its srvs markers"
    )
    assert table.count("\n| ") >= 100  # one row per SRV variant for an emulated device

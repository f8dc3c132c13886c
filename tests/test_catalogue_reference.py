"""``docs/usecases.md`` is what the code generates (issue 10 §3)."""

from __future__ import annotations

from pathlib import Path

from emulator.headend.catalogue.generic import command_use_cases, generic_name
from emulator.headend.catalogue.reference import reference_markdown

PAGE = Path(__file__).resolve().parent.parent / "docs" / "usecases.md"


def test_reference_page_is_up_to_date() -> None:
    assert PAGE.read_text() == reference_markdown(), (
        "docs/usecases.md is out of date: run gbcs-emu usecase reference -o docs/usecases.md"
    )


def test_reference_page_names_every_command() -> None:
    text = reference_markdown()
    for uc in command_use_cases():  # every command the head-end sends (with targets)
        assert f"## {generic_name(uc)}\n" in text and f"0x{uc.code:04X}" in text
    assert "`start` (time" in text  # ECS37's named arguments are documented
    assert "`manufacturer_image_hash`: opaque (ImageHash)" in text  # CS06's ASN.1 fields

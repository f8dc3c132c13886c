"""``gbcs-emu capture``: write captures that stock Wireshark/tshark dissect."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from emulator.cli.inputs import check_output, iter_messages, write_output
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.gbt import split
from gbcs.pcap import PcapRecord, write_pcap


@click.group("capture")
def capture() -> None:
    """Captures of GBCS traffic."""


@capture.command("to-pcap")
@click.argument("source", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="pcap file to write (link type 252, dissector gbcs_message).",
)
@click.option(
    "--gbt-block-size",
    type=click.IntRange(1, 1200),
    default=None,
    help="Split each message into GBT blocks of this many bytes, one frame per block.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds between frames.",
)
def to_pcap(source: Path | None, output: Path, gbt_block_size: int | None, interval: float) -> None:
    """Write messages from SOURCE (hex lines, 'id<TAB>hex' lines, or a JSON vectors file;
    standard input when absent or '-') to a pcap file."""
    path = None if source is None or str(source) == "-" else source
    check_output(output)  # before reading what may be a long standard input
    records: list[PcapRecord] = []
    skipped = 0
    first_error = ""
    t = 0.0
    for ident, item in iter_messages(path, iter(sys.stdin)):
        if isinstance(item, str):
            click.echo(f"warning: {ident}: {item}", err=True)
            skipped += 1
            first_error = first_error or item
            continue
        if gbt_block_size is None:
            frames = [item]
        else:
            try:
                frames = split(item, block_size=gbt_block_size)
            except (GbcsDecodeError, GbcsEncodeError) as e:
                click.echo(f"warning: {ident}: cannot split: {e}", err=True)
                skipped += 1
                first_error = first_error or f"{ident}: cannot split: {e}"
                continue
        for i, frame in enumerate(frames):
            info = ident if len(frames) == 1 else f"{ident} block {i + 1}/{len(frames)}"
            records.append(PcapRecord(frame, t, info))
            t += interval
    where = "standard input" if path is None else str(path)
    if not records:
        # Nothing to write: say why, and leave any existing output file as it was.
        why = (
            f"none of the {skipped} message(s) in {where} could be read (first: {first_error})"
            if skipped
            else f"{where} holds no message"
        )
        raise click.ClickException(
            f"nothing written to {output}: {why} (expected hex lines, 'id<TAB>hex' lines, "
            "or a JSON list of objects with 'hex')"
        )
    write_output(output, write_pcap(records))
    click.echo(
        f"wrote {len(records)} frame(s) to {output}" + (f", skipped {skipped}" if skipped else ""),
        err=True,
    )

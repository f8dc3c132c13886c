"""``gbcs-emu capture``: write captures that stock Wireshark/tshark dissect."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from gbcs.gbt import split

from emulator.cli.inputs import iter_messages
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
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
    "--interval", type=float, default=1.0, show_default=True, help="Seconds between frames."
)
def to_pcap(source: Path | None, output: Path, gbt_block_size: int | None, interval: float) -> None:
    """Write messages from SOURCE (hex lines, 'id<TAB>hex' lines, or a JSON vectors file;
    standard input when absent or '-') to a pcap file."""
    path = None if source is None or str(source) == "-" else source
    if path is not None and not path.is_file():
        raise click.ClickException(f"{path}: no such file")
    records: list[PcapRecord] = []
    skipped = 0
    t = 0.0
    for ident, item in iter_messages(path, iter(sys.stdin)):
        if isinstance(item, str):
            click.echo(f"warning: {ident}: {item}", err=True)
            skipped += 1
            continue
        if gbt_block_size is None:
            frames = [item]
        else:
            try:
                frames = split(item, block_size=gbt_block_size)
            except (GbcsDecodeError, GbcsEncodeError) as e:
                click.echo(f"warning: {ident}: cannot split: {e}", err=True)
                skipped += 1
                continue
        for i, frame in enumerate(frames):
            info = ident if len(frames) == 1 else f"{ident} block {i + 1}/{len(frames)}"
            records.append(PcapRecord(frame, t, info))
            t += interval
    output.write_bytes(write_pcap(records))
    click.echo(
        f"wrote {len(records)} frame(s) to {output}" + (f", skipped {skipped}" if skipped else ""),
        err=True,
    )

"""``python -m hil``: the ``gbcs-emu hil`` commands without the entry point."""

from hil.cli import hil_group

hil_group(prog_name="python -m hil")

"""``python -m emulator`` runs the ``gbcs-emu`` command line."""

from emulator.cli import main

main(prog_name="gbcs-emu")

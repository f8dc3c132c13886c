"""Two ptys linked through a relay that paces bytes as a real UART line would.

A pty ignores its baud rate: bytes written to one end of a socat pty pair arrive at the
other as fast as the kernel moves them. :func:`paced_ports` instead opens two
``os.openpty()`` pairs and relays between their masters in a thread, releasing each byte
no earlier than a serial line of ``baud`` bits/s would have finished carrying it (8N1:
ten bits a byte, so 11,520 bytes/s each way at 115200). Each direction is its own line
(full duplex); bytes queue behind one another as in a UART's transmit FIFO. With
``baud=None`` the relay forwards at once: the unpaced baseline through the same code.

Used by ``benchmarks/hil_conformance.py``; not part of the product.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections.abc import Iterator
from dataclasses import dataclass, field

BITS_PER_BYTE_8N1 = 10  # start bit, 8 data bits, stop bit


def byte_seconds(baud: int, bits_per_byte: int = BITS_PER_BYTE_8N1) -> float:
    """Seconds one byte occupies a line of ``baud`` bits/s."""
    return bits_per_byte / baud


@dataclass(slots=True)
class _Direction:
    """One way of the line: bytes read from ``src`` and delivered to ``dst``."""

    src: int
    dst: int
    pending: bytearray = field(default_factory=bytearray)
    next_done: float = 0.0  # when pending[0] has been fully carried (monotonic seconds)
    last_done: float = 0.0  # when the last delivered byte had been fully carried
    carried: int = 0
    late_max: float = 0.0  # the largest delay past its due time at which a byte went out

    def arrive(self, data: bytes, now: float, per_byte: float | None) -> None:
        if per_byte is not None and not self.pending:
            # the line starts carrying the first byte when it is free again
            self.next_done = max(now, self.last_done) + per_byte
        self.pending += data

    def due(self, now: float, per_byte: float | None) -> int:
        """How many pending bytes the line has finished carrying by ``now``."""
        if not self.pending:
            return 0
        if per_byte is None:
            return len(self.pending)
        if now < self.next_done:
            return 0
        return min(len(self.pending), int((now - self.next_done) / per_byte) + 1)

    def deliver(self, n: int, now: float, per_byte: float | None) -> None:
        os.write(self.dst, bytes(self.pending[:n]))  # blocking: the reader drains the pty
        del self.pending[:n]
        self.carried += n
        if per_byte is not None:
            self.late_max = max(self.late_max, now - self.next_done)  # the batch's first
            self.last_done = self.next_done + (n - 1) * per_byte
            self.next_done += n * per_byte


@dataclass(slots=True)
class PacedLink:
    """The two port paths and what the relay carried each way."""

    a: str
    b: str
    baud: int | None
    _ab: _Direction
    _ba: _Direction

    @property
    def bytes_a_to_b(self) -> int:
        """Bytes delivered from the ``a`` end to the ``b`` end."""
        return self._ab.carried

    @property
    def bytes_b_to_a(self) -> int:
        """Bytes delivered from the ``b`` end to the ``a`` end."""
        return self._ba.carried

    @property
    def late_max(self) -> float:
        """The worst lateness of a delivered byte past its due time (relay jitter), s."""
        return max(self._ab.late_max, self._ba.late_max)


def _relay(ab: _Direction, ba: _Direction, per_byte: float | None, stop: threading.Event) -> None:
    both = (ab, ba)
    while not stop.is_set():
        now = time.monotonic()
        waits = [d.next_done - now for d in both if d.pending and per_byte is not None]
        timeout = max(0.0, min([0.1, *waits]))
        ready, _, _ = select.select([ab.src, ba.src], [], [], timeout)
        now = time.monotonic()
        for d in both:
            if d.src in ready:
                try:
                    data = os.read(d.src, 4096)
                except OSError:  # a hang-up: wait for the next opener without spinning
                    time.sleep(0.01)
                    continue
                d.arrive(data, now, per_byte)
        for d in both:
            n = d.due(now, per_byte)
            if n:
                d.deliver(n, now, per_byte)


@contextlib.contextmanager
def paced_ports(baud: int | None) -> Iterator[PacedLink]:
    """Two serial port paths wired to each other at ``baud`` bits/s 8N1 (None: unpaced).

    The slave ends stay open here too, so a program closing its port does not hang the
    line up for the next one.
    """
    m1, s1 = os.openpty()
    m2, s2 = os.openpty()
    for fd in (s1, s2):
        tty.setraw(fd)
    per_byte = byte_seconds(baud) if baud is not None else None
    ab, ba = _Direction(m1, m2), _Direction(m2, m1)
    stop = threading.Event()
    thread = threading.Thread(target=_relay, args=(ab, ba, per_byte, stop), daemon=True)
    thread.start()
    try:
        yield PacedLink(os.ttyname(s1), os.ttyname(s2), baud, ab, ba)
    finally:
        stop.set()
        thread.join(timeout=5)
        for fd in (m1, s1, m2, s2):
            with contextlib.suppress(OSError):
                os.close(fd)

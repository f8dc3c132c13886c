"""Chunks of a stream's items, each taken as soon as something is there to take.

A batch decoder works faster on many messages at once (see
:func:`gbcs.inspect.inspect_messages`), but a user piping a live capture into it wants
each line's answer when the line arrives, not when enough lines have followed it.
:func:`ready_chunks` gives both: a thread reads the items ahead into a bounded buffer,
and each chunk is whatever the buffer holds (at least one item, at most ``size``), so a
fast source is read in full chunks and a slow one item by item.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class _ReadAhead(Generic[T]):
    """The buffer between the reading thread and the consumer."""

    def __init__(self, limit: int) -> None:
        self.buf: deque[T] = deque()
        self.limit = limit
        self.cv = threading.Condition()
        self.finished = False  # the source is exhausted, or raised
        self.error: BaseException | None = None
        self.closed = False  # the consumer has stopped: the reader stops too

    def read(self, items: Iterator[T]) -> None:
        try:
            for item in items:
                with self.cv:
                    while len(self.buf) >= self.limit and not self.closed:
                        self.cv.wait()
                    if self.closed:
                        return
                    self.buf.append(item)
                    self.cv.notify()
        except BaseException as e:  # handed to the consumer, raised there in order
            with self.cv:
                self.error = e
        finally:
            with self.cv:
                self.finished = True
                self.cv.notify()

    def take(self, size: int) -> tuple[list[T], bool] | None:
        """Up to ``size`` items once at least one is there, and whether the buffer is
        then empty; None at the end of the source."""
        with self.cv:
            while not self.buf and not self.finished:
                self.cv.wait()
            if not self.buf:
                if self.error is not None:
                    raise self.error
                return None
            n = min(size, len(self.buf))
            chunk = [self.buf.popleft() for _ in range(n)]
            self.cv.notify()  # room for the reader
            return chunk, not self.buf and not self.finished


class ReadyChunks(Generic[T]):
    """``items`` in order, in chunks of 1 to ``size`` items, each as soon as one is read.

    Iterating gives ``(chunk, idle)``; ``idle`` is True when nothing more had been read
    by then (the source is waiting for input), the moment to flush output. An exception
    the source raises is raised here, after every item before it.

    A daemon thread starts reading at once, up to ``2 * size`` items ahead. It stops
    when this is closed (:meth:`close`, the end of a ``with`` block, or garbage
    collection); it cannot stop while the source itself blocks, which is why it is a
    daemon.
    """

    def __init__(self, items: Iterator[T], size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._ahead: _ReadAhead[T] = _ReadAhead(2 * size)
        self._finalizer = weakref.finalize(self, _close, self._ahead)
        threading.Thread(
            target=self._ahead.read, args=(items,), name="batch-readahead", daemon=True
        ).start()

    def __iter__(self) -> ReadyChunks[T]:
        return self

    def __next__(self) -> tuple[list[T], bool]:
        got = self._ahead.take(self.size)
        if got is None:
            raise StopIteration
        return got

    def close(self) -> None:
        """Stop the reading thread (items it had read and not handed out are dropped)."""
        self._finalizer()

    def __enter__(self) -> ReadyChunks[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close(ahead: _ReadAhead[Any]) -> None:
    with ahead.cv:
        ahead.closed = True
        ahead.cv.notify_all()


def ready_chunks(items: Iterator[T], size: int) -> ReadyChunks[T]:
    """A :class:`ReadyChunks` of ``items``: its reading thread has started."""
    return ReadyChunks(items, size)


__all__ = ["ReadyChunks", "ready_chunks"]

"""``decode --batch`` takes its input in chunks, yet answers a slow pipe line by line.

:func:`emulator.cli.readahead.ready_chunks` is driven by sources that block on events,
so what each chunk holds is decided by the test, not by timing; the CLI is run as a
user runs it, fed one line at a time through a pipe.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.cli.readahead import ready_chunks

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
WAIT = 60  # seconds: only a hang ever waits this long


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "batch-readahead"]


def test_a_chunk_holds_what_was_read_and_no_more() -> None:
    ten_read, release = threading.Event(), threading.Event()

    def source() -> Iterator[int]:
        yield from range(10)
        ten_read.set()  # the reader asks for the 11th: all ten are in the buffer
        assert release.wait(WAIT)
        yield from range(10, 13)

    chunks = ready_chunks(source(), 6)  # reads up to 12 ahead
    assert ten_read.wait(WAIT)
    assert next(chunks) == ([0, 1, 2, 3, 4, 5], False)
    assert next(chunks) == ([6, 7, 8, 9], True)  # nothing more ready: the moment to flush
    release.set()
    rest = [x for chunk, _ in chunks for x in chunk]
    assert rest == [10, 11, 12]


def test_the_reader_reads_no_further_ahead_than_two_chunks() -> None:
    asked: list[int] = []

    def source() -> Iterator[int]:
        for n in range(100):
            asked.append(n)
            yield n

    with ready_chunks(source(), 3) as chunks:
        first, _ = next(chunks)
        assert first[0] == 0
        # the reader fills at most 6 ahead, then waits for room
        assert len(asked) <= 1 + len(first) + 6
        assert first + [x for c, _ in chunks for x in c] == list(range(100))


def test_the_first_item_comes_before_the_source_gives_a_second() -> None:
    go = threading.Event()

    def source() -> Iterator[str]:
        yield "first"
        assert go.wait(WAIT)
        yield "second"

    chunks = ready_chunks(source(), 128)
    assert next(chunks) == (["first"], True)  # while the source still waits
    go.set()
    assert list(chunks) == [(["second"], False)]


def test_an_error_from_the_source_comes_after_every_item_before_it() -> None:
    def source() -> Iterator[int]:
        yield from range(5)
        raise ValueError("line 6 is not text")

    got: list[int] = []
    with pytest.raises(ValueError, match="line 6"):
        for chunk, _ in ready_chunks(source(), 2):
            got += chunk
    assert got == [0, 1, 2, 3, 4]


def test_the_reader_stops_when_the_consumer_does() -> None:
    def endless() -> Iterator[int]:
        n = 0
        while True:
            yield n
            n += 1

    before = set(_reader_threads())
    chunks = ready_chunks(endless(), 3)
    first, _ = next(chunks)
    assert first[0] == 0
    [reader] = [t for t in _reader_threads() if t not in before]
    chunks.close()
    reader.join(WAIT)
    assert not reader.is_alive()
    # nor does a reader outlive an abandoned, never-iterated chunker
    chunks = ready_chunks(endless(), 3)
    [reader] = [t for t in _reader_threads() if t not in before]
    del chunks
    reader.join(WAIT)
    assert not reader.is_alive()


def test_a_chunk_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ready_chunks(iter([1]), 0)


def _lines() -> list[str]:
    hexes = [p.read_text().strip() for p in sorted((EXAMPLES / "messages").glob("*.hex"))]
    return [f"m{i}\t{h}" for i, h in enumerate(hexes)] + ["bad\tXYZ", "short\tDF0901"]


def _cli() -> list[str]:
    acb = (EXAMPLES / "acb-eui.txt").read_text().strip()
    keys = str(EXAMPLES / "keys")
    return [sys.executable, "-m", "emulator", "decode", "--batch", "--keys", keys, "--acb", acb]


def test_a_pipe_gets_each_answer_before_it_sends_the_next_line() -> None:
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)  # the flush must be the tool's own
    proc = subprocess.Popen(
        _cli(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    answers: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [answers.put(x) for x in proc.stdout], daemon=True).start()
    got = []
    try:
        for line in _lines():
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
            try:
                got.append(json.loads(answers.get(timeout=WAIT)))
            except queue.Empty:
                pytest.fail(f"no answer to {line.split()[0]} while the pipe stays open")
        proc.stdin.close()
        assert proc.wait(WAIT) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()
        proc.wait()
    assert [r["id"] for r in got] == [line.split("\t")[0] for line in _lines()]
    assert got[-2]["error"].startswith("stdin line") and "error_offset" in got[-1]
    assert any(r.get("signature") == "valid" for r in got)


def test_a_file_a_redirect_and_a_pipe_give_the_same_lines(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    log.write_text("\n".join(_lines() * 40) + "\n")  # several chunks
    from_file = subprocess.run(
        [*_cli(), "--file", str(log)], capture_output=True, cwd=ROOT, timeout=300, check=True
    ).stdout
    with log.open("rb") as f:  # standard input is the file itself
        redirected = subprocess.run(
            _cli(), stdin=f, capture_output=True, cwd=ROOT, timeout=300, check=True
        ).stdout
    piped = subprocess.run(
        _cli(), input=log.read_bytes(), capture_output=True, cwd=ROOT, timeout=300, check=True
    ).stdout
    assert len(from_file.splitlines()) == len(_lines()) * 40
    # the file names its lines by path, standard input by "stdin": otherwise identical
    assert redirected == piped
    assert from_file.replace(str(log).encode(), b"stdin") == piped


def test_lines_before_unreadable_input_are_all_answered(tmp_path: Path) -> None:
    """Standard input that stops being text after many good lines: every line read
    before the bad block is answered, whichever path reads it, then one error line."""
    hexes = [p.read_text().strip() for p in sorted((EXAMPLES / "messages").glob("*.hex"))]
    good = [f"m{i}\t{hexes[i % len(hexes)]}" for i in range(300)]  # past one read block
    log = tmp_path / "log.txt"
    log.write_bytes(("\n".join(good) + "\n").encode() + b"\xff\xfe\x00garbage\n")
    env = dict(os.environ, PYTHONIOENCODING="utf-8:strict")  # binary is an error, not text
    outputs = []
    for extra, how in (((), "redirect"), ((), "pipe"), (("--jobs", "2"), "redirect")):
        with log.open("rb") as f:
            proc = subprocess.run(
                [*_cli(), *extra],
                stdin=f if how == "redirect" else None,
                input=None if how == "redirect" else log.read_bytes(),
                capture_output=True,
                cwd=ROOT,
                env=env,
                timeout=300,
            )
        assert proc.returncode == 1, (extra, how)
        assert b"Traceback" not in proc.stderr
        assert (
            proc.stderr.decode().strip().endswith("give hex lines, or a binary message with --file")
        ), proc.stderr
        outputs.append(proc.stdout)
    # the pipe reads line by line; the redirect and the workers read in chunks of 128
    assert outputs[0] == outputs[1] == outputs[2]
    ids = [json.loads(line)["id"] for line in outputs[0].splitlines()]
    assert len(ids) > 128 and ids == [f"m{i}" for i in range(len(ids))]

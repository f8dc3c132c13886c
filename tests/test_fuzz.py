"""Short fuzz campaign in the default suite (the long one: ``python -m tests.fuzz``)."""

from __future__ import annotations

import os

import pytest

from tests import interop
from tests.fuzz import load_corpus, run

pytestmark = pytest.mark.interop

CASES = int(os.environ.get("GBCS_FUZZ_CASES", "100000"))


def test_mutated_and_random_bytes_only_raise_decode_errors() -> None:
    corpus = load_corpus(str(interop.require_interop() / "vectors.json"))
    stats = run(corpus, CASES, seed=20261123)
    assert stats.cases == CASES
    assert not stats.failures, stats.failures[:5]
    # The campaign must exercise both outcomes, or it tests nothing.
    assert stats.rejected > CASES // 4
    assert stats.decoded > CASES // 100

"""Bad bodies are normal input: every RTDS template's body, mangled (texts replaced by odd
values, elements dropped or repeated, attributes set), gives a Transformed or a one-line
Refusal from the transform, never an exception."""

from __future__ import annotations

import copy
import random

import pytest

pytest.importorskip("lxml", reason="the DUIS model needs lxml (the duis extra)")

from lxml import etree

from emulator.duis import model, transform
from emulator.duis.bodies import Body
from tests import duiskit
from tests import test_duis_transform as pairs

ODD_VALUES = (
    "",
    " ",
    "-1",
    "0",
    "99999999999999999999",
    "abc",
    "2026-13-45T99:99:99Z",
    "1.5",
    "true",
    "NaN",
    "\u00e9\u00e9",
    "x" * 300,
    "AQID",
    "!!",
    "00-DB-12",
    "3000-12-31T00:00:00Z",
    "1999-01-01T00:00:00Z",
)
MANGLED_PER_TEMPLATE = 6


def _mangle(body: etree._Element, rng: random.Random) -> etree._Element:
    el = copy.deepcopy(body)
    nodes = [e for e in el.iter() if isinstance(e.tag, str)]
    for _ in range(rng.randint(1, 3)):
        node = rng.choice(nodes)
        parent = node.getparent()
        op = rng.random()
        if op < 0.5 or parent is None:
            node.text = rng.choice(ODD_VALUES)
        elif op < 0.7:
            parent.remove(node)
        elif op < 0.85:
            parent.append(copy.deepcopy(node))
        else:
            node.set(rng.choice(("index", "auxiliaryControllerN")), rng.choice(ODD_VALUES))
    return el


def test_mangled_template_bodies_never_raise() -> None:
    if not pairs.PAIRS:
        duiskit.require_duis()
    rng = random.Random(20261206)
    keys = pairs._rtds_keys()
    done = refused = 0
    rows = pairs.PAIRS
    for row in rows:
        request = pairs._template(row)
        for _ in range(MANGLED_PER_TEMPLATE):
            mangled = model.Request(request.header, Body.of(_mangle(request.body.element(), rng)))
            result = transform.transform(
                mangled,
                target_type=pairs._device_type(row),
                keys=keys,
                now=pairs.NOW,
                dcc_counter=5,
                esme_variant="A",
                user_role="IS",
                cin="1234",
            )
            assert isinstance(result, transform.Transformed | transform.Refusal), result
            if isinstance(result, transform.Refusal):
                assert "\n" not in result.line() and result.reason
                refused += 1
            done += 1
    assert done == len(rows) * MANGLED_PER_TEMPLATE and refused > done // 4

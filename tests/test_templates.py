"""Shared immutable device templates (issue 13 item 1): one parsed profile per device kind
and process, each device holding only its overlay; state in the overlay form, with the
full form earlier versions wrote still loading to the same behaviour; trust-anchor and
credential extraction cached per key store."""

from __future__ import annotations

from typing import Any

import pytest

from devices import cosem, zcl_model
from devices.cosem import CosemModel, ProfileError, load_profile
from devices.dlms_device import DlmsDevice
from devices.trust import AnchorCell, TrustAnchors, default_anchor_roles
from devices.zigbee_device import ZigbeeDevice
from gbcs.axdr import Data, DataType, encode_data
from gbcs.dlms import DataAccessResult, Obis
from gbcs.errors import GbcsSecurityError
from keys.pki import issue_organisation_keys
from keys.roles import RemotePartyRole as R
from tests.devkit import T0, _authorities, bench

_INTS = {
    DataType.UNSIGNED: 0xFF,
    DataType.LONG_UNSIGNED: 0xFFFF,
    DataType.DOUBLE_LONG_UNSIGNED: 0xFFFFFFFF,
    DataType.ENUM: 0xFF,
}


def _bumped(d: Data) -> Data | None:
    """A different value of ``d``'s exact type tree, or None when there is no easy one."""
    if d.tag in _INTS:
        return Data(d.tag, (d.value + 1) % (_INTS[d.tag] + 1))
    if d.tag == DataType.OCTET_STRING and d.value:
        return Data(d.tag, bytes(d.value[:-1]) + bytes([(d.value[-1] + 1) % 256]))
    if d.tag == DataType.STRUCTURE:
        for i, x in enumerate(d.value):
            y = _bumped(x)
            if y is not None:
                return Data(d.tag, (*d.value[:i], y, *d.value[i + 1 :]))
    return None


def _old_full_form(model: CosemModel) -> dict[str, str]:
    """What ``CosemModel.to_dict`` wrote before templates: every stored writable (or
    overridden) attribute without a bound setter, encoded."""
    out: dict[str, str] = {}
    for o in model.objects():
        for a in sorted(set(o.writable) | o.overridden):
            v = o.attributes.get(a)
            if v is not None and a not in o.setters:
                out[f"{o.class_id}/{o.obis}/{a}"] = encode_data(v).hex()
    return out


def _change_writables(model: CosemModel, every: int = 3) -> list[tuple[Any, int, Data]]:
    """SET every ``every``-th writable stored attribute to another valid value."""
    done = []
    candidates = [
        (o, a)
        for o in model.objects()
        for a in sorted(o.writable)
        if a not in o.setters and o.attributes.get(a) is not None
    ]
    for o, a in candidates[::every]:
        new = _bumped(o.attributes[a])
        if new is not None and o.set(a, new) is DataAccessResult.SUCCESS:
            done.append((o.key, a, new))
    return done


# ------------------------------------------------------------------- COSEM templates


def test_models_of_a_profile_share_one_parse_and_keep_their_own_values() -> None:
    a, b = load_profile("esme"), load_profile("esme")
    assert a._template is b._template  # one parsed profile per kind and process
    changed = _change_writables(a, every=1)
    assert len(changed) >= 50
    for key, attr, new in changed:
        mine, theirs = a.find(*key), b.find(*key)
        template = a._template.index[key].attributes[attr]
        assert mine is not None and theirs is not None
        assert mine.get(attr) == (DataAccessResult.SUCCESS, new) and new != template
        assert theirs.attributes[attr] == template  # b still reads the template


def test_a_fresh_model_saves_nothing_and_a_set_saves_only_itself() -> None:
    m = load_profile("esme")
    assert m.to_dict() == {}
    o, a, new = _change_writables(m, every=1000)[0]
    key = f"{o[0]}/{Obis.from_bytes(o[1])}/{a}"
    assert m.to_dict() == {key: encode_data(new).hex()}
    obj = m.find(o[0], o[1])
    assert obj is not None
    original = load_profile("esme").find(o[0], o[1])
    assert original is not None
    assert obj.set(a, original.attributes[a]) is DataAccessResult.SUCCESS
    assert m.to_dict() == {}  # written back to the template's value: nothing to save


def test_read_only_access_leaves_the_overlay_empty() -> None:
    m = load_profile("esme")
    for o in m.objects():
        for a in list(o.attributes):
            o.get(a)
    assert m.to_dict() == {} and m.changed() == {}


def test_old_full_form_state_loads_to_identical_attributes() -> None:
    b = bench()
    old = b.device("ESME")
    assert isinstance(old, DlmsDevice)
    changed = _change_writables(old.model)
    assert len(changed) >= 10
    state = old.to_dict()
    full = _old_full_form(old.model)
    assert len(full) >= 100  # the old form wrote every writable attribute
    state["cosem"] = full
    new = b.device("ESME")
    assert isinstance(new, DlmsDevice)
    new.load_state(state)
    compared = 0
    for o in old.model.objects():
        twin = new.model.find(o.class_id, o.obis)
        assert twin is not None, o.obis
        assert dict(twin.attributes) == dict(o.attributes), o.obis
        for a in o.attributes:
            if a not in o.getters:
                assert twin.get(a) == o.get(a), (o.obis, a)
                compared += 1
    assert compared >= 200
    # only what differs from the template is saved again
    assert new.model.to_dict() == old.model.to_dict()
    assert len(new.model.to_dict()) == len(changed)


def test_overlay_state_round_trips_through_a_fresh_device() -> None:
    b = bench()
    old = b.device("ESME")
    assert isinstance(old, DlmsDevice)
    _change_writables(old.model, every=5)
    new = b.device("ESME")
    new.load_state(old.to_dict())
    assert new.to_dict()["cosem"] == old.to_dict()["cosem"] != {}


def test_loading_the_overlay_form_resets_what_it_does_not_name() -> None:
    m = load_profile("esme")
    o, a, _ = _change_writables(m, every=1000)[0]
    m.load_dict({})
    obj, original = m.find(o[0], o[1]), load_profile("esme").find(o[0], o[1])
    assert obj is not None and original is not None
    assert obj.attributes[a] == original.attributes[a]


def test_a_bad_saved_value_raises_and_changes_nothing() -> None:
    m = load_profile("esme")
    _change_writables(m, every=7)
    before = m.to_dict()
    good = next(iter(before))
    with pytest.raises(ProfileError, match="nonsense"):
        m.load_dict({good: before[good], "3/nonsense/2": "00"})
    with pytest.raises(ProfileError, match=r"3/1-0:1\.8\.0\.255/2"):
        m.load_dict({"3/1-0:1.8.0.255/2": "zz"})
    assert m.to_dict() == before


def test_snapshot_and_restore_undo_writes_and_added_objects() -> None:
    m = load_profile("esme")
    snap = m.snapshot()
    _change_writables(m, every=2)
    m.require(1, "0-0:96.99.99.255").attributes[2] = Data.unsigned(7)
    assert m.to_dict() != {}
    m.restore(snap)
    assert m.to_dict() == {}
    assert m.find(1, Obis.parse("0-0:96.99.99.255")) is None


def test_deleting_an_attribute_hides_the_template_value() -> None:
    m = load_profile("chf")
    o = next(o for o in m.objects() if o.attributes)
    a = next(iter(o.attributes))
    del o.attributes[a]
    again = m.find(o.class_id, o.obis)
    assert again is not None and a not in again.attributes
    assert load_profile("chf").find(o.class_id, o.obis).attributes.get(a) is not None  # type: ignore[union-attr]


def test_bundled_profile_is_parsed_once() -> None:
    load_profile("chf")
    misses = cosem._bundled.cache_info().misses
    for _ in range(3):
        load_profile("chf")
    assert cosem._bundled.cache_info().misses == misses


# --------------------------------------------------------------------- ZCL templates


def test_zcl_models_share_the_template_and_save_only_changes() -> None:
    a, b = zcl_model.load_profile("gsme"), zcl_model.load_profile("gsme")
    assert a._base is b._base
    before = b.get_int(zcl_model.METERING, zcl_model.CURRENT_SUMMATION_DELIVERED)
    a.set_int(zcl_model.METERING, zcl_model.CURRENT_SUMMATION_DELIVERED, before + 5)
    assert b.get_int(zcl_model.METERING, zcl_model.CURRENT_SUMMATION_DELIVERED) == before
    doc = a.overlay_dict()
    assert list(doc["attributes"]) == ["0x0702/0x0000"]
    assert b.overlay_dict()["attributes"] == {}
    again = zcl_model.ZclModel.from_dict(doc)
    assert again.to_dict() == a.to_dict()


def test_zcl_full_form_state_loads_to_identical_attributes() -> None:
    bb = bench()
    old = bb.device("GSME")
    assert isinstance(old, ZigbeeDevice)
    m = old.model
    m.set_int(zcl_model.METERING, zcl_model.CURRENT_SUMMATION_DELIVERED, 123456)
    m.set_tou_register(2, 77)
    state = old.to_dict()
    state["zcl"] = m.to_dict()  # the full form earlier versions saved
    assert "clusters" in state["zcl"]
    new = bb.device("GSME")
    assert isinstance(new, ZigbeeDevice)
    new.load_state(state)
    for c, entry in m.to_dict()["clusters"].items():
        for aid in entry["attributes"]:
            cid, a = int(c, 16), int(aid, 16)
            assert new.model.read(cid, a) == m.read(cid, a), (c, aid)
    assert new.model.overlay_dict() == m.overlay_dict()
    assert set(new.to_dict()["zcl"]["attributes"]) == {"0x0702/0x0000", "0x0702/0x0102"}


def test_zcl_overlay_restore_resets_unnamed_attributes() -> None:
    m = zcl_model.load_profile("gpf")
    saved = m.overlay_dict()
    before = m.get_int(zcl_model.METERING, zcl_model.CURRENT_SUMMATION_DELIVERED)
    m.set_int(zcl_model.METERING, zcl_model.CURRENT_SUMMATION_DELIVERED, before + 1)
    m.restore(saved)
    assert m.get_int(zcl_model.METERING, zcl_model.CURRENT_SUMMATION_DELIVERED) == before
    with pytest.raises(zcl_model.ZclModelError, match=r"attributes\.0x0702/0x0000"):
        m.restore({**saved, "attributes": {"0x0702/0x0000": {"type": "0x25", "hex": "00"}}})
    assert m.get_int(zcl_model.METERING, zcl_model.CURRENT_SUMMATION_DELIVERED) == before


def test_zcl_clusters_copy_on_first_use_and_keep_saving_the_overlay() -> None:
    m = zcl_model.load_profile("gsme")
    m.set_int(zcl_model.METERING, zcl_model.CURRENT_SUMMATION_DELIVERED, 9)
    full = m.to_dict()
    assert zcl_model.METERING in m.clusters  # copies every attribute into the model
    assert m.to_dict() == full
    assert list(m.overlay_dict()["attributes"]) == ["0x0702/0x0000"]
    del m.clusters[zcl_model.PRICE][0x0303]
    assert "clusters" in m.overlay_dict()  # a deletion needs the full form


# ------------------------------------------------------- trust anchors and credentials


def test_anchor_cells_serialise_once_and_follow_changes() -> None:
    b = bench()
    anchors = TrustAnchors.from_store(b.store, default_anchor_roles("ESME"))
    first = anchors.to_dict()
    assert anchors.to_dict() == first
    supplier, other = anchors.cell(R.SUPPLIER), anchors.cell(R.NETWORK_OPERATOR)
    assert supplier is not None and other is not None
    original = next(d for d in first if d["role"] == int(R.SUPPLIER))["ka"]
    assert original != other.to_dict()["ka"]
    supplier.ka = other.ka
    doc = next(d for d in anchors.to_dict() if d["role"] == int(R.SUPPLIER))
    assert doc["ka"] == other.to_dict()["ka"]  # the cached form follows the new key
    loaded = TrustAnchors.from_dict(anchors.to_dict())
    assert loaded.to_dict() == anchors.to_dict()


def test_anchor_lookup_is_cached_per_store_until_the_store_changes() -> None:
    b = bench()
    roles = (R.SUPPLIER,)
    one = TrustAnchors.from_store(b.store, roles)
    two = TrustAnchors.from_store(b.store, roles)
    assert one.to_dict() == two.to_dict()
    one.replace(AnchorCell(R.SUPPLIER, bytes(8)))
    assert TrustAnchors.from_store(b.store, roles).to_dict() == two.to_dict()
    for k in issue_organisation_keys(
        _authorities(), R.SUPPLIER, bytes.fromhex("90B3D51F30AA0001"), now=T0
    ):
        b.store.add_entry(k.entry())
    with pytest.raises(GbcsSecurityError, match="several"):
        TrustAnchors.from_store(b.store, roles)


def test_shared_key_ids_are_copied_before_a_device_learns_one() -> None:
    b = bench()
    d1, d2 = b.device("ESME"), b.device("GSME")
    assert d1.credentials.key_ids is d2.credentials.key_ids  # one per store
    before = dict(d2.credentials.key_ids)
    issued = issue_organisation_keys(
        _authorities(), R.SUPPLIER, bytes.fromhex("90B3D51F30AA0002"), now=T0
    )
    d1.credentials.learn(issued[0].certificate)
    assert d2.credentials.key_ids == before
    assert len(d1.credentials.key_ids) == len(before) + 1
    saved = d1.credentials.to_dict()
    assert len(saved["key_ids"]) == len(before) + 1
    assert d2.credentials.to_dict()["key_ids"] == {
        k.hex(): v.hex() for k, v in sorted(before.items())
    }

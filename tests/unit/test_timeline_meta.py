"""Reading ``metadata["montage_bridge"]``: one way (timeline_facts.meta_view / our_meta), whatever a
file put there."""

from __future__ import annotations

import opentimelineio as otio
import pytest

from nle_adapters.timeline_facts import META, meta_view, our_meta


@pytest.mark.parametrize("value", [None, "text", 3, ["a", "list"]])
def test_anything_but_a_mapping_reads_as_empty(value: object) -> None:
    clip = otio.schema.Clip(name="c", metadata={META: value})
    assert meta_view(clip) == {} and our_meta(clip) == {}


def test_absent_and_objects_without_metadata_read_as_empty() -> None:
    assert meta_view(otio.schema.Clip(name="c")) == {}
    assert meta_view(object()) == {}  # not an OTIO object at all


def test_view_is_live_and_copy_is_independent() -> None:
    clip = otio.schema.Clip(name="c", metadata={META: {"rate": "25", "mix": {"fade_in": 0.5}}})
    view, copy = meta_view(clip), our_meta(clip)
    assert view["rate"] == "25" and copy == {"rate": "25", "mix": {"fade_in": 0.5}}
    copy["rate"] = "24"
    assert meta_view(clip)["rate"] == "25"  # changing the copy leaves the clip alone
    clip.metadata[META]["rate"] = "50"
    assert view["rate"] == "50"  # the view reads the clip as it is now

"""The protocol documents (docs/protocols/) stay true and self-contained.

* bthome.md's vectors (docs/protocols/vectors/bthome.json): the team's worked example and the
  packets this firmware sends read, in Home Assistant's own BTHome parser (host/ha_view.py), as
  the document says; and the firmware builds exactly the packets the document shows.
* Every meter family has its document and its vectors, and the documents and the README point at
  nothing outside the repository (the team's notes beside it are not part of a clone).

The meter families' vectors are checked on both sides by tests/test_meters_kaskad_1_mt_frame.py, test_sim_meter.py,
test_meters_*.py and test_sim_*.py.
"""

import json
import os
import re

import pytest

import protocol_vectors as vectors
from ha_view import HomeAssistantView

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs", "protocols")
BTHOME = vectors.load("bthome")


def test_the_notes_worked_example_reads_in_home_assistant_as_the_document_says():
    example = BTHOME["notes_worked_example"]
    ha = HomeAssistantView()
    got = ha.receive(vectors.wire(example["advert"]), vectors.wire(BTHOME["scan_response"]), BTHOME["mac"], 1.0)
    assert got == example["ha"]
    assert ha.title(BTHOME["mac"]) == BTHOME["title"]


@pytest.mark.parametrize("packet", BTHOME["firmware"]["packets"], ids=lambda p: p["name"])
def test_the_documented_packets_read_in_home_assistant_as_the_document_says(packet):
    key = bytes.fromhex(packet["bindkey"]) if packet["bindkey"] else None
    got = HomeAssistantView(key).receive(vectors.wire(packet["advert"]), vectors.wire(BTHOME["scan_response"]),
                                         BTHOME["mac"], 1.0)
    assert got == packet["ha"]


@pytest.mark.parametrize("bindkey", [None, "231d39c1d7cc1ab1aee224cd096db932"])
def test_the_firmware_sends_the_documented_packets(bindkey):
    from kaskad import bthome
    from test_bthome import broadcaster, reading

    names = {"energy_t1_wh": "t1", "energy_t2_wh": "t2", "energy_t3_wh": "t3", "battery_pct": "battery",
             "power_cw": "power", "current_ma": "current", "voltage_cv": "voltage"}
    values = {names[field]: value for field, value in BTHOME["firmware"]["reading"].items()}
    b = broadcaster(bytes.fromhex(bindkey) if bindkey else None)
    b.update(reading(values), 0, 1000)
    assert b.scan_response == vectors.wire(BTHOME["scan_response"])
    documented = [p for p in BTHOME["firmware"]["packets"] if p["bindkey"] == bindkey]
    sent = [bytes(b.packet(bthome.PACKET_A)), bytes(b.packet(bthome.PACKET_B))]
    assert [p["name"][0] for p in documented] == ["A", "B"]
    assert sent == [vectors.wire(p["advert"]) for p in documented]


@pytest.mark.parametrize("family", vectors.FAMILIES)
def test_every_family_has_its_document_and_well_formed_vectors(family):
    doc = vectors.load(family)
    assert doc["family"] == family
    path = os.path.join(ROOT, doc["document"])
    with open(path, encoding="utf-8") as source:
        text = source.read()
    assert "vectors/%s.json" % family in text  # the document says where its vectors are
    assert "Differences from the team's notes" in text
    for kind in ("requests", "replies"):
        assert doc[kind], kind
        for vector in doc[kind]:
            for key in ("wire", "seven_bit", "request"):
                if key in vector:
                    assert vectors.wire(vector[key]), (vector["name"], key)


def markdown_files():
    yield os.path.join(ROOT, "README.md")
    for folder, _, files in os.walk(os.path.join(ROOT, "docs")):
        for name in files:
            if name.endswith(".md"):
                yield os.path.join(folder, name)


OUTSIDE = re.compile(r"\.\./shared|/work/shared|shared/protocols")
LINK = re.compile(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("path", list(markdown_files()), ids=lambda p: os.path.relpath(p, ROOT))
def test_the_readme_and_the_documents_point_at_nothing_outside_the_repository(path):
    with open(path, encoding="utf-8") as source:
        text = source.read()
    assert not OUTSIDE.findall(text), "%s points outside the repository" % path
    for target in LINK.findall(text):
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
        assert resolved.startswith(ROOT + os.sep) and os.path.exists(resolved), (path, target)


def test_the_vector_files_are_all_used():
    names = sorted(name[:-5] for name in os.listdir(os.path.join(DOCS, "vectors")) if name.endswith(".json"))
    assert names == sorted(vectors.FAMILIES + ("bthome",))
    for name in names:
        with open(os.path.join(DOCS, "vectors", name + ".json"), encoding="utf-8") as source:
            json.load(source)

"""The firmware and the host client against docs/owner-vectors.json (docs/owner-protocol.md).

The vectors are made by tools/owner_vectors.py with the `cryptography` package's AESCCM and
``struct``, without the firmware. Here the real kaskad.config (on the strict aesio and nvm
stand-ins) is fed every frame of the vector sessions, in order, on one device, and must answer
each with exactly the vector's bytes; kaskad.ccm must seal and open the bare CCM vectors; the
status encoder must produce the status vectors; and host/kaskad_client.py (the CLI's protocol
library) must build the same command frames and open the same responses.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import microcontroller
import pytest

from kaskad import config
from kaskad import session as owner_session
from kaskad.ccm import CCM
from kaskad.store import Store
from kaskad import settings
from kaskad_client import Connection, Refused, parse_meter, parse_status, writes

ROOT = Path(__file__).resolve().parent.parent
VECTORS = json.loads((ROOT / "docs" / "owner-vectors.json").read_text())
B = bytes.fromhex


class Clock:
    def __init__(self):
        self.ms = 0

    def now_ms(self):
        return self.ms


class Device:
    """kaskad.config's side as code.py builds it: a Store in NVM, the claim window open at boot."""

    def __init__(self):
        self.clock = Clock()
        self.lines = []
        self.applied = []
        self.acts = []
        self.store = Store(microcontroller.nvm, self.lines.append)
        self.settings = settings.load({}.get, self.lines.append, store=self.store)
        self.window = config.ClaimWindow(self.clock)
        self.window.open()

    def connect(self, challenge, meter=None):
        return owner_session.ConfigSession(challenge, self.store, self.clock, self.window,
                                    self.settings.file_fingerprints,
                                    lambda key, value: self.applied.append((key, value)),
                                    self.acts.append, self.lines.append, meter)


def test_the_firmware_answers_every_vector_frame_byte_for_byte():
    device = Device()
    for vector in VECTORS["sessions"]:
        if vector["name"] == "after-reset":
            device.window.close()
        if vector["name"] == "meter-state":
            device.window.open()  # a long button press
        state = vector.get("device_meter_state")
        session = device.connect(B(vector["challenge"]), (lambda: B(state)) if state else None)
        steps = vector["steps"]
        for i, step in enumerate(steps):
            response, disconnect = session.handle(B(step["command"]["frame"]))
            assert response is not None, (vector["name"], step["what"])
            assert response.hex() == step["response"]["frame"], (vector["name"], step["what"])
            # the device ends the connection after a refusal and after the session's last step
            # when that step ends it (a reboot, a factory reset, removing one's own key)
            if step["response"].get("refusal") or i < len(steps) - 1:
                assert disconnect == bool(step["response"].get("refusal")), (vector["name"], step["what"])
    assert KEYS_NEVER_IN(device.lines)
    # what the vector sessions did, as the device kept it: the factory reset forgot it all, then
    # the last session claimed it again
    assert device.store.owners == [B(VECTORS["sessions"][-1]["owner_key"])] and device.store.overrides == []
    assert device.acts == [config.ACT_POLL_NOW, config.ACT_FACTORY_RESET]
    assert [key for key, _ in device.applied] == [
        "KASKAD_METER_ADDRESS", "KASKAD_POLL_SECONDS", "KASKAD_BINDKEY", "KASKAD_NAME",
        "KASKAD_ADV_INTERVAL_MS", "KASKAD_ADV_SWITCH_MS", "KASKAD_BINDKEY"]


def KEYS_NEVER_IN(lines):
    keys = {step["command"]["frame"][2:] for v in VECTORS["sessions"] for step in v["steps"]
            if step["what"] == "CLAIM"}
    return not any(key in line.lower() for key in keys for line in lines)


@pytest.mark.parametrize("vector", VECTORS["malformed"], ids=lambda v: v["why"])
def test_malformed_frames_are_refused_as_bad_frames(vector):
    device = Device()
    response, disconnect = device.connect(bytes(11)).handle(B(vector["frame"]))
    assert disconnect and response == bytes((0x7F, vector["code"]))


@pytest.mark.parametrize("vector", VECTORS["ccm"], ids=lambda v: "%d bytes" % (len(v["plaintext"]) // 2))
def test_the_firmware_ccm_seals_and_opens_the_vectors(vector):
    key, nonce, plain, sealed = B(vector["key"]), B(vector["nonce"]), B(vector["plaintext"]), B(vector["sealed"])
    assert sealed == B(vector["ciphertext"]) + B(vector["mic"])
    out = bytearray(len(sealed))
    CCM(key).encrypt_into(nonce, plain, len(plain), out)
    assert bytes(out) == sealed
    opened = bytearray(len(plain))
    assert CCM(key).decrypt_into(nonce, sealed, len(plain), opened) is True
    assert bytes(opened) == plain


@pytest.mark.parametrize("vector", VECTORS["status"], ids=lambda v: "%d bytes" % v["length"])
def test_the_firmware_builds_the_status_vectors_and_the_client_parses_them(vector):
    p = vector["parsed"]
    value = config.status(B(p["challenge"]), tuple(p["version"]), p["owned"], p["encrypted"], p["claimable"],
                          p["meter_address"] or None, p["generation"], p["poll_seconds"], p["last_poll"],
                          p["serial"] or None, p["made"] or None)
    assert value.hex() == vector["status"]
    assert len(value) <= VECTORS["gatt"]["status_max"]
    parsed = parse_status(value)
    assert (parsed["owned"], parsed["encrypted"], parsed["claimable"]) == (p["owned"], p["encrypted"], p["claimable"])
    assert (parsed["meter_address"] or 0, parsed["poll_seconds"], parsed["serial"] or "") == (
        p["meter_address"], p["poll_seconds"], p["serial"])


def test_the_host_client_builds_the_same_commands_and_opens_the_same_responses():
    for vector in VECTORS["sessions"]:
        conn = Connection(B(vector["owner_key"]), B(vector["challenge"]))
        for step in vector["steps"]:
            command, response = step["command"], step["response"]
            if step["what"] == "CLAIM":
                assert conn.claim() == [B(command["frame"])]
            elif "sealed_with" in command or command["seq"] != conn.seq + 1:
                continue  # a replay or a stranger's frame: not something this client makes
            else:
                assert conn.seal(B(command["plaintext"])) == B(command["frame"])
            assert [w.hex() for w in writes(B(command["frame"]))] == command["writes"]
            if response.get("refusal"):
                with pytest.raises(Refused) as refused:
                    conn.open(B(response["frame"]))
                assert refused.value.code == response["code"]
                break
            assert conn.open(B(response["frame"])) == (response["code"], B(response["data"]))


def test_the_vectors_file_is_what_the_generator_writes():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "owner_vectors.py"), "--check"],
                            capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=""))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_host_client_reads_the_meter_answer_vector():
    vector = VECTORS["sessions"][-1]
    step = [step for step in vector["steps"] if step["what"] == "METER"][0]
    assert step["response"]["data"] == vector["device_meter_state"]
    meter = parse_meter(B(step["response"]["data"]))
    assert meter == {"last_poll": 1, "age_s": 75, "flags_a": 0x02, "flags_b": 0x00}
    assert parse_meter(bytes(8))["flags_a"] is None and parse_meter(b"\x00" + b"\xff" * 4 + bytes(3))["age_s"] is None


def test_the_firmware_puts_each_flag_where_the_vectors_say():
    """The METER answer's flag bytes: kaskad.config.METER_FLAG_BITS against the vectors' table,
    written from the document apart from the firmware."""
    from kaskad import config, reading

    names = dict(reading.FLAG_NAMES)
    table = VECTORS["meter_answer"]["flag_bits"]
    assert sorted((names[flag], byte, bit) for flag, byte, bit in config.METER_FLAG_BITS) == \
        sorted((row["name"], row["byte"], row["bit"]) for row in table)
    for row in table:
        flag = [bit for bit, name in reading.FLAG_NAMES if name == row["name"]][0]
        a, b, valid = config.meter_flag_bytes(flag, flag)
        assert valid and (a, b) == ((1 << row["bit"], 0) if row["byte"] == 1 else (0, 1 << row["bit"]))

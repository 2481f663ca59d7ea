"""kaskad.config (the firmware's configuration protocol core) against host/kaskad_client.py, whose
crypto is the `cryptography` package's AESCCM: claim, sealed commands, refusals, time limits.

The firmware runs on the strict aesio stand-in and its Store on the strict nvm stand-in; time is
virtual (a clock the test moves)."""

import os

import microcontroller
import pytest

from kaskad import config, settings
from kaskad import session as protocol
from kaskad.store import Store
from kaskad_client import BadResponse, OwnerClient, Refused, parse_status

KEY_A = bytes(range(1, 17))
KEY_B = bytes(range(101, 117))
CHALLENGE = bytes(range(200, 211))


class Clock:
    def __init__(self):
        self.ms = 0

    def now_ms(self):
        return self.ms


class Device:
    """The firmware's side: store in NVM, claim window opened at boot, callbacks recorded."""

    def __init__(self, file_values=None):
        self.clock = Clock()
        self.lines = []
        self.applied = []
        self.acts = []
        self.file = dict(file_values or {})
        self.store = Store(microcontroller.nvm, self.lines.append)
        self.settings = settings.load(self.file.get, self.lines.append, store=self.store)
        self.window = config.ClaimWindow(self.clock)
        self.window.open()

    def connect(self, challenge=None):
        return protocol.ConfigSession(challenge or os.urandom(config.CHALLENGE_LEN), self.store, self.clock,
                                    self.window, self.settings.file_fingerprints,
                                    lambda key, value: self.applied.append((key, value)),
                                    self.acts.append, self.lines.append, None, self.settings.family)

    def reboot_store(self):
        return Store(microcontroller.nvm, self.lines.append)


def exchange(session, frames):
    """Write each frame; return the responses. Every frame but the last must keep the connection."""
    out = []
    for i, frame in enumerate(frames):
        assert len(frame) <= config.FRAME_MAX
        response, disconnect = session.handle(frame)
        assert response is not None and len(response) <= config.FRAME_MAX
        out.append(response)
        if i < len(frames) - 1:
            assert not disconnect, response
    return out


def run(session, conn, frames):
    """The result (code, data) of the command's last frame; every staged part must answer OK."""
    results = [conn.open(r) for r in exchange(session, frames)]
    assert all(code == protocol.OK for code, _ in results[:-1])
    return results[-1]


def claimed(device, key=KEY_A):
    session = device.connect()
    conn = OwnerClient(key).connect(session.challenge)
    assert run(session, conn, conn.claim()) == (protocol.OK, b"")
    return session, conn


def owner_session(device, key=KEY_A, challenge=None):
    session = device.connect(challenge)
    return session, OwnerClient(key).connect(session.challenge)


# --- claim ---------------------------------------------------------------------------------------
def test_a_claim_inside_the_window_makes_an_owner_that_survives_a_reboot():
    device = Device()
    device.clock.ms = config.CLAIM_WINDOW_MS - 1
    session, conn = claimed(device)
    assert session.proven
    assert device.reboot_store().owners == [KEY_A]
    # the claimer's key now seals commands the device opens
    assert run(session, conn, conn.status())[0] == protocol.OK


def test_a_second_claim_is_refused_and_changes_nothing():
    device = Device()
    claimed(device)
    session = device.connect()
    conn = OwnerClient(KEY_B).connect(session.challenge)
    response, disconnect = session.handle(conn.claim()[0])
    assert disconnect
    with pytest.raises(Refused) as refused:
        conn.open(response)
    assert refused.value.code == protocol.E_OWNED
    assert device.reboot_store().owners == [KEY_A]


@pytest.mark.parametrize("how", ["expired", "closed"])
def test_a_claim_outside_the_window_is_refused(how):
    device = Device()
    if how == "expired":
        device.clock.ms = config.CLAIM_WINDOW_MS
    else:
        device.window.close()
    session = device.connect()
    conn = OwnerClient(KEY_A).connect(session.challenge)
    response, disconnect = session.handle(conn.claim()[0])
    assert disconnect and response == bytes((0x7F, protocol.E_WINDOW_CLOSED))
    assert device.reboot_store().owners == []
    # a long press opens it again
    device.window.open()
    claimed(device)
    assert device.reboot_store().owners == [KEY_A]


# --- sealed commands -----------------------------------------------------------------------------
NAME = "Kitchen meter \u00e9\u00e9\u00e9\u00e9 name!!"  # 29 UTF-8 bytes: three STAGE parts


def test_sealed_commands_change_the_settings_and_are_answered_sealed():
    device = Device({"KASKAD_POLL_SECONDS": 60})
    session, conn = claimed(device)
    bindkey = bytes(range(0xA0, 0xB0))
    assert len(NAME.encode()) == 29
    for frames in (conn.set_meter_address(12345), conn.set_poll_seconds(30), conn.set_bindkey(bindkey),
                   conn.set_name(NAME), conn.set_advertising(500, 2000)):
        assert run(session, conn, frames) == (protocol.OK, b"")
    assert device.applied == [("KASKAD_METER_ADDRESS", 12345), ("KASKAD_POLL_SECONDS", 30),
                              ("KASKAD_BINDKEY", bindkey), ("KASKAD_NAME", NAME),
                              ("KASKAD_ADV_INTERVAL_MS", 500), ("KASKAD_ADV_SWITCH_MS", 2000)]
    # after a reboot the overrides are in force through settings.load
    loaded = settings.load(device.file.get, device.lines.append, store=device.reboot_store())
    assert (loaded.meter_address, loaded.poll_seconds, loaded.bindkey, loaded.name,
            loaded.adv_interval_ms, loaded.adv_switch_ms) == (12345, 30, bindkey, NAME, 500, 2000)
    assert run(session, conn, conn.clear_bindkey()) == (protocol.OK, b"")
    assert settings.load(device.file.get, device.lines.append, store=device.reboot_store()).bindkey is None
    assert run(session, conn, conn.status()) == (protocol.OK, bytes((1, 0, 6)))
    assert run(session, conn, conn.poll_now()) == (protocol.OK, b"")
    assert device.acts == [config.ACT_POLL_NOW]


@pytest.mark.parametrize("frames_of, code", [
    (lambda c: c.set_meter_address(0), protocol.E_BAD_VALUE),
    (lambda c: c.set_poll_seconds(4), protocol.E_BAD_VALUE),
    (lambda c: c.set_advertising(2000, 1000), protocol.E_BAD_VALUE),
    (lambda c: c.set_advertising(10, 1000), protocol.E_BAD_VALUE),
    (lambda c: c.command(protocol.OP_SET_NAME, staged="\u00e9".encode()[:1]), protocol.E_BAD_VALUE),
    (lambda c: c.command(protocol.OP_SET_BINDKEY, staged=b"short"), protocol.E_BAD_LENGTH),
    (lambda c: c.command(protocol.OP_SET_POLL, b"\x01"), protocol.E_BAD_LENGTH),
    (lambda c: c.command(0x7E), protocol.E_UNKNOWN_COMMAND),
])
def test_an_authentic_but_wrong_command_is_answered_with_an_error_and_changes_nothing(frames_of, code):
    device = Device()
    session, conn = claimed(device)
    assert run(session, conn, frames_of(conn))[0] == code
    assert device.applied == [] and device.reboot_store().overrides == []
    assert run(session, conn, conn.set_poll_seconds(30)) == (protocol.OK, b"")  # the connection goes on


# --- what an attacker tries ----------------------------------------------------------------------
def test_a_replayed_capture_is_refused_in_a_new_connection_and_in_the_same_one():
    device = Device()
    claimed(device)
    session, conn = owner_session(device)
    captured = conn.set_poll_seconds(30)
    exchange(session, captured)
    device.applied.clear()
    for replay_in in (session, device.connect()):
        response, disconnect = replay_in.handle(captured[0])
        assert disconnect and response[0] == 0x7F and response[1] in (protocol.E_BAD_SEQ, protocol.E_NOT_OPENED)
    assert device.applied == []


def test_every_single_flipped_bit_of_a_sealed_command_is_refused():
    device = Device()
    claimed(device)
    _, conn = owner_session(device, challenge=CHALLENGE)
    frame = conn.set_meter_address(4242)[0]
    for bit in range(len(frame) * 8):
        tampered = bytearray(frame)
        tampered[bit // 8] ^= 1 << bit % 8
        lines_before = len(device.lines)
        response, disconnect = device.connect(CHALLENGE).handle(bytes(tampered))
        assert disconnect and response[0] == 0x7F, bit
        assert len(device.lines) == lines_before + 1  # one console line
    assert device.applied == []
    response, disconnect = device.connect(CHALLENGE).handle(frame)  # the original still opens
    assert not disconnect and conn.open(response) == (protocol.OK, b"")


def test_every_single_flipped_bit_of_a_response_is_refused_by_the_client():
    device = Device()
    claimed(device)
    session, conn = owner_session(device)
    frame = conn.status()[0]
    response = exchange(session, [frame])[0]
    for bit in range(len(response) * 8):
        tampered = bytearray(response)
        tampered[bit // 8] ^= 1 << bit % 8
        with pytest.raises((BadResponse, Refused)):
            conn.open(bytes(tampered))
    assert conn.open(response)[0] == protocol.OK


def test_a_command_sealed_under_a_removed_owners_key_is_refused():
    device = Device()
    session, conn = claimed(device)
    assert run(session, conn, conn.add_owner(KEY_B)) == (protocol.OK, b"\x01")
    b_session, b_conn = owner_session(device, KEY_B)
    assert run(b_session, b_conn, b_conn.set_poll_seconds(40)) == (protocol.OK, b"")
    assert run(session, conn, conn.remove_owner(1)) == (protocol.OK, b"")
    assert device.reboot_store().owners == [KEY_A]
    # B's open connection and any new one of B's are refused
    for b_session, b_conn in ((b_session, b_conn), owner_session(device, KEY_B)):
        response, disconnect = b_session.handle(b_conn.set_poll_seconds(50)[-1])
        assert disconnect and response == bytes((0x7F, protocol.E_NOT_OPENED))
    assert ("KASKAD_POLL_SECONDS", 50) not in device.applied


def test_owners_are_at_most_four_and_the_last_cannot_be_removed():
    device = Device()
    session, conn = claimed(device)
    assert run(session, conn, conn.remove_owner(0))[0] == protocol.E_LAST_OWNER
    for i in range(3):
        assert run(session, conn, conn.add_owner(bytes([i]) * 16)) == (protocol.OK, bytes((i + 1,)))
    assert run(session, conn, conn.add_owner(KEY_B))[0] == protocol.E_OWNERS_FULL
    assert run(session, conn, conn.remove_owner(4))[0] == protocol.E_NO_SUCH_OWNER
    assert len(device.reboot_store().owners) == 4
    # removing one's own key answers, then ends the connection
    response, disconnect = session.handle(conn.remove_owner(0)[0])
    assert disconnect and conn.open(response) == (protocol.OK, b"")
    assert KEY_A not in device.reboot_store().owners


@pytest.mark.parametrize("owned", [True, False])
def test_garbage_of_every_length_is_refused_without_an_exception(owned):
    device = Device()
    if owned:
        claimed(device)
    else:
        device.window.close()
    owners = list(device.store.owners)
    rng = __import__("random").Random(5)
    for length in range(65):
        for first in (None, 0x01, 0x02, 0x03, 0x7F):
            junk = bytearray(rng.getrandbits(8) for _ in range(length))
            if first is not None and length:
                junk[0] = first
            session = device.connect()
            response, disconnect = session.handle(bytes(junk))
            assert disconnect and response is not None and response[0] == 0x7F, (length, first)
            assert session.handle(b"\x02\x01" + bytes(8)) == (None, True)  # the session stays ended
    assert device.store.owners == owners and device.applied == []


# --- time limits ---------------------------------------------------------------------------------
def test_a_peer_that_proves_nothing_is_disconnected_after_30_s():
    device = Device()
    claimed(device)
    session = device.connect()
    device.clock.ms += protocol.PROVE_WITHIN_MS - 1
    assert not session.should_disconnect()
    device.clock.ms += 1
    assert session.should_disconnect()
    conn = OwnerClient(KEY_A).connect(session.challenge)
    response, disconnect = session.handle(conn.status()[0])
    assert disconnect and response is None


def test_a_proven_connection_ends_after_5_minutes():
    device = Device()
    claimed(device)
    session, conn = owner_session(device)
    start = device.clock.ms
    run(session, conn, conn.status())
    device.clock.ms = start + protocol.CONNECTION_MAX_MS - 1
    assert not session.should_disconnect()
    assert run(session, conn, conn.status())[0] == protocol.OK
    device.clock.ms += 1
    response, disconnect = session.handle(conn.status()[0])
    assert disconnect and response == bytes((0x7F, protocol.E_EXPIRED))


# --- factory reset, reboot, status ---------------------------------------------------------------
def test_factory_reset_forgets_owners_and_overrides_but_never_the_counter():
    device = Device()
    session, conn = claimed(device)
    device.store.counter_end = 8192
    run(session, conn, conn.set_poll_seconds(30))
    run(session, conn, conn.add_owner(KEY_B))
    response, disconnect = session.handle(conn.factory_reset()[0])
    assert disconnect and conn.open(response) == (protocol.OK, b"")
    assert device.acts == [config.ACT_FACTORY_RESET]
    after = device.reboot_store()
    assert (after.owners, after.overrides, after.counter_end) == ([], [], 8192)


def test_reboot_is_answered_then_the_connection_ends():
    device = Device()
    session, conn = claimed(device)
    response, disconnect = session.handle(conn.reboot()[0])
    assert disconnect and conn.open(response) == (protocol.OK, b"")
    assert device.acts == [config.ACT_REBOOT]


def test_the_public_status_reads_back_and_holds_no_key():
    device = Device()
    session, _ = claimed(device)
    value = config.status(session.challenge, (1, 2, 3), True, False, False, 12345, 2, 60, 1, "0123456789", "2019-05")
    assert parse_status(value) == {
        "encrypted": False, "owned": True, "claimable": False, "challenge": session.challenge,
        "version": (1, 2, 3), "meter_address": 12345, "generation": 2, "poll_seconds": 60, "last_poll": 1,
        "serial": "0123456789", "made": "2019-05", "key_refused": False}
    assert KEY_A not in value
    refused = config.status(CHALLENGE, (1, 2, 3), True, False, False, 1, 2, 60, 1, None, None, True)
    assert refused[1] == 0b1010 and parse_status(refused)["key_refused"]
    long = config.status(CHALLENGE, (0, 0, 1), False, True, True, None, 0, 5, 0, "x" * 40, "y" * 40)
    assert len(long) == 26 + 31 + 31 and parse_status(long)["claimable"]


@pytest.mark.parametrize("family, good, bad", [
    ("kaskad-1-mt", (b"\x8d\x4e", 20109), [b"\xff\xff", b"\x00\x00"]),  # 65535: not 1..65534
    ("kaskad-11-c1", (b"\xff\xff", 65535), [b"\x00\x00", (65536).to_bytes(4, "little")]),
    ("mercury-206", ((36896545).to_bytes(4, "little"), 36896545), [(10 ** 9).to_bytes(4, "little")]),
    ("ce-102m", None, [b"\x01\x00", (5).to_bytes(4, "little")]),
])
def test_the_owners_address_is_checked_against_the_configured_family(family, good, bad):
    device = Device({"KASKAD_METER": family})
    session, conn = claimed(device)
    for arg in bad:
        assert run(session, conn, conn.command(protocol.OP_SET_ADDRESS, arg))[0] == protocol.E_BAD_VALUE
    assert run(session, conn, conn.command(protocol.OP_SET_ADDRESS, b"\x01\x00\x00"))[0] == protocol.E_BAD_LENGTH
    assert device.applied == []
    if good is not None:
        assert run(session, conn, conn.command(protocol.OP_SET_ADDRESS, good[0])) == (protocol.OK, b"")
        assert device.applied == [("KASKAD_METER_ADDRESS", good[1])]
        loaded = settings.load(device.file.get, device.lines.append, store=device.reboot_store())
        assert loaded.meter_address == good[1]


def test_an_address_beyond_16_bits_shows_as_ffff_in_the_status():
    value = config.status(CHALLENGE, (1, 2, 3), True, False, False, 36896545, 0, 60, 1, "36896545", None)
    assert parse_status(value)["meter_address"] == config.STATUS_ADDRESS_WIDE == 0xFFFF
    assert parse_status(value)["serial"] == "36896545"

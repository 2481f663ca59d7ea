"""The configuration port with more than one link: the first central keeps the session, any other
link is dropped at once (one configuration connection at a time)."""

import _bleio
from kaskad import config


def ConfigPort(*args):
    """kaskad.gatt.ConfigPort, imported with the radio on, as code.py leaves it (gatt's UUIDs need
    it; the radio is off at power-on and every test starts from a fresh board)."""
    _bleio.adapter.enabled = True
    from kaskad.gatt import ConfigPort as Port
    return Port(*args)


class Link:
    def __init__(self):
        self.dropped = False

    def disconnect(self):
        self.dropped = True


class Adapter:
    def __init__(self, links):
        self.connections = links

    @property
    def connected(self):
        return bool(self.connections)


class Buffer:
    """The command CharacteristicBuffer: one byte stream, ``readinto`` takes what is there."""

    def __init__(self, data=b""):
        self.data = bytearray(data)

    @property
    def in_waiting(self):
        return len(self.data)

    def readinto(self, buf):
        n = min(len(buf), len(self.data))
        buf[:n] = self.data[:n]
        del self.data[:n]
        return n

    def reset_input_buffer(self):
        pass


class Service:
    def __init__(self, data=b""):
        self.command = Buffer(data)
        self.status = b""
        self.response = None


class Session:
    """Records the frames it is handed; refuses an empty one and asks to disconnect, as
    kaskad.session.ConfigSession does for a malformed frame."""

    challenge = bytes(config.CHALLENGE_LEN)

    def __init__(self):
        self.frames = []

    def handle(self, frame):
        self.frames.append(bytes(frame))
        return (b"refused", True) if not frame else (b"ok", False)

    def should_disconnect(self):
        return False


class Clock:
    def now_ms(self):
        return 0


def test_a_second_central_is_dropped_and_the_first_keeps_its_session():
    first, second = Link(), Link()
    adapter = Adapter((first,))
    lines, opened = [], []
    port = ConfigPort(adapter, Service(b""), Clock(), lambda challenge: None,
                      lambda challenge: bytes(config.CHALLENGE_LEN), lambda n: bytes(n), opened.append, lines.append)
    port.tick(0)
    adapter.connections = (first, second)
    port.tick(10)
    assert second.dropped and not first.dropped
    assert port.busy and opened == [True]
    assert "config: a second connection; dropping it" in lines


def port_with(data):
    session = Session()
    service = Service(data)
    port = ConfigPort(Adapter((Link(),)), service, Clock(), lambda challenge: session,
                      lambda challenge: bytes(config.CHALLENGE_LEN), lambda n: bytes(n), lambda is_open: None,
                      lambda line: None)
    port.tick(0)
    return session, service, port


def test_a_frame_length_of_0_or_over_the_maximum_is_refused_at_once():
    for length in (0, config.FRAME_MAX + 1, 255):
        session, service, _ = port_with(bytes((length,)) + bytes(range(40)))
        assert session.frames == [b""] and service.response == b"refused", length


def test_a_frame_of_the_maximum_length_is_handed_over_whole():
    frame = bytes(range(1, config.FRAME_MAX + 1))
    session, service, _ = port_with(bytes((config.FRAME_MAX,)) + frame)
    assert session.frames == [frame] and service.response == b"ok"

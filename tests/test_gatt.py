"""The configuration port with more than one link: the first central keeps the session, any other
link is dropped at once (one configuration connection at a time)."""

from kaskad import config
from kaskad.gatt import ConfigPort


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
    in_waiting = 0

    def reset_input_buffer(self):
        pass


class Service:
    command = Buffer()
    status = b""


class Clock:
    def now_ms(self):
        return 0


def test_a_second_central_is_dropped_and_the_first_keeps_its_session():
    first, second = Link(), Link()
    adapter = Adapter((first,))
    lines, opened = [], []
    port = ConfigPort(adapter, Service(), Clock(), lambda challenge: None,
                      lambda challenge: bytes(config.CHALLENGE_LEN), lambda n: bytes(n), opened.append, lines.append)
    port.tick(0)
    adapter.connections = (first, second)
    port.tick(10)
    assert second.dropped and not first.dropped
    assert port.busy and opened == [True]
    assert "config: a second connection; dropping it" in lines

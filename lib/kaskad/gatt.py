"""The configuration service on the air: _bleio GATT characteristics around kaskad.config.

Service fd6a6a7f-dc80-4975-8990-114ecbf30c45 with three characteristics, status (...c46, read),
command (...c47, write: read through a CharacteristicBuffer, so no write collapses) and response (...c48, notify): see
docs/owner-protocol.md for the UUIDs, properties, and the command stream's ``length(1) frame``
framing (a frame may be split over several writes).

A connection is seen by polling (``_bleio`` has no callbacks): the first ``tick`` that finds a
central connected gives it a session with a fresh challenge, written into the status; a client
reads the status until its challenge is not all zeros (all zeros: no session yet). One
configuration connection at a time: advertising is non-connectable while one is open (the
radio's job), and any extra link is dropped.

A refusal or a finished session ends the connection ``GRACE_MS`` after its response was
notified, so the notification leaves first; a reboot asked over the air waits the same time.
"""

import _bleio

from kaskad import config
from kaskad.clock import ticks_add, ticks_diff

GRACE_MS = 250
STATUS_MAX = config.STATUS_MAX  # the longest status the format allows: 88 bytes
COMMAND_BUFFER = 64  # three frames with their length bytes; a client waits for each response
_NO_CHALLENGE = bytes(config.CHALLENGE_LEN)
_UUID = "fd6a6a7f-dc80-4975-8990-114ecbf30c4"  # + "5" service, "6" status, "7" command, "8" response


class ConfigService:
    """The GATT table, made straight on ``_bleio`` (C on the board, nothing imported into the heap);
    making it registers it with the radio (it cannot be removed). The same calls and arguments as
    adafruit_ble 10.x's Service, Characteristic and StreamIn make (services/__init__.py,
    characteristics/__init__.py, characteristics/stream.py), without importing adafruit_ble: its
    package __init__ (BLERadio, advertising) alone took 15 KB of heap, and a submodule cannot be
    imported without its package's __init__ (py/builtinimport.c, process_import_at_level).

    ``command``: the CharacteristicBuffer of the command stream; ``status`` and ``response`` are
    written (a response is notified to a subscribed central)."""

    def __init__(self):
        ch = _bleio.Characteristic
        no, opened = _bleio.Attribute.NO_ACCESS, _bleio.Attribute.OPEN
        service = _bleio.Service(_bleio.UUID(_UUID + "5"))
        self._status = ch.add_to_service(service, _bleio.UUID(_UUID + "6"), properties=ch.READ,
                                         read_perm=opened, write_perm=no, max_length=STATUS_MAX,
                                         initial_value=bytes(STATUS_MAX))
        stream = ch.add_to_service(service, _bleio.UUID(_UUID + "7"),
                                   properties=ch.WRITE | ch.WRITE_NO_RESPONSE, read_perm=no,
                                   write_perm=opened, max_length=COMMAND_BUFFER)
        self.command = _bleio.CharacteristicBuffer(stream, timeout=0, buffer_size=COMMAND_BUFFER)
        self._response = ch.add_to_service(service, _bleio.UUID(_UUID + "8"),
                                           properties=ch.NOTIFY | ch.READ, read_perm=opened,
                                           write_perm=no, max_length=config.FRAME_MAX,
                                           initial_value=bytes(config.FRAME_MAX))

    @property
    def status(self):
        return self._status.value

    @status.setter
    def status(self, value):
        self._status.value = value

    @property
    def response(self):
        return self._response.value

    @response.setter
    def response(self, value):
        self._response.value = value  # notifies the subscribed central


class ConfigPort:
    """Connections, sessions and frames between the GATT service and ``session.ConfigSession``.

    ``make_session(challenge)`` -> a ConfigSession; ``describe(challenge)`` -> the status bytes;
    ``urandom(n)`` -> n random bytes (os.urandom on the board); ``on_connection(open)``: told
    when a configuration connection opens or closes (the radio's connectable flag).
    """

    def __init__(self, adapter, service, clock, make_session, describe, urandom, on_connection, report):
        self._adapter = adapter
        self._service = service
        self._commands = service.command  # the CharacteristicBuffer
        self._clock = clock
        self._make_session = make_session
        self._describe = describe
        self._urandom = urandom
        self._on_connection = on_connection
        self._report = report
        self.session = None
        self._connection = None
        self._end_at = None  # when to drop the connection (a grace after the last response)
        self._frame = bytearray(config.FRAME_MAX)
        self._one = bytearray(1)
        self._need = 0  # length of the frame being gathered (0: waiting for a length byte)
        self._have = 0
        self.commands = 0  # frames handled, for figures
        self.refresh()

    @property
    def busy(self):
        """A central is connected (the loop then ticks more often)."""
        return self._connection is not None

    def refresh(self):
        """Rewrite the public status (after a poll, a change, a new or closed connection)."""
        session = self.session
        self._service.status = self._describe(session.challenge if session is not None else _NO_CHALLENGE)

    def end(self, why):
        """Drop the configuration connection now (a long press forgot its owner, ...)."""
        if self._connection is not None:
            self._report("config: disconnecting: %s" % why)
            self._drop()

    def tick(self, now_ms):
        adapter = self._adapter
        if not adapter.connected:
            if self._connection is not None:
                self._closed()
            return
        connections = adapter.connections
        if not connections:  # the link is going; the next tick sees it gone
            return
        if self._connection is None or self._connection not in connections:
            if self._connection is not None:
                self._closed()
            self._opened(connections[0], now_ms)
        for extra in connections:
            if extra is not self._connection:
                self._report("config: a second connection; dropping it")
                extra.disconnect()
        if self._end_at is not None:
            if ticks_diff(now_ms, self._end_at) >= 0:
                self._drop()
            return
        session = self.session
        if session is None:
            return
        if session.should_disconnect():  # it says why
            self._drop()
            return
        self._pump(session, now_ms)

    def _opened(self, connection, now_ms):
        self._connection = connection
        self._commands.reset_input_buffer()
        self._need = self._have = 0
        self._end_at = None
        self.session = self._make_session(self._urandom(config.CHALLENGE_LEN))
        self.refresh()
        self._on_connection(True)
        self._report("config: a central connected")

    def _closed(self):
        self._connection = None
        self.session = None
        self._end_at = None
        self.refresh()
        self._on_connection(False)
        self._report("config: the central disconnected")

    def _drop(self):
        connection = self._connection
        self._end_at = None
        try:
            if connection is not None:
                connection.disconnect()
        except Exception as error:  # already gone: the next tick sees it closed
            self._report("config: disconnect failed: %r" % (error,))
        self._closed()

    def _pump(self, session, now_ms):
        """Gather frames from the command stream and answer each one."""
        commands = self._commands
        while commands.in_waiting and self._end_at is None:
            if self._need == 0:
                commands.readinto(self._one)
                length = self._one[0]
                if not 1 <= length <= config.FRAME_MAX:
                    self._answer(session.handle(b""), now_ms)  # a malformed frame: refused
                    return
                self._need = length
                self._have = 0
                continue
            part = memoryview(self._frame)[self._have:self._need]
            self._have += commands.readinto(part) or 0
            if self._have == self._need:
                frame = bytes(self._frame[:self._need])
                self._need = 0
                self.commands += 1
                self._answer(session.handle(frame), now_ms)

    def _answer(self, result, now_ms):
        response, disconnect = result
        if response is not None:
            self._service.response = response  # notifies the subscribed central
        if disconnect:
            self._end_at = ticks_add(now_ms, GRACE_MS)
        else:
            self.refresh()  # ownership or settings may have changed

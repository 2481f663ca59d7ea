"""The radio: both BTHome packets on air in turn, one every advertising interval, each staying on
air for ``switch_ms`` before the other takes its place.

The board's radio repeats whatever was last given to ``start_advertising`` by itself, so the
firmware only acts at a switch, when the packet on air changes (sent at once, not at the next
switch), and when advertising stopped behind its back: on the board a central that connects
stops it, and nothing restarts it (``keep_on_air`` does, from the loop).

Connectable: while no configuration connection is open the advertisements are connectable, so
the owner can connect; during one they are not (one configuration connection at a time), and the
beacons go on so Home Assistant keeps receiving.

With nothing to publish (the hold after boot, no safe encryption counter) it sends the
broadcaster's idle packet: the flags and the local name, plain with an empty BTHome header so
Home Assistant can already discover the device under its name; encrypted without BTHome data
(Home Assistant warns about plaintext BTHome from a device it has a key for).

Each ``broadcaster.packet()`` call takes a new packet id (and counter): call it once per start.
"""

from kaskad.bthome import PACKET_A, PACKET_B, CHANGED_A, CHANGED_B
from kaskad.clock import ticks_add, ticks_diff



def interval_seconds(ms):
    """The advertising interval as the float seconds ``start_advertising`` takes.

    The board keeps the interval in 0.625 ms units: ``SEC_TO_UNITS(interval, UNIT_0_625_MS) + 0.5``
    truncated (ports/nordic/common-hal/_bleio/Adapter.c), after checking 0.02f <= interval <=
    10.24f (shared-bindings/_bleio/Adapter.c). This sends the exact middle of the unit nearest to
    ``ms`` (units / 1600 s), so the float's rounding is half a unit away from moving it, and the
    ends are 0.02 and 10.24 themselves, which read back as exactly 0.02f and 10.24f (py/obj.h
    refills the two low mantissa bits), never a hair outside the range.
    """
    return ((16 * ms + 5) // 10) / 1600  # float-ok: the board's API takes seconds; never a measurement


class Radio:
    def __init__(self, adapter, broadcaster, interval_ms, switch_ms, report):
        self._adapter = adapter
        self._broadcaster = broadcaster
        self._interval_s = interval_seconds(interval_ms)
        self.switch_ms = switch_ms
        self._report = report
        self.on_air = PACKET_B  # the first switch puts packet A on air
        self.next_switch_ms = 0  # ticks; before the first switch (restarts == 0) a switch is due
        self.restarts = 0
        self.connectable = True
        self._silent = True  # nothing was given to the radio (or it was told to stop)

    def set_timing(self, interval_ms, switch_ms, now_ms):
        """New interval and switch period, in force at once."""
        self._interval_s = interval_seconds(interval_ms)
        self.switch_ms = switch_ms
        self.next_switch_ms = ticks_add(now_ms, switch_ms)
        if self.restarts:
            self._start(self.on_air)

    def set_connectable(self, connectable, now_ms):
        """Connectable or not from now on (the packet on air goes out again at once)."""
        if connectable != self.connectable:
            self.connectable = connectable
            if self.restarts:
                self._start(self.on_air)

    def changed(self, which_bits, now_ms):
        """The broadcaster changed these packets: the one on air goes out again at once."""
        bit = CHANGED_A if self.on_air == PACKET_A else CHANGED_B
        # before the first switch nothing is on air; at a switch the other packet replaces it now
        if which_bits & bit and self.restarts and ticks_diff(self.next_switch_ms, now_ms) > 0:
            self._start(self.on_air)

    def keep_on_air(self, now_ms):
        """Restart advertising if it stopped without being told (a central connected)."""
        if self.restarts and not self._silent and not self._adapter.advertising:
            self._start(self.on_air)

    def ms_to_switch(self, now_ms):
        """ms until the next switch is due (<= 0: due now)."""
        if not self.restarts:
            return 0
        return ticks_diff(self.next_switch_ms, now_ms)

    def due(self, now_ms):
        return self.ms_to_switch(now_ms) <= 0

    def tick(self, now_ms):
        """At a switch time, put the other packet on air; returns True when it switched."""
        if not self.due(now_ms):
            return False
        self.on_air = PACKET_A if self.on_air == PACKET_B else PACKET_B
        self.next_switch_ms = ticks_add(now_ms, self.switch_ms)
        self._start(self.on_air)
        return True

    def _start(self, which):
        broadcaster = self._broadcaster
        data = broadcaster.packet(which)
        if data is None:  # nothing in this one: keep the other on air rather than go silent
            data = broadcaster.packet(PACKET_B if which == PACKET_A else PACKET_A)
        if data is None:
            data = broadcaster.idle_packet()
        adapter = self._adapter
        try:
            if adapter.advertising:
                adapter.stop_advertising()
            self.restarts += 1
            self._silent = data is None
            if data is not None:
                adapter.start_advertising(data, scan_response=broadcaster.scan_response or None,
                                          connectable=self.connectable, interval=self._interval_s)
        except Exception as error:  # the radio must not stop the meter being read
            self._silent = True
            self._report("radio: advertising failed: %r" % (error,))

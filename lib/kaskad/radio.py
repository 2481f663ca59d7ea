"""The radio: both BTHome packets on air in turn, one every advertising interval, each staying on
air for ``switch_ms`` before the other takes its place.

The board's radio repeats whatever was last given to ``start_advertising`` by itself, so the
firmware only acts at a switch, or when the packet on air changes (sent at once, not at the next
switch). With nothing to publish yet (no meter address, every value stale) it sends a BTHome
header without objects, so Home Assistant can already discover the device; when encrypting it
sends nothing instead (Home Assistant warns about plaintext from a device it has a key for).

Each ``broadcaster.packet()`` call takes a new packet id (and counter): call it once per start.
"""

from kaskad.bthome import PACKET_A, PACKET_B, CHANGED_A, CHANGED_B
from kaskad.clock import seconds

EMPTY_ADVERTISEMENT = b"\x02\x01\x06\x04\x16\xd2\xfc\x40"


class Radio:
    def __init__(self, adapter, broadcaster, interval_ms, switch_ms, report):
        self._adapter = adapter
        self._broadcaster = broadcaster
        self._interval_s = seconds(interval_ms)
        self.switch_ms = switch_ms
        self._report = report
        self.on_air = PACKET_B  # the first switch puts packet A on air
        self.next_switch_ms = 0
        self.restarts = 0

    def changed(self, which_bits, now_ms):
        """The broadcaster changed these packets: the one on air goes out again at once."""
        bit = CHANGED_A if self.on_air == PACKET_A else CHANGED_B
        if which_bits & bit and self.restarts:  # before the first switch nothing is on air
            self._start(self.on_air)

    def tick(self, now_ms):
        """At a switch time, put the other packet on air; returns True when it switched."""
        if now_ms < self.next_switch_ms:
            return False
        self.on_air = PACKET_A if self.on_air == PACKET_B else PACKET_B
        self.next_switch_ms = now_ms + self.switch_ms
        self._start(self.on_air)
        return True

    def _start(self, which):
        broadcaster = self._broadcaster
        data = broadcaster.packet(which)
        if data is None:  # nothing in this one: keep the other on air rather than go silent
            data = broadcaster.packet(PACKET_B if which == PACKET_A else PACKET_A)
        adapter = self._adapter
        if data is None and broadcaster.encrypted:
            if adapter.advertising:
                adapter.stop_advertising()
            return
        if data is None:
            data = EMPTY_ADVERTISEMENT
        try:
            if adapter.advertising:
                adapter.stop_advertising()
            adapter.start_advertising(data, scan_response=broadcaster.scan_response or None,
                                      connectable=False, interval=self._interval_s)
            self.restarts += 1
        except Exception as error:  # the radio must not stop the meter being read
            self._report("radio: advertising failed: %r" % (error,))

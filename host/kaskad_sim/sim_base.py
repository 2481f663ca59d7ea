"""What every simulated meter family shares: reply plans, fault queues, audit logs, line faults.

Every family's model builds on `SimFamilyMeter` here (MIRTEK's `meter.SimMeter`, KASKAD-11-C1,
Mercury-206, CE-102M), so the wire model and the pty server drive any of them:

* `hear(byte, now_ns=None)` feeds the meter's receiver one byte (as the 8 bits between start and
  stop bit on the wire) and returns a reply plan, or None. `now_ns` (optional) is when the byte's
  stop bit arrived; families with timeouts (inter-byte gaps, sessions, sleep) use it, and without
  it the model is timing-free.
* `respond(request)` is the timing-free API: the bytes the meter sends back (all chunks joined),
  or None for silence. It uses a fresh receiver but the meter's own state (sessions included).
* A reply plan is a list of (pause_ns, bytes) chunks: the first pause counted from the arrival of
  the request's last stop bit, each later pause from the end of the previous chunk.
* `received` lists every complete, valid request the meter heard (whoever it was addressed to);
  `forbidden` the subset outside the family's read-only allow-list. Neither is ever executed.
  `rejected` lists (reason, bytes) of what the receiver threw away; `sent` every reply as sent
  (faults included); `faults_applied` the fault name per reply ("" = none).

Line faults (LINE_FAULTS) act on the finished reply bytes and are the same for every family;
each family adds its own content faults (checksum, address, status...) in its FAULTS table.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

NS_PER_MS = 1_000_000

Plan = list[tuple[int, bytes]]  # (pause_ns, bytes) chunks, see the module docstring

# Fault name -> default parameters, for the faults that act on a finished reply's bytes.
LINE_FAULTS: dict[str, dict[str, int | str]] = {
    "silent": {},                                   # no reply at all
    "noise": {"count": 8, "mode": "prefix"},        # prefix: `count` random bytes, then the reply;
                                                    # replace: as many random bytes as the reply
                                                    # had, instead of it. Seeded (`seed`).
    "truncated": {"keep": -1},                      # only the first `keep` bytes (default: all
                                                    # but the last), then silence
    "torn": {"at": -1, "pause_ms": 150, "then": "copy"},  # reply[:at] (default: half), pause
                                                    # `pause_ms`, then a complete copy ("copy", as
                                                    # if the meter restarted) or random bytes
    "slow": {"delay_ms": 1500},                     # reply starts `delay_ms` after the stop bit
    "split": {"gap_ms": 20, "chunk": 4},            # `chunk` bytes, pause `gap_ms`, next chunk...
    "gap": {"gap_ms": 200, "at": -1},               # one pause of `gap_ms` before byte `at`
    "echo": {"mode": "replace"},                    # the request's own bytes come back: instead of
                                                    # the reply ("replace") or before it ("prefix"),
                                                    # as a head with a delayed echo would do
}


class TimedReceiver:
    """Base of the families' request receivers: collects bytes in `buf`, and with arrival times
    given, drops a partial request after a pause longer than `gap_ms()` inside it (recorded in
    the meter's `rejected` with GAP_REASON). Subclasses implement `take(byte)`: the request the
    byte completed, or None."""

    GAP_REASON = "inter-byte timeout"

    def __init__(self, meter: "SimFamilyMeter") -> None:
        self.meter = meter
        self.buf = bytearray()
        self.last_ns: int | None = None

    def reset(self) -> None:
        self.buf.clear()
        self.last_ns = None

    def gap_ms(self) -> int:
        return self.meter.interbyte_timeout_ms  # type: ignore[attr-defined]

    def feed(self, byte: int, now_ns: int | None) -> bytes | None:
        if now_ns is not None and self.last_ns is not None and self.buf \
                and now_ns - self.last_ns > self.gap_ms() * NS_PER_MS:
            self.meter.rejected.append((self.GAP_REASON, bytes(self.buf)))
            self.buf.clear()
        self.last_ns = now_ns
        return self.take(byte)

    def take(self, byte: int) -> bytes | None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class QueuedFault:
    name: str
    times: int
    params: dict[str, int | str] = field(default_factory=dict)


class SimFamilyMeter:
    """Base of the family models. Subclasses set FAULTS, ALLOWLIST and implement
    `_new_receiver()` (an object with `feed(byte, now_ns) -> request bytes | None` and `reset()`)
    and `handle_request(request, now_ns) -> Plan | None`."""

    FAULTS: dict[str, dict[str, int | str]] = LINE_FAULTS
    takes_time = True  # hear() accepts now_ns (the MIRTEK SimMeter's does not)

    def __init__(self, *, reply_delay_ms: int, seed: int = 0) -> None:
        self.reply_delay_ms = reply_delay_ms
        self.rng = random.Random(seed)
        self.persistent_fault: str | None = None
        self.persistent_params: dict[str, int | str] = {}
        self._faults: list[QueuedFault] = []
        self.received: list[tuple] = []
        self.forbidden: list[tuple] = []
        self.rejected: list[tuple[str, bytes]] = []
        self.sent: list[bytes] = []
        self.faults_applied: list[str] = []
        self.reboots = 0
        self._receiver = self._new_receiver()

    # ----------------------------------------------------------------------------- receiving
    def _new_receiver(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def handle_request(self, request: bytes, now_ns: int | None) -> Plan | None:  # pragma: no cover
        raise NotImplementedError

    def hear(self, byte: int, now_ns: int | None = None) -> Plan | None:
        """The meter's receiver takes one byte; returns the reply plan if it completed a request
        that gets a reply."""
        if not 0 <= byte <= 0xFF:
            raise ValueError(f"a byte is 0..255, not {byte!r}")
        request = self._receiver.feed(byte, now_ns)
        return None if request is None else self.handle_request(request, now_ns)

    def hear_garbage(self) -> None:
        """Line noise the UART could not frame (wrong baud rate): any partial request is lost."""
        self._receiver.reset()

    def reboot(self) -> None:
        """The meter restarts (a power dip, its watchdog): a request half heard is lost and any
        session it had is over (`_forget_session`); its registers and queued faults stay."""
        self._receiver.reset()
        self.reboots += 1
        self._forget_session()

    def _forget_session(self) -> None:
        """What a restart forgets besides the receiver (families with sessions override it)."""

    def respond(self, request: bytes) -> bytes | None:
        """Timing-free: the bytes sent in answer to `request` (every reply it completes, chunks
        joined), or None if the meter stays silent. Uses a fresh receiver."""
        saved, self._receiver = self._receiver, self._new_receiver()
        out, answered = bytearray(), False
        try:
            for byte in bytes(request):
                plan = self.hear(byte)
                if plan is not None:
                    answered = True
                    out += b"".join(chunk for _, chunk in plan)
        finally:
            self._receiver = saved
        return bytes(out) if answered else None

    # ----------------------------------------------------------------------------- faults
    def inject(self, fault: str, times: int = 1, **params: int | str) -> None:
        """Queue `fault` for the next `times` replies (one-shot faults come before
        `persistent_fault`; each reply gets at most one fault)."""
        if times < 1:
            raise ValueError("times must be >= 1")
        self._faults.append(QueuedFault(fault, times, self._fault_params(fault, params)))

    def _fault_params(self, fault: str, params: dict[str, int | str]) -> dict[str, int | str]:
        if fault not in self.FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {sorted(self.FAULTS)}")
        unknown = set(params) - set(self.FAULTS[fault])
        if unknown:
            raise ValueError(f"fault {fault!r} takes {sorted(self.FAULTS[fault])}, "
                             f"not {sorted(unknown)}")
        return {**self.FAULTS[fault], **params}

    @property
    def pending_faults(self) -> list[tuple[str, int]]:
        """(name, remaining replies) of the queued one-shot faults."""
        return [(f.name, f.times) for f in self._faults]

    def clear_faults(self) -> None:
        self._faults.clear()
        self.persistent_fault = None
        self.persistent_params = {}

    def next_fault(self, only: frozenset[str] | dict | None = None,
                   ) -> tuple[str, dict[str, int | str]]:
        """The fault for the reply being built: ("", {}) for none. Recorded in faults_applied.
        With `only`, a fault not named in it is left for a later reply (a reply it cannot act on,
        e.g. a session message that has no data to corrupt)."""
        fault: tuple[str, dict[str, int | str]] = ("", {})
        if only is not None:
            name = self._faults[0].name if self._faults else self.persistent_fault
            if name and name not in only:
                self.faults_applied.append("")
                return fault
        if self._faults:
            head = self._faults[0]
            head.times -= 1
            if head.times == 0:
                self._faults.pop(0)
            fault = (head.name, head.params)
        elif self.persistent_fault:
            fault = (self.persistent_fault,
                     self._fault_params(self.persistent_fault, self.persistent_params))
        self.faults_applied.append(fault[0])
        return fault

    # ----------------------------------------------------------------------------- replies
    def line_plan(self, name: str, p: dict[str, int | str], reply: bytes,
                  request: bytes) -> Plan | None:
        """Apply line fault `name` (or none) to the finished `reply`; record and return the plan."""
        delay = self.reply_delay_ms * NS_PER_MS
        plan: Plan
        if name == "silent":
            self.sent.append(b"")
            return None
        if name == "noise":
            prefix = p["mode"] == "prefix"
            garbage = self.garbage(int(p["count"]) if prefix else len(reply))
            plan = [(delay, garbage + reply if prefix else garbage)]
        elif name == "truncated":
            keep = len(reply) - 1 if p["keep"] == -1 else int(p["keep"])
            plan = [(delay, reply[:keep])]
        elif name == "torn":
            at = len(reply) // 2 if p["at"] == -1 else int(p["at"])
            rest = reply if p["then"] == "copy" else self.garbage(len(reply))
            plan = [(delay, reply[:at]), (int(p["pause_ms"]) * NS_PER_MS, rest)]
        elif name == "slow":
            plan = [(int(p["delay_ms"]) * NS_PER_MS, reply)]
        elif name == "split":
            size, gap = int(p["chunk"]), int(p["gap_ms"]) * NS_PER_MS
            plan = [(delay if i == 0 else gap, reply[i:i + size])
                    for i in range(0, len(reply), size)]
        elif name == "gap":
            at = len(reply) // 2 if p["at"] == -1 else int(p["at"])
            plan = [(delay, reply[:at]), (int(p["gap_ms"]) * NS_PER_MS, reply[at:])]
        elif name == "echo":
            plan = [(delay, request if p["mode"] == "replace" else request + reply)]
        else:
            plan = [(delay, reply)]
        self.sent.append(b"".join(chunk for _, chunk in plan))
        return plan

    def garbage_byte_ok(self, byte: int, previous: int | None) -> bool:
        """Whether random line noise may hold `byte` after `previous` (None at its start):
        families exclude what would start a frame."""
        return True

    def garbage(self, count: int) -> bytes:
        """`count` seeded random bytes that pass `garbage_byte_ok`."""
        out = bytearray()
        while len(out) < count:
            byte = self.rng.randrange(256)
            if self.garbage_byte_ok(byte, out[-1] if out else None):
                out.append(byte)
        return bytes(out)


def check_uint(value: int, bits: int, name: str) -> int:
    """`value` if it is an int in 0 .. 2**bits - 1; ValueError naming it otherwise."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << bits:
        raise ValueError(f"{name}={value!r} does not fit in {bits} bits")
    return value


__all__ = ["LINE_FAULTS", "NS_PER_MS", "Plan", "QueuedFault", "SimFamilyMeter", "TimedReceiver",
           "check_uint"]

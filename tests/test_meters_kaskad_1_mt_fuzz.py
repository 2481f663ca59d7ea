"""Fuzz: 100 000+ random and mutated replies through the meters' link and the KASKAD-1-MT client.

The meter model's true reply to every request is mutated the way a noisy optical path mangles
bytes. After every poll: nothing escaped as an exception, and every published value is either
unknown or exactly what the meter holds (its state never changes, so any other value is wrong).

Two error models, because CRC8 has limits:
* line errors the frame checks are built to catch (a flipped bit, a burst inside a byte, lost,
  extra, replaced, swapped or repeated bytes, truncation, garbage, another command's reply):
  no wrong value may ever be published;
* errors scattered over several bytes (2 to 4 bits anywhere): CRC8 lets about 1 in 256 through.
  Energy registers are still never wrong (sum check, growth limit, confirming second read);
  instantaneous values have only range checks, so a wrong one may slip through with a corrupt
  reply that the CRC passes: all of them together no more often than CRC8 lets errors through
  (1 reply in 256). The generator is seeded, so the count is the same on every run.
"""

import random

from kaskad import reading as fields
from kaskad_sim.meter import SimMeter
from rig import Rig, expected_reading

REPLIES = 100_000
SCATTERED = 3  # the mutation kind beyond CRC8's guarantee
LINE_ERRORS = [kind for kind in range(14) if kind != SCATTERED]


class MutatingMeter(SimMeter):
    """A meter behind a bad optical path: its replies are mutated at random (seeded)."""

    mutations = 0
    replies = 0
    kinds = LINE_ERRORS
    rng = random.Random(0)
    previous = b""

    def handle_frame(self, wire):
        plan = super().handle_frame(wire)
        if plan is None:
            return None
        type(self).replies += 1
        pause = plan[0][0]
        reply = b"".join(chunk for _, chunk in plan)
        mutated = mutate(self.rng, reply, self.previous)
        type(self).previous = reply
        if mutated != reply:
            type(self).mutations += 1
        return [(pause, mutated)] if mutated else None


def mutate(rng, reply, previous):
    data = bytearray(reply)
    kind = rng.choice(MutatingMeter.kinds)
    if kind == 0:
        return bytes(data)  # intact
    if kind == 1:  # one bit
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    elif kind == 2:  # a burst inside one byte
        i = rng.randrange(len(data))
        data[i] ^= rng.randrange(1, 256)
    elif kind == 3:  # a few bits anywhere
        for _ in range(rng.randint(2, 4)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == 4:  # a byte lost
        del data[rng.randrange(len(data))]
    elif kind == 5:  # a byte too many
        data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
    elif kind == 6:  # cut short
        del data[rng.randrange(1, len(data)):]
    elif kind == 7:  # garbage after the frame
        data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    elif kind == 8:  # garbage before the frame
        data[:0] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    elif kind == 9:  # nothing but garbage
        data = bytearray(rng.randrange(256) for _ in range(rng.randint(0, 60)))
    elif kind == 10:  # two neighbours swapped
        i = rng.randrange(len(data) - 1)
        data[i], data[i + 1] = data[i + 1], data[i]
    elif kind == 11:  # the previous reply instead (another command's answer)
        data = bytearray(previous)
    elif kind == 12:  # a stretch repeated
        i = rng.randrange(len(data))
        j = rng.randrange(i, len(data))
        data[j:j] = data[i:j]
    else:  # a random byte replaced
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


# The model's status: M1 and P1 in byte A (mirtek.md §3), published as these meanings.
STATUS_A = 1 << 4 | 1 << 1
TRUE_FLAGS = fields.FLAG_MAGNET_DC | fields.FLAG_SEAL_TERMINAL_OPEN


def fuzz(kinds, replies, fields_checked, flags_checked=False):
    """Poll meters of each generation until `replies` mutated replies went by; return the number
    of wrong values published per field (only `fields_checked` fail the run at once)."""
    MutatingMeter.replies = MutatingMeter.mutations = 0
    MutatingMeter.kinds = kinds
    MutatingMeter.rng = random.Random(20109)
    wrong = [0] * fields.FIELD_COUNT
    polls = 0
    generations = (("old", 0x30), ("new", 0x90), ("transitional", 0x90))
    for index, (generation, role) in enumerate(generations):
        rig = Rig(meter_class=MutatingMeter, generation=generation, role=role, retries=1,
                  reply_timeout_ms=200, tariffs_raw=(12345678, 2345678, 345678, 0), decimals=2,
                  current_3byte=True, current_raw=70123, flags_a=STATUS_A)
        truth = expected_reading(rig.meter)
        while MutatingMeter.replies < replies * (index + 1) // len(generations):
            rig.poll()  # must not raise
            polls += 1
            now = rig.clock.now_ms()
            reading = rig.reading
            for field in range(fields.FIELD_COUNT):
                value = reading.get(field, now, 10**12)
                if value is not None and value != truth[field]:
                    assert field not in fields_checked, (generation, fields.FIELD_NAMES[field], value)
                    wrong[field] += 1
                    reading.values[field] = None  # count each slip once
                    reading.confirmed_ms[field] = None
            assert reading.serial in (None, rig.meter.serial) and reading.made in (None, rig.meter.made)
            if flags_checked and reading.flags(now, 10**6):
                assert reading.flag_bits == TRUE_FLAGS, (generation, hex(reading.flag_bits))
            rig.vclock.advance_to(rig.vclock.now_ns() + 1_000_000_000)
    assert MutatingMeter.replies >= replies
    assert MutatingMeter.mutations > 0.8 * replies
    print("\nfuzz: %d replies, %d mutated, %d polls, wrong values published: %s" % (
        MutatingMeter.replies, MutatingMeter.mutations, polls,
        {fields.FIELD_NAMES[f]: n for f, n in enumerate(wrong) if n} or "none"))
    return wrong


def test_line_errors_never_escape_and_never_publish_a_wrong_value():
    assert fuzz(LINE_ERRORS, REPLIES, range(fields.FIELD_COUNT), flags_checked=True) == [0] * fields.FIELD_COUNT


def test_scattered_errors_never_publish_a_wrong_energy_register():
    wrong = fuzz([SCATTERED], REPLIES // 5, range(fields.TOTAL + 1))
    # what CRC8 lets through at most: one corrupt reply in 256 taken for good, and each wrong
    # instantaneous value needs one of those
    assert sum(wrong) <= MutatingMeter.mutations // 256, {
        fields.FIELD_NAMES[f]: n for f, n in enumerate(wrong) if n}

"""The configuration service's resident part: the claim window, the public status, the sizes.

What the device needs whether or not a central is connected. One owner's connection (claims,
sealed commands, settings changes) is kaskad.session, imported only when a central connects
(code.py's make_session). The protocol is described in docs/owner-protocol.md. The public status
is a read value of at most STATUS_MAX (88) bytes; a central fetches it with a long read.
"""

from kaskad.clock import ticks_add, ticks_diff
from kaskad.reading import (FLAG_EMERGENCY, FLAG_IMBALANCE, FLAG_MAGNET_AC, FLAG_MAGNET_DC, FLAG_RELAY_OFF,
                            FLAG_SEAL_CASE_OPEN, FLAG_SEAL_MODULE_OPEN, FLAG_SEAL_TERMINAL_OPEN)

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):  # type: ignore[misc]
        return value


CHALLENGE_LEN = const(11)
FRAME_MAX = const(20)
CLAIM_WINDOW_MS = const(600000)

ACT_POLL_NOW = const(1)
ACT_REBOOT = const(2)
ACT_FACTORY_RESET = const(3)

STATUS_FORMAT = const(1)
STATUS_TEXT_MAX = const(31)  # the serial and the date of manufacture, each
# the longest status: 26 fixed bytes and both texts at their longest (see ``status``);
# gatt.ConfigService's status characteristic takes this many (tests/test_gatt_status.py)
STATUS_MAX = const(26 + 2 * STATUS_TEXT_MAX)


class ClaimWindow:
    """Open for CLAIM_WINDOW_MS from boot (code.py calls ``open``) or from a long button press."""

    def __init__(self, clock):
        self._clock = clock
        self._until = None

    def open(self, duration_ms=CLAIM_WINDOW_MS):
        self._until = ticks_add(self._clock.now_ms(), duration_ms)

    def close(self):
        self._until = None

    def is_open(self):
        """Open until its end; once seen closed it stays closed (the loop looks every step), so
        the ticks wrapping after 6.2 days can never reopen it."""
        if self._until is None:
            return False
        if ticks_diff(self._until, self._clock.now_ms()) > 0:
            return True
        self._until = None
        return False


# The METER answer's flag bytes keep format 1's layout, the KASKAD-1-MT's status bytes (the
# owner's tools name the bits by it): (flag by meaning, 1 for byte A or 2 for byte B, bit). A flag
# without a place here (battery low, meter error...) is not in the METER answer.
METER_FLAG_BITS = (
    (FLAG_SEAL_TERMINAL_OPEN, 1, 1), (FLAG_SEAL_CASE_OPEN, 1, 2), (FLAG_SEAL_MODULE_OPEN, 1, 3),
    (FLAG_MAGNET_DC, 1, 4), (FLAG_MAGNET_AC, 1, 5), (FLAG_EMERGENCY, 2, 5), (FLAG_IMBALANCE, 2, 7),
    (FLAG_RELAY_OFF, 2, 3),
)


def meter_flag_bytes(flags, known):
    """FLAG_* bits as the METER answer's bytes A and B, and whether the meter reports any of them
    (a meter whose flags have no place here, as a CE-102M's, answers "none read")."""
    a = 0
    b = 0
    valid = False
    for flag, byte, bit in METER_FLAG_BITS:
        valid = valid or bool(known & flag)
        if flags & flag:
            if byte == 1:
                a |= 1 << bit
            else:
                b |= 1 << bit
    return a, b, valid


STATUS_ADDRESS_WIDE = const(0xFFFF)  # the address does not fit 16 bits (a Mercury-206 serial)


def status(challenge, version, owned, encrypted, claimable, meter_address, generation,
           poll_seconds, last_poll, serial, made, key_refused=False):
    """The public status (read, unsealed), at most STATUS_MAX bytes, little-endian:

        0  1  STATUS_FORMAT (1)
        1  1  flags: bit 0 encryption on, bit 1 has an owner, bit 2 claim window open,
              bit 3 KASKAD_BINDKEY in settings.toml cannot be used: no readings are broadcast
              until the file is fixed or the owner sets a key (or none)
        2 11  this connection's challenge
       13  3  firmware version major, minor, patch
       16  2  meter address (0: not set; STATUS_ADDRESS_WIDE: 65535 or more, see the serial)
       18  1  meter generation: 0 (format 1 gave MIRTEK's here; the reading has no generation)
       19  4  poll period, seconds
       23  1  last poll result (the caller's code: 0 none yet, 1 ok, 2 failed)
       24  1  serial length s (0: unknown), then s bytes of ASCII (at most 31)
    25+s  1  date of manufacture length d, then d bytes of ASCII (at most 31)
    """
    serial = _text(serial)
    made = _text(made)
    out = bytearray(26 + len(serial) + len(made))
    out[0] = STATUS_FORMAT
    out[1] = (1 if encrypted else 0) | (2 if owned else 0) | (4 if claimable else 0) | (8 if key_refused else 0)
    out[2:13] = challenge
    out[13] = version[0]
    out[14] = version[1]
    out[15] = version[2]
    address = meter_address or 0
    if address > STATUS_ADDRESS_WIDE:
        address = STATUS_ADDRESS_WIDE
    out[16] = address & 0xFF
    out[17] = address >> 8
    out[18] = generation & 0xFF
    for i in range(4):
        out[19 + i] = poll_seconds >> (8 * i) & 0xFF
    out[23] = last_poll & 0xFF
    out[24] = len(serial)
    out[25:25 + len(serial)] = serial
    out[25 + len(serial)] = len(made)
    out[26 + len(serial):] = made
    return bytes(out)


def _text(value):
    if value is None:
        return b""
    data = value if type(value) is bytes else str(value).encode()
    return data[:STATUS_TEXT_MAX]

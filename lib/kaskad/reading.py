"""A meter reading that belongs to no protocol: values in fixed integer units, flags by meaning.

Every meter family writes into the same Reading; publishers (BTHome, the console, the status)
read it without knowing which meter answered. A field holds a value only when a reply passed
every check; it remembers when it was last confirmed and reads as None once older than the
maximum age ("a missing value is better than a stale one"). Times are ticks ms (kaskad.clock),
compared only through ``ticks_diff``: they wrap at 2**29 on the board. A field the meter does not offer
stays None forever, so a publisher leaves it out instead of sending zero.

The lists are allocated once; ``forget`` clears them in place.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):  # type: ignore[misc]
        return value


from kaskad.clock import ticks_diff

AGE_LIMIT_MS = const((1 << 28) - 1)  # the longest age ticks can tell; KASKAD_MAX_AGE_SECONDS stays below

# Fields, in fixed units. The first nine keep the indices of kaskad.meter's MIRTEK reading.
ENERGY_T1 = const(0)  # Wh, active import, tariffs T1..T4 at 0..3
TOTAL = const(4)  # Wh, active import, all tariffs
VOLTAGE = const(5)  # 0.01 V
CURRENT = const(6)  # mA
POWER = const(7)  # 0.01 W, active power only
BATTERY = const(8)  # %
APPARENT_POWER = const(9)  # 0.01 VA, only from a meter that gives apparent power and not active
FIELD_COUNT = const(10)
TARIFFS = const(4)
FIELD_NAMES = ("energy_t1_wh", "energy_t2_wh", "energy_t3_wh", "energy_t4_wh", "total_wh",
               "voltage_cv", "current_ma", "power_cw", "battery_pct", "apparent_power_cva")

# Flags by meaning: one bit each. A meter reports only some of them (Reading.flags_known).
FLAG_SEAL_TERMINAL_OPEN = const(0x0001)  # terminal cover opened
FLAG_SEAL_CASE_OPEN = const(0x0002)  # meter case opened
FLAG_SEAL_MODULE_OPEN = const(0x0004)  # module compartment opened
FLAG_MAGNET_DC = const(0x0008)  # a static magnetic field was applied
FLAG_MAGNET_AC = const(0x0010)  # an alternating magnetic field was applied
FLAG_EMERGENCY = const(0x0020)  # the meter reports an emergency / problem state
FLAG_IMBALANCE = const(0x0040)  # current in phase and neutral differ
FLAG_RELAY_OFF = const(0x0080)  # the load relay is open: the consumer is cut off
FLAG_BATTERY_LOW = const(0x0100)  # the clock battery is low or discharged
FLAG_BATTERY_EXPIRED = const(0x0200)  # the clock battery is past its service life
FLAG_METER_ERROR = const(0x0400)  # the meter reports an internal error (memory, checksum, schedule)
FLAG_NAMES = (
    (FLAG_SEAL_TERMINAL_OPEN, "seal_terminal_open"),
    (FLAG_SEAL_CASE_OPEN, "seal_case_open"),
    (FLAG_SEAL_MODULE_OPEN, "seal_module_open"),
    (FLAG_MAGNET_DC, "magnet_dc"),
    (FLAG_MAGNET_AC, "magnet_ac"),
    (FLAG_EMERGENCY, "emergency"),
    (FLAG_IMBALANCE, "imbalance"),
    (FLAG_RELAY_OFF, "relay_off"),
    (FLAG_BATTERY_LOW, "battery_low"),
    (FLAG_BATTERY_EXPIRED, "battery_expired"),
    (FLAG_METER_ERROR, "meter_error"),
)


class Reading:
    """The meter's values with the time each was last confirmed (ticks ms, kaskad.clock).

    Identity, as text or None while unknown: ``family`` (the driver's name, e.g. "mercury-206"),
    ``model`` (what the meter says it is), ``serial``, ``made`` (date of manufacture,
    "YYYY-MM-DD" where the meter gives a date), ``firmware_version``; ``address`` as configured.

    Ticks tell ages apart only up to 2**28 ms (3.1 days), so a field found older than the
    maximum age is marked stale for good (its confirmation time forgotten) until it is confirmed
    again: it can never look fresh after the ticks wrapped. The flags likewise. The loop asks at
    every poll and every packet switch, far more often than that.
    """

    def __init__(self):
        self.values = [None] * FIELD_COUNT
        self.confirmed_ms = [None] * FIELD_COUNT
        self.stale = [False] * FIELD_COUNT
        self.address = None
        self.family = None
        self._clear()

    def _clear(self):
        values = self.values
        confirmed = self.confirmed_ms
        stale = self.stale
        for field in range(FIELD_COUNT):
            values[field] = None
            confirmed[field] = None
            stale[field] = False
        self.model = None
        self.serial = None
        self.made = None
        self.firmware_version = None
        self.flag_bits = 0  # FLAG_* bits set, among flags_known
        self.flags_known = 0  # FLAG_* bits the meter reported in the last status it sent
        self.flags_ms = None  # when the flags were last confirmed
        self.ok = False  # the last poll confirmed every field it asked for

    def set(self, field, value, now_ms):
        self.values[field] = value
        self.confirmed_ms[field] = now_ms
        self.stale[field] = False

    def get(self, field, now_ms, max_age_ms):
        """The field's value, or None when unknown or older than max_age_ms."""
        if self.age_ms(field, now_ms, max_age_ms) is None:
            return None
        return self.values[field]

    def age_ms(self, field, now_ms, max_age_ms):
        """ms since the field was confirmed; None when unknown or stale (then stale for good)."""
        confirmed = self.confirmed_ms[field]
        if confirmed is None:
            return None
        age = ticks_diff(now_ms, confirmed)
        if age > max_age_ms or age < -max_age_ms:  # far negative: the ticks wrapped past 2**28 ms
            self.confirmed_ms[field] = None
            self.stale[field] = True
            return None
        return age

    def is_stale(self, field, now_ms, max_age_ms):
        """Known once, and now older than max_age_ms."""
        self.age_ms(field, now_ms, max_age_ms)
        return self.stale[field]

    def silent(self, now_ms, max_age_ms):
        """True when the meter is not answering: a value it gave has gone stale, or it never
        gave one. A good poll confirms every value again and ends it."""
        heard = False
        for field in range(FIELD_COUNT):
            if self.age_ms(field, now_ms, max_age_ms) is not None:
                heard = True
            elif self.stale[field]:
                return True
        return not heard

    def forget(self):
        """Drop everything but the address and family: the values belong to another meter."""
        self._clear()

    def set_flags(self, flags, known, now_ms):
        """The meter's status, as FLAG_* bits: ``known`` says which of them it reports at all."""
        self.flag_bits = flags & known
        self.flags_known = known
        self.flags_ms = now_ms

    def flags(self, now_ms, max_age_ms):
        """True when the status flags are known and not older than max_age_ms (then the bits are
        in ``flag_bits``, among ``flags_known``)."""
        if self.flags_ms is None:
            return False
        age = ticks_diff(now_ms, self.flags_ms)
        if age > max_age_ms or age < -max_age_ms:  # stale for good, as a field (age_ms)
            self.flags_ms = None
            return False
        return True

    def flag(self, bit, now_ms, max_age_ms):
        """True/False for one FLAG_* bit, or None when the meter does not report it or it is stale."""
        if not self.flags_known & bit or not self.flags(now_ms, max_age_ms):
            return None
        return bool(self.flag_bits & bit)

"""Plausibility limits shared by the meter families (the same as MIRTEK's kaskad.meter).

A checksum lets some damaged frames through (an 8-bit sum or a 7-bit BCC far more than a CRC),
so a value that passed every frame check must still make physical sense before it is published.
Energy registers are the values that matter most and the ones a slip would spoil for good, so a
register that looks wrong is read a second time and published only when both reads agree.
"""

from kaskad.reading import AGE_LIMIT_MS

MAX_POWER_W = 60000  # more than any single-phase household connection: bounds register growth
MAX_POWER_CW = 6000000
MAX_VOLTAGE_CV = 50000  # 500 V
MAX_CURRENT_MA = 200000  # 200 A
MAX_ENERGY_WH = 999999999  # below 2**30: a register stays a small int on the board
MS_PER_WH_AT_MAX_POWER = 60  # 60 kW = 1 Wh every 60 ms


def energy_suspicious(reading, field, value_wh, now_ms, one_count_wh):
    """True when a register needs a confirming second read before it is published: never read
    before, too old to bound its growth, gone backwards, or grown faster than MAX_POWER_W allows
    since it was last confirmed."""
    last = reading.values[field]
    age = reading.age_ms(field, now_ms, AGE_LIMIT_MS)
    if last is None or age is None:
        return True
    growth = value_wh - last
    limit = age // MS_PER_WH_AT_MAX_POWER + one_count_wh
    return not 0 <= growth <= limit


def battery_pct_from_age(months_used, life_months):
    """The old firmware's battery estimate: the share of an assumed battery life not yet used,
    rounded half up, 0 once the life is over; None for an age below zero (a clock or date wrong)."""
    if months_used < 0:
        return None
    left = life_months - months_used
    if left <= 0:
        return 0
    return (left * 200 + life_months) // (2 * life_months)

"""The firmware's clock: integer micro- and milliseconds since boot, from ``time.monotonic_ns``.

``time.monotonic()`` is a 30-bit float on the board and loses precision after hours of uptime;
``monotonic_ns`` is an exact integer. The time module is passed in (code.py gives the board's),
so tests and the PC runner can give a virtual one.
"""


class Clock:
    def __init__(self, time_module):
        self._time = time_module

    def now_us(self):
        return self._time.monotonic_ns() // 1000

    def now_ms(self):
        return self._time.monotonic_ns() // 1000000

    def sleep_ms(self, ms):
        if ms > 0:
            self._time.sleep(seconds(ms))


def seconds(ms):
    """Whole milliseconds as the float seconds that ``time.sleep`` and ``UART.timeout`` take.

    The board keeps ``int(timeout * 1000)`` milliseconds, and a 30-bit float of 0.005 can come
    back as 4.99 ms; asking for ms + 0.5 makes the truncation land exactly on ``ms``.
    """
    return (2 * ms + 1) / 2000  # float-ok: the board's API takes seconds; never a measurement

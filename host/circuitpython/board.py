"""Stand-in for ``board`` on the Adafruit Feather nRF52840 Express.

Exactly the names of ``board_definitions/feather_nrf52840_express`` in circuitpython-stubs
10.3.1, in the same order (the order of the board's pins.c), each bound to the nRF52840 pin it
names. Aliases are the same object (``board.LED is board.D3``). Any other name raises
``AttributeError``, as on the board.
"""
import microcontroller as _mc
from microcontroller import pin as _p

import _harness

board_id = "feather_nrf52840_express"

A0 = _p.P0_04
A1 = _p.P0_05
A2 = _p.P0_30
A3 = _p.P0_28
A4 = _p.P0_02
A5 = _p.P0_03
AREF = _p.P0_31
VOLTAGE_MONITOR = _p.P0_29
BATTERY = _p.P0_29
SWITCH = _p.P1_02
NFC1 = _p.P0_09
NFC2 = _p.P0_10
D2 = _p.P0_10
D5 = _p.P1_08
D6 = _p.P0_07
D9 = _p.P0_26
D10 = _p.P0_27
D11 = _p.P0_06
D12 = _p.P0_08
D13 = _p.P1_09
NEOPIXEL = _p.P0_16
NEOPIXEL_POWER = _p.P1_14
SCK = _p.P0_14
MOSI = _p.P0_13
MISO = _p.P0_15
TX = _p.P0_25
RX = _p.P0_24
SCL = _p.P0_11
SDA = _p.P0_12
L = _p.P1_15
LED = _p.P1_15
RED_LED = _p.P1_15
D3 = _p.P1_15
BLUE_LED = _p.P1_10

# The board prints a pin by the first board name that maps to it (board.L, board.NFC2, ...).
for _name, _value in list(globals().items()):
    if type(_value) is _mc.Pin and _value not in _mc._board_names:
        _mc._board_names[_value] = _name
del _name, _value

_uart = None


def UART():  # type: ignore[no-untyped-def]
    """The board's UART singleton: ``busio.UART(board.TX, board.RX)`` with default settings.

    Made on first use, and again after it has been deinitialized.
    """
    global _uart
    import busio
    if _uart is None or _uart._deinited():
        _uart = None
        _uart = busio.UART(TX, RX)
    return _uart


def SPI():  # type: ignore[no-untyped-def]
    """The board's SPI bus: not simulated on the host."""
    raise NotImplementedError("host stand-in: busio.SPI is not simulated")


def I2C():  # type: ignore[no-untyped-def]
    """The board's I2C bus: not simulated on the host."""
    raise NotImplementedError("host stand-in: busio.I2C is not simulated")


def _forget_singletons() -> None:
    global _uart
    _uart = None


_harness.on_reset(_forget_singletons)

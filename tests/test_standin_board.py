"""board and microcontroller stand-ins: exactly the Feather nRF52840 Express pins, no more."""
import pytest

import _harness
import board
import microcontroller

# board_definitions/feather_nrf52840_express/__init__.pyi in circuitpython-stubs 10.3.1, in order.
STUB_PINS = [
    ("A0", "P0_04"), ("A1", "P0_05"), ("A2", "P0_30"), ("A3", "P0_28"), ("A4", "P0_02"),
    ("A5", "P0_03"), ("AREF", "P0_31"), ("VOLTAGE_MONITOR", "P0_29"), ("BATTERY", "P0_29"),
    ("SWITCH", "P1_02"), ("NFC1", "P0_09"), ("NFC2", "P0_10"), ("D2", "P0_10"), ("D5", "P1_08"),
    ("D6", "P0_07"), ("D9", "P0_26"), ("D10", "P0_27"), ("D11", "P0_06"), ("D12", "P0_08"),
    ("D13", "P1_09"), ("NEOPIXEL", "P0_16"), ("NEOPIXEL_POWER", "P1_14"), ("SCK", "P0_14"),
    ("MOSI", "P0_13"), ("MISO", "P0_15"), ("TX", "P0_25"), ("RX", "P0_24"), ("SCL", "P0_11"),
    ("SDA", "P0_12"), ("L", "P1_15"), ("LED", "P1_15"), ("RED_LED", "P1_15"), ("D3", "P1_15"),
    ("BLUE_LED", "P1_10"),
]


def test_exactly_the_stub_pin_names():
    public = {n for n in vars(board) if not n.startswith("_")}
    assert public == {n for n, _ in STUB_PINS} | {"board_id", "UART", "SPI", "I2C"}
    assert board.board_id == "feather_nrf52840_express"


@pytest.mark.parametrize("name,mcu", STUB_PINS)
def test_each_pin_is_the_mcu_pin_it_names(name, mcu):
    pin = getattr(board, name)
    assert type(pin) is microcontroller.Pin
    assert pin is getattr(microcontroller.pin, mcu)


@pytest.mark.parametrize("name", ["D0", "D1", "D4", "D7", "D8", "A6", "D99", "BUTTON", "UART_TX", "microcontroller"])
def test_a_name_the_board_lacks_raises_attribute_error(name):
    with pytest.raises(AttributeError):
        getattr(board, name)


def test_aliases_are_the_same_object_and_print_by_the_first_name():
    assert board.LED is board.D3 is board.RED_LED is board.L
    assert repr(board.TX) == "board.TX"
    assert repr(board.LED) == "board.L"
    assert repr(board.D2) == "board.NFC2"
    assert repr(microcontroller.pin.P0_00) == "microcontroller.pin.P0_00"


def test_pins_are_hashable_by_identity_and_cannot_be_made_or_changed():
    assert {board.TX: 1}[board.TX] == 1
    assert board.TX != board.RX and board.TX == board.TX
    with pytest.raises(TypeError):
        microcontroller.Pin()
    with pytest.raises(AttributeError):
        board.TX.number = 3


def test_cpu_uid_is_a_read_only_bytearray():
    uid = microcontroller.cpu.uid
    assert type(uid) is bytearray and len(uid) == 8
    with pytest.raises(AttributeError):
        microcontroller.cpu.uid = b"x"
    _harness.set_cpu_uid(b"\x01" * 8)
    assert microcontroller.cpu.uid == bytearray(b"\x01" * 8)
    with pytest.raises(TypeError):
        microcontroller.Processor()
    assert not hasattr(microcontroller, "cpus")  # single-core chip


def test_board_uart_is_a_default_singleton_on_tx_rx():
    u = board.UART()
    assert board.UART() is u
    assert u.baudrate == 9600 and u.timeout == 1.0
    u.deinit()
    assert board.UART() is not u  # remade after deinit


def test_spi_and_i2c_are_not_simulated():
    with pytest.raises(NotImplementedError):
        board.SPI()
    with pytest.raises(NotImplementedError):
        board.I2C()

# vm-heapsize: 192K
# Runs on the MicroPython VM: the whole application loop (kaskad.app.App) over 1000 meter polls,
# and whether its heap grows. Real App, the KASKAD-1-MT family's Meter on its ByteLink, encrypted Broadcaster (aesio from
# host/vm/aesio.py), Radio, Button (keypad from host/vm/keypad.py), Led, ClaimWindow, Store and
# ConfigPort (over an empty _bleio from host/vm: kaskad.gatt needs it only to make its service); the
# hardware is faked: a UART that answers every MIRTEK request as an old-generation meter whose
# values change at every poll, an adapter that advertises what it is given without copying it,
# an empty button event queue, an LED pin, a watchdog and a configuration service that no central
# ever connects to (the idle path that runs for months). Time is a counter: sleeping advances it.
#
# The loop is driven as App.run drives it (step, then clock.sleep_ms(wait_ms)), with the
# board's defaults: a poll every 60 s, the packets switching every 3 s, a step at least every
# 50 ms. Figures: the heap in use after a full collection after poll 10 and after poll 1010 (must
# not grow), then the bytes each kind of step allocates (garbage, collected later) with the
# collector off: idle steps, radio switches, polls. On the board a small int has 31 bits, so
# time.monotonic_ns() is a long int after the first second: the loop keeps its times in
# supervisor.ticks_ms() (kaskad/clock.py), which wraps at 2**29 ms starting 65 536 ms before the
# first wrap, as the board's does; 1000 polls cross the wrap 93 times. Run it where small ints
# have 31 bits with `make vm-wasm FILE=tests/vm/check_loop.py` (WebAssembly MicroPython, wasm32);
# on the 64-bit unix VM a second board whose monotonic_ns starts past 2**62 shows the same.
#
# Heap: 192K, not the default 128K. The whole firmware is imported here from source, and on this
# 64-bit VM its code and module objects alone take about 100 KB (twice the board's 32-bit size);
# the import of kaskad.app already fails in 144K. In use after the warm-up: about 122 KB; 160K
# is the smallest cap that runs; 192K leaves room. The heap cap is not what this check is about:
# growth is.
import gc

from kaskad import bthome, console
from kaskad.meters.kaskad_1_mt import frame as mirtek
from kaskad import app as app_module
from kaskad.app import App, default_name
from kaskad.bthome import Broadcaster, MemoryCounterStore
from kaskad.button import Button
from kaskad.ccm import CCM
from kaskad.clock import Clock
from kaskad.config import ClaimWindow
from kaskad.gatt import ConfigPort
from kaskad.led import Led
from kaskad.radio import Radio
from kaskad.meters.link import ByteLink
from kaskad import meters
from kaskad.settings import Settings
from kaskad.store import Store

ADDRESS = 20109
KEY = bytes([0x23, 0x1D, 0x39, 0xC1, 0xD7, 0xCC, 0x1A, 0xB1, 0xAE, 0xE2, 0x24, 0xCD, 0x09, 0x6D, 0xB9, 0x32])
MAC = bytes([0xC8, 0x1D, 0xF5, 0xED, 0xA8, 0x35])
import sys

# The WebAssembly VM (tools/vm_run.py --vm wasm) never collects while a script runs: its
# gc.collect() only marks a collection as pending until control returns to JavaScript
# (ports/webassembly/main.c, MICROPY_GC_SPLIT_HEAP_AUTO), and its heap grows instead. So there
# gc.mem_alloc() counts every byte allocated since the start -- exact for what a step allocates
# -- but cannot show what stays reachable: the growth over 1000 polls is the unix VM's figure.
GROWING_HEAP = "Emscripten" in getattr(sys.implementation, "_machine", "")
WARM_UP_POLLS = 10
POLLS = 3 if GROWING_HEAP else 1000
TOLERANCE = 0  # bytes of growth allowed over POLLS polls: see the end of the file
problems = []

# --- the console: every line is still built (as on the board); errors are kept, the rest dropped --
errors = []
lines = [0]


def quiet_print(text):
    lines[0] += 1
    if " error: " in text and len(errors) < 20:
        errors.append(text)


console.print = quiet_print  # a module global shadows the builtin for kaskad.console only


# --- time ------------------------------------------------------------------------------------------
TICKS_PERIOD = 1 << 29
TICKS_OFFSET = TICKS_PERIOD - 0x10000  # shared-bindings/supervisor/__init__.c: + 0x1fff0000


class FakeTime:
    """time.monotonic_ns and time.sleep over a counter (check_meter.py's, with an origin), and
    supervisor.ticks_ms. On the board ticks_ms is C returning a small int; here it is worked out
    from the counter when sleeping, or when the fake UART moved the counter (that arithmetic
    allocates on 31 bits, and is the fake's, not the firmware's)."""

    def __init__(self, origin=0):
        self.ns = origin
        self._ticks_at = None
        self._ticks = 0

    def monotonic_ns(self):
        return self.ns

    def ticks_ms(self):
        if self._ticks_at != self.ns:
            self._ticks_at = self.ns
            self._ticks = (self.ns // 1000000 + TICKS_OFFSET) % TICKS_PERIOD
        return self._ticks

    def sleep(self, seconds):
        self.ns += int(seconds * 1000000000)
        self.ticks_ms()


# --- the meter: an old-generation KASKAD-1-MT whose registers and instant values move each poll --
def ascii30(text):
    return text.encode() + bytes(30 - len(text))


SERIAL = ascii30("3171112520109")
MADE = ascii30("04.10.2017")
# reply header: PARAMS (set per reply), reserved, to the reader FFFF, from ADDRESS, CMD (set per
# reply), role 0x30 (old generation), flags, error 0
HEADER = bytes([0, 0, 0xFF, 0xFF, ADDRESS & 0xFF, ADDRESS >> 8, 0, 0x30, 0x04, 0, 0])


class FakeMeter:
    """The replies of check_meter.py, with values that change at every ping (a new poll): energy
    grows by a few 10 Wh counts, power, voltage and current wander. Replies are written into a
    caller's buffer; nothing is allocated per request."""

    def __init__(self):
        self.polls = 0
        self.t1 = 123456  # counts of 10 Wh (config byte 0x92: three tariffs)
        self.t2 = 65432
        self.power = 90  # kW with the decimals of the config byte after it
        self.voltage = 22987  # 0.01 V
        self.current = 4321  # mA
        self._body = bytearray(mirtek.MAX_BODY)
        self._n = 0

    def _next_poll(self):
        self.polls += 1
        p = self.polls
        self.t1 += 1 + p % 3
        self.t2 += p % 2
        self.power = 90 + p % 50
        self.voltage = 22967 + p % 41
        self.current = 4300 + p % 97

    def _u8(self, value):
        self._body[self._n] = value & 0xFF
        self._n += 1

    def _le(self, value, size):
        for i in range(size):
            self._u8(value >> (8 * i))

    def answer(self, command, arg, out, at):
        """Write the stuffed reply to (command, first data byte or -1) into out[at:]; its length."""
        body = self._body
        self._n = 0
        for value in HEADER:
            self._u8(value)
        body[6] = command
        if command == mirtek.CMD_PING:
            self._next_poll()
            self._le(0x1234, 2)
            self._le(ADDRESS, 2)
        elif command == mirtek.CMD_FACTORY_STRING:
            self._u8(arg)
            text = SERIAL if arg == 1 else MADE
            for value in text:
                self._u8(value)
        elif command == mirtek.CMD_ENERGY:
            self._le(self.t1 + self.t2, 4)
            for value in (0x92, 0x0A, 0x30, 0x01, 0x00, 0x00):
                self._u8(value)
            self._le(self.t1, 4)
            self._le(self.t2, 4)
            self._le(0, 8)  # T3, T4
        elif command == mirtek.CMD_BATTERY:
            self._u8(0x78)
            self._u8(0x3C)
        elif command == mirtek.CMD_VOLTAGE:
            self._u8(1)
            self._le(self.voltage, 2)
        elif command == mirtek.CMD_POWER:
            self._le(self.power, 3)
            self._u8(0x92)
            self._u8(0x0A)
        elif command == mirtek.CMD_CURRENT:
            self._u8(1)
            self._le(self.current, 2)
        else:
            raise AssertionError("unexpected command 0x%02x" % command)
        body[0] = self._n - mirtek.HEADER_LEN  # PARAMS: reply, data length
        self._u8(mirtek.crc8(body, 0, self._n))
        out[at] = 0x73
        out[at + 1] = 0x55
        pos = at + 2
        for i in range(self._n):
            value = body[i]
            if value == 0x55 or value == 0x73:
                out[pos] = 0x73
                out[pos + 1] = 0x11 if value == 0x55 else 0x22
                pos += 2
            else:
                out[pos] = value
                pos += 1
        out[pos] = 0x55
        return pos + 1 - at


class ScriptedUart:
    """Hears a request (its echo comes back first, as on the optical head) and answers it, from
    preallocated buffers: what the heap figures show is the firmware's."""

    def __init__(self, time, meter):
        self.time = time
        self.meter = meter
        self.timeout = 1
        self._pending = bytearray(2 * mirtek.MAX_WIRE)
        self._end = 0
        self._at = 0
        self._receiver = mirtek.Framer()  # the firmware's own unstuffing, to read requests
        self.requests = 0

    def reset_input_buffer(self):
        self._end = self._at = 0

    def write(self, buf):
        n = len(buf)
        pending = self._pending
        receiver = self._receiver
        receiver.begin()
        for i in range(n):
            pending[i] = buf[i]
            receiver.unstuff(buf[i])
        self.time.ns += n * 1041667  # the nRF52840 returns once the bytes are out
        body = receiver.buf
        arg = body[mirtek.HEADER_LEN] if receiver.length > mirtek.HEADER_LEN + 1 else -1
        self._end = n + self.meter.answer(body[6], arg, pending, n)
        self._at = 0
        self.requests += 1
        return n

    def readinto(self, buf):
        if self._at >= self._end:
            if self.timeout:
                self.time.ns += int(self.timeout * 1000000000)
            return None
        count = len(buf)
        if count > self._end - self._at:
            count = self._end - self._at
        pending = self._pending
        for i in range(count):
            buf[i] = pending[self._at + i]
        self._at += count
        return count


# --- the radio, the button, the LED, the watchdog, the configuration service --------------------
class FakeAdapter:
    """_bleio.adapter as the Radio and ConfigPort use it. Keeps a reference to the packet it was
    given (no copy: the board copies, the figures must not count a copy the firmware does not
    make); no central ever connects."""

    def __init__(self):
        self.advertising = False
        self.connected = False
        self.connections = ()
        self.starts = 0
        self.data = None
        self.scan_response = None
        self.connectable = None

    def start_advertising(self, data, scan_response=None, connectable=True, interval=0.1):
        if self.advertising:
            raise RuntimeError("Already advertising.")
        self.advertising = True
        self.starts += 1
        self.data = data
        self.scan_response = scan_response
        self.connectable = connectable

    def stop_advertising(self):
        self.advertising = False


class NoEvents:
    """keypad.Keys(...).events with the button never touched."""

    def get_into(self, event):
        return False


class FakePin:
    """digitalio.DigitalInOut: counts level changes."""

    def __init__(self):
        self._value = False
        self.changes = 0

    def switch_to_output(self, value=False, drive_mode=None):
        self._value = value

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, value):
        self._value = value
        self.changes += 1


class FakeWatchdog:
    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class EmptyCommands:
    """The command CharacteristicBuffer with nothing written to it."""

    in_waiting = 0

    def reset_input_buffer(self):
        pass

    def readinto(self, buf):
        return None


class FakeService:
    """ConfigService as ConfigPort uses it: ``command``, and ``status``/``response`` to set."""

    def __init__(self):
        self.command = EmptyCommands()
        self.status = b""
        self.response = b""


# --- the board, wired as code.py wires it ------------------------------------------------------------
def build(origin_ns=0):
    time = FakeTime(origin_ns)
    clock = Clock(time, time.ticks_ms)
    settings = Settings()
    settings.family = meters.load("kaskad-1-mt")  # as settings.load does
    settings.meter_address = ADDRESS
    settings.bindkey = KEY
    meter = FakeMeter()
    uart = ScriptedUart(time, meter)
    adapter = FakeAdapter()
    # microcontroller.nvm is 8 KB outside the heap on the board; 512 erased bytes here (two
    # 256-byte halves) hold the records of an unowned device without taking 8 KB of the heap
    nvm = bytearray(512)
    for i in range(len(nvm)):
        nvm[i] = 0xFF
    store = Store(nvm, problems.append)

    def report(line):
        console.error(clock.now_ms(), line)

    def note(line):
        console.info(clock.now_ms(), line)

    broadcaster = Broadcaster(MAC, default_name(settings), settings.bindkey, MemoryCounterStore(), report)
    radio = Radio(adapter, broadcaster, settings.adv_interval_ms, settings.adv_switch_ms, report)
    window = ClaimWindow(clock)
    window.open()
    pin = FakePin()
    dog = FakeWatchdog()
    link = ByteLink(uart, clock, settings.baud, settings.reply_timeout_ms, retries=settings.retries)
    family_meter = settings.family.Meter(link, clock, settings.meter_address, report)  # as code.py builds it
    app = App(settings, family_meter, clock, broadcaster, radio, window, store, Button(NoEvents()),
              Led(pin, clock.now_ms()), dog, lambda: problems.append("the loop reset the board"))

    def make_session(challenge):
        raise AssertionError("no central connects in this check")

    service = FakeService()
    app.attach_port(ConfigPort(adapter, service, clock, make_session, app.describe, bytes,
                               app.on_connection, note))
    return app, clock, time, adapter, pin, dog, service, meter


def turn(app, clock):
    """One turn of App.run: a step, then sleep until the next one is due."""
    app.step()
    clock.sleep_ms(app.wait_ms())


def run_polls(app, clock, count):
    """Turn the loop until ``count`` more polls have happened; the number of steps taken."""
    target = app.polls + count
    steps = 0
    while app.polls < target:
        turn(app, clock)
        steps += 1
    return steps


def allocations(app, clock, polls):
    """Bytes allocated by App.step() alone, with the collector off during the step, over the
    steps of ``polls`` polls: totals and counts of idle steps, radio switches, polls. (Sleeping
    is left out: Clock.sleep_ms makes a float, boxed on this VM, an immediate on the board.)"""
    radio = app.radio
    sums = [0, 0, 0]
    counts = [0, 0, 0]
    target = app.polls + polls
    gc.disable()
    try:
        while app.polls < target:
            before_polls = app.polls
            before_restarts = radio.restarts
            gc.collect()
            before = gc.mem_alloc()
            app.step()
            used = gc.mem_alloc() - before
            kind = 2 if app.polls != before_polls else (1 if radio.restarts != before_restarts else 0)
            sums[kind] += used
            counts[kind] += 1
            clock.sleep_ms(app.wait_ms())
    finally:
        gc.enable()
    return sums, counts


def per(sums, counts, kind):
    return sums[kind] // counts[kind] if counts[kind] else 0


# --- heap growth over POLLS polls ----------------------------------------------------------------------
def heap_over(app, clock, warm_up, polls):
    """The heap in use (after a full collection) after ``warm_up`` polls and after ``polls`` more,
    and the steps those took. A function, so that nothing new lands in this module's globals (a
    dict that would grow) between the two figures."""
    run_polls(app, clock, warm_up)
    gc.collect()
    start = gc.mem_alloc()
    steps = run_polls(app, clock, polls)
    gc.collect()
    return start, gc.mem_alloc(), steps


app, clock, time, adapter, pin, dog, service, meter = build()
heap_start, heap_end, steps = heap_over(app, clock, WARM_UP_POLLS, POLLS)
growth = heap_end - heap_start
if GROWING_HEAP:
    print("loop heap: not measured on this VM (it collects only between scripts); %d polls, %d steps"
          % (WARM_UP_POLLS + POLLS, steps))
    growth = 0
else:
    print("loop heap: after %d polls %d bytes, after %d polls %d bytes, growth %d bytes over %d polls (%d steps)"
          % (WARM_UP_POLLS, heap_start, WARM_UP_POLLS + POLLS, heap_end, growth, POLLS, steps))

# the loop did what the board does, all along
assert app.polls == WARM_UP_POLLS + POLLS == meter.polls, (app.polls, meter.polls)
assert app.last_poll == app_module.POLL_OK
assert errors == [], errors
assert app.failed_steps == 0 and dog.feeds >= steps, (app.failed_steps, dog.feeds, steps)
assert app.radio.connectable and adapter.advertising and adapter.connectable
switches = (POLLS * app.settings.poll_seconds * 1000) // app.settings.adv_switch_ms
assert adapter.starts >= switches, (adapter.starts, switches)
packet = bytes(adapter.data)
assert packet[7] == bthome.DI_ENCRYPTED and len(packet) == 30, packet
plain = bytearray(len(packet) - 16)
assert CCM(KEY).decrypt_into(MAC + packet[5:8] + packet[-8:-4], packet[8:-8] + packet[-4:], len(plain), plain)
if plain[0] == bthome.OBJ_POWER_24:  # packet B on air (encrypted: no packet id): the last poll's voltage, in 0.1 V, last
    assert plain[-3] == bthome.OBJ_VOLTAGE and plain[-2] | plain[-1] << 8 == (meter.voltage + 5) // 10, plain
else:  # packet A: T1 in Wh (counts of 10 Wh), 0x0A objects, then the problem flag (off)
    assert plain[0] == bthome.OBJ_ENERGY_24 and plain[1] | plain[2] << 8 | plain[3] << 16 == 10 * meter.t1, plain
    assert plain[-2:] == bytes((bthome.OBJ_PROBLEM, 0)), plain
assert pin.changes > 0
assert service.status[23] == app_module.POLL_OK  # the public status follows the polls

# --- what each step allocates (garbage: a collection frees it) ------------------------------------
sums, counts = allocations(app, clock, 3)
idle = per(sums, counts, 0)
print("allocated per idle step: %d bytes, per poll: %d bytes (per radio switch: %d bytes; "
      "%d idle steps, %d switches, %d polls measured)"
      % (idle, per(sums, counts, 2), per(sums, counts, 1), counts[0], counts[1], counts[2]))
if idle:
    problems.append("an idle step allocates %d bytes" % idle)
if per(sums, counts, 1):
    problems.append("a radio switch allocates %d bytes" % per(sums, counts, 1))

# The board's small ints have 31 bits: time.monotonic_ns() is a long int from ~1 s after boot. A
# second board whose counter starts past this VM's small-int range (2**62) shows that the loop's
# idle steps and switches never touch it (on a 31-bit VM the first board shows it already).
app = clock = time = adapter = pin = dog = service = meter = None  # room for a second board
gc.collect()
board = build(1 << 62)
board_app, board_clock = board[0], board[1]
run_polls(board_app, board_clock, 2)
sums, counts = allocations(board_app, board_clock, 1)
print("with monotonic_ns past the small-int range (as on the board after 1 s): allocated per idle "
      "step: %d bytes, per radio switch: %d bytes, per poll: %d bytes"
      % (per(sums, counts, 0), per(sums, counts, 1), per(sums, counts, 2)))
assert errors == [], errors
if per(sums, counts, 0) or per(sums, counts, 1):
    problems.append("past the small-int range an idle step allocates %d bytes, a switch %d"
                    % (per(sums, counts, 0), per(sums, counts, 1)))

# TOLERANCE is 0: after a full collection the heap holds only what is reachable, and the loop's
# state (buffers, cached views, the reading's values) is all made before the warm-up ends, so
# any growth at all is something kept per poll.
if growth > TOLERANCE:
    problems.append("the heap grew by %d bytes over %d polls" % (growth, POLLS))
assert not problems, problems
print("ok")

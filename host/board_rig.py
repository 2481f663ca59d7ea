"""The whole board in virtual time: the unchanged code.py, a simulated meter, an NVM file that
survives resets, and scripted centrals (a phone or PC) acting at exact virtual times.

A script is a generator that yields how many milliseconds to wait; it runs inside the virtual
clock: when the firmware's clock passes the time a script waits for, the clock stops there, the
script acts (connects, reads, writes, presses the button), and the firmware sees the result when
it next looks, as on the board.

    board = Board(tmp_path, "KASKAD_METER_ADDRESS = 20109\\n")
    board.run(60, script=owner_claims(board, key))      # "stop" or "reset"
    board.events            # every advertising event of the run
"""

import _harness
import _vclock
import boot
from kaskad_client import COMMAND_UUID, RESPONSE_UUID, STATUS_UUID, OwnerClient, Refused, no_session_yet, parse_status, writes
from kaskad_sim.meter import SimMeter
from kaskad_sim.wire import SimWire

SECOND = 1_000_000_000
MS = 1_000_000


class Board:
    def __init__(self, tmp_path, settings_text, meter=None):
        self.settings = tmp_path / "settings.toml"
        self.settings.write_text(settings_text)
        self.nvm = tmp_path / "nvm.bin"
        self.meter = meter or SimMeter(address=20109)
        self.events = []
        self.ended = None
        self.reason = None
        self.clock = None
        self.boots = 0

    def run(self, seconds, script=None):
        """Boot code.py (fresh RAM, same NVM, same meter) and run it for ``seconds`` of virtual time
        or until the board resets; returns "stop" or "reset"."""
        clock = _harness.reset()
        self.clock = clock
        self.boots += 1
        self.wire()
        clock.stop_at_ns = int(seconds * SECOND)
        runner = ScriptRunner(clock, script) if script is not None else None
        try:
            boot.run_code_py()
        except _harness.HostReset as reset:
            self.ended, self.reason = "reset", str(reset)
        except _harness.HostStop as stop:
            self.ended, self.reason = "stop", str(stop)
        finally:
            if runner is not None:
                runner.detach()
        if runner is not None and runner.error is not None:
            raise runner.error
        self.events = _harness.ble_adv_events(0, clock.now_ns())
        return self.ended


    def wire(self):
        """After power-on, a reset or a reload: the settings file, the NVM file, the meter."""
        _harness.set_settings_path(str(self.settings))
        _harness.set_nvm_file(str(self.nvm))
        _harness.attach_far_end("TX", "RX", SimWire(self.meter))

    def life(self, on_event=None):
        """The board's whole life from power-on, resets, reloads and safe mode included
        (supervisor_loop.Life), wired as ``run`` wires one boot; call its ``run(seconds)``."""
        from supervisor_loop import Life
        return Life(str(self.settings), on_boot=self.wire, on_event=on_event)


class ScriptRunner:
    """Runs a generator script at exact virtual times, from inside the clock's advances."""

    def __init__(self, clock, script):
        self.clock = clock
        self.script = script
        self.wake_ns = clock.now_ns()
        self.error = None
        self.done = False
        self._busy = False
        _vclock._advance_hooks.append(self._hook)

    def detach(self):
        if self._hook in _vclock._advance_hooks:
            _vclock._advance_hooks.remove(self._hook)

    def _hook(self, clock, now_ns, target_ns):
        if self._busy or self.done:
            return
        self._busy = True
        try:
            while not self.done and self.wake_ns <= target_ns:
                if self.wake_ns > clock.now_ns():
                    clock.advance_to(self.wake_ns)  # stop the clock where the script acts
                try:
                    wait_ms = next(self.script)
                except StopIteration:
                    self.done = True
                    break
                self.wake_ns = clock.now_ns() + max(1, int(wait_ms * MS))
        except (_harness.HostStop, _harness.HostReset):
            raise
        except BaseException as error:  # a failed assertion in the script ends the run
            self.error = error
            self.done = True
            raise _harness.HostStop("script failed: %r" % (error,))
        finally:
            self._busy = False


# --- what a phone does, as script steps (use with ``yield from``) -------------------------------

def connect(central, timeout_ms=5000):
    """Connect as soon as a connectable advertisement is on air; returns the status once the
    device has given this connection its challenge."""
    waited = 0
    while True:
        try:
            central.connect()
            break
        except _harness.CentralError:
            if waited >= timeout_ms:
                raise AssertionError("no connectable advertisement within %d ms" % timeout_ms)
            yield 10
            waited += 10
    central.subscribe(RESPONSE_UUID)
    while True:
        status = central.read(STATUS_UUID)
        if not no_session_yet(status):
            return parse_status(status)
        if waited >= timeout_ms:
            raise AssertionError("no challenge within %d ms of connecting" % timeout_ms)
        yield 10
        waited += 10


def send(central, frame, timeout_ms=3000, log=None):
    """Write one frame and wait for its notification; returns the notification's bytes (or None
    if the device disconnected instead of answering)."""
    start = _harness.clock().now_ns()
    for piece in writes(frame):
        central.write(COMMAND_UUID, piece, response=False)
    waited = 0
    while True:
        got = central.take_notifications(RESPONSE_UUID)
        if got:
            assert len(got) == 1, got
            if log is not None:
                log.append((got[0][0] - start) / MS)
            return got[0][2]
        if not central.connected or waited >= timeout_ms:
            return None
        yield 5
        waited += 5


def command(central, connection, frames, log=None):
    """Send each frame of one command and open each sealed response; returns the last (code, data).
    Raises kaskad_client.Refused on a refusal."""
    result = None
    for frame in frames:
        answer = yield from send(central, frame, log=log)
        assert answer is not None, "no response (connected: %s)" % central.connected
        result = connection.open(answer)
    return result


def claim(central, key):
    """Connect, claim with ``key``, return the proven Connection (kaskad_client)."""
    status = yield from connect(central)
    connection = OwnerClient(key).connect(status["challenge"])
    code, _ = yield from command(central, connection, connection.claim())
    assert code == 0
    return connection


def open_as_owner(central, key):
    status = yield from connect(central)
    return OwnerClient(key).connect(status["challenge"])


__all__ = ["Board", "ScriptRunner", "connect", "send", "command", "claim", "open_as_owner", "Refused", "SECOND", "MS"]

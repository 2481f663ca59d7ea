"""The device twin behind a browser: the real code.py in real time, reachable over a WebSocket.

    twin = WebTwin(tmp_path, settings_text, meter)   # the board's life in a thread, real time
    twin.url                                          # ws://127.0.0.1:PORT for the page's bridge
    twin.stop()

The page's ``navigator.bluetooth`` is replaced by tests/web/fake_web_bluetooth.js, which sends
every GATT call here as JSON. Each WebSocket is one central (a phone or PC), a fake central of the
strict ``_bleio`` stand-in (``_harness.ble_central``). Its calls are carried out in the firmware's
own thread, from a clock hook: whenever code.py sleeps (time.sleep -> the virtual clock, here in
real-time mode), the hook serves the requests that arrived until the sleep is over, as the
SoftDevice serves a central while the board's program sleeps. The firmware sees their effects when
it next looks, and its notifications and disconnections go back to the page as events, in order.

Requests ``{"id", "op", ...}`` -> ``{"id", "ok": true, "result"}`` or ``{"id", "ok": false,
"name": DOMException name, "message"}``. Events: ``{"event": "notify", "uuid", "hex"}``,
``{"event": "disconnected"}``.

The board lives its whole life (host/supervisor_loop.py: power-on, the supervisor's wait, resets
such as a REBOOT asked over the air, the watchdog) with the NVM in a file, so what the owner set
survives a reboot as on the board. Nothing here speaks the owner protocol: frames pass through as
bytes.
"""

import json
import queue
import threading
import time

import _harness
import _vclock
from kaskad_sim.wire import SimWire
from websockets.sync.server import serve

BASE_UUID = "-0000-1000-8000-00805f9b34fb"
STATUS_UUID = "fd6a6a7f-dc80-4975-8990-114ecbf30c46"
COMMAND_UUID = "fd6a6a7f-dc80-4975-8990-114ecbf30c47"
CONNECT_WITHIN_S = 10.0  # Chrome gives up a connection attempt after about 10 s
CHOOSER_WITHIN_S = 10.0  # how long the "user" waits in the chooser for the device to show up


class BridgeError(Exception):
    def __init__(self, name, message):
        super().__init__(message)
        self.name = name


def ad_structures(data):
    """The AD structures of advertising data: [(type, bytes)] (a malformed tail ends the list)."""
    out, at = [], 0
    while at < len(data):
        size = data[at]
        if size == 0 or at + 1 + size > len(data):
            break
        out.append((data[at + 1], bytes(data[at + 2:at + 1 + size])))
        at += 1 + size
    return out


def advertised(adv, scan):
    """(name, set of service UUIDs as lowercase 128-bit text) as a scanner with active scanning
    sees them: what requestDevice's filters are matched against."""
    name, uuids = None, set()
    for kind, value in ad_structures(adv) + ad_structures(scan or b""):
        if kind in (0x08, 0x09):
            name = value.decode("utf-8", "replace")
        elif kind in (0x02, 0x03):
            for at in range(0, len(value) - 1, 2):
                uuids.add("%08x%s" % (int.from_bytes(value[at:at + 2], "little"), BASE_UUID))
        elif kind in (0x06, 0x07):
            for at in range(0, len(value) - 15, 16):
                h = value[at:at + 16][::-1].hex()
                uuids.add("%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:]))
    return name, uuids


def matches(filters, accept_all, name, uuids):
    if accept_all:
        return True
    for f in filters:
        if f.get("name") is not None and f["name"] != name:
            continue
        prefix = f.get("namePrefix")
        if prefix is not None and (name is None or not name.startswith(prefix)):
            continue
        if not set(f.get("services") or ()) <= uuids:
            continue
        return True
    return False


class Page:
    """One WebSocket: one central, its pending operations, its outgoing messages."""

    def __init__(self, twin, websocket):
        self.twin = twin
        self.websocket = websocket
        self.central = _harness.ble_central()
        self.chosen = False
        self.was_connected = False
        self.send_lock = threading.Lock()
        self.writes = 0  # command writes delivered to the device
        self.drop_after_writes = None  # test hook: end the link after this many writes
        self.stream = bytearray()  # this connection's command writes, joined (for tests to read)
        self.challenge = None  # this connection's challenge, from the last status it read

    def send(self, message):
        with self.send_lock:
            try:
                self.websocket.send(json.dumps(message))
            except Exception:  # the page went away; its requests die with it
                pass


class WebTwin:
    """code.py on the host twin, in real time, with a WebSocket bridge for browsers."""

    def __init__(self, tmp_path, settings_text, meter):
        self.settings = tmp_path / "settings.toml"
        self.settings.write_text(settings_text)
        self.nvm = tmp_path / "nvm.bin"
        self.meter = meter
        self.wire = None
        self.wires = []  # one SimWire per boot: every request the board sent to the meter
        self.adverts = []  # (t_s, adv, scan, connectable) of every advertisement put on air
        self.boots = 0
        self.events = []  # the supervisor's (kind, t_s, fields): boot, reset, ...
        self.life = None
        self.requests = queue.Queue()
        self.pages = []
        self.error = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._server = serve(self._serve, "127.0.0.1", 0)
        self.port = self._server.socket.getsockname()[1]
        self.url = "ws://127.0.0.1:%d" % self.port
        self._server_thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._server_thread.start()
        self._board_thread = threading.Thread(target=self._run_board, daemon=True)
        _vclock._advance_hooks.append(self._hook)
        self._board_thread.start()

    # --- the board -----------------------------------------------------------------------------
    def _run_board(self):
        """The board's whole life (supervisor_loop.Life: boots, resets, safe mode) in real time."""
        from supervisor_loop import Life

        try:
            self.life = Life(str(self.settings), on_boot=self._wire, on_event=self._on_event, realtime=True)
            self.life.run(10 ** 6)  # until the test stops it (the hook raises HostStop)
        except BaseException as error:  # a crash of the twin fails the test that waits on it
            self.error = error

    def _wire(self):
        """After power-on, each reset and each reload: settings, NVM, the meter, the radio's log."""
        _harness.set_settings_path(str(self.settings))
        _harness.set_nvm_file(str(self.nvm))
        self.wire = SimWire(self.meter)
        self.wires.append(self.wire)
        _harness.attach_far_end("TX", "RX", self.wire)
        _harness.on_ble_advertise(self._on_air)

    def _on_event(self, kind, t_s, fields):
        self.events.append((kind, t_s, fields))
        if kind == "boot":
            self.boots += 1
        elif kind in ("safe_mode", "traceback", "hang"):
            self.error = AssertionError("the board's life went wrong: %s %r" % (kind, fields))

    def _on_air(self, entry):
        t_ns, adv, scan, _extended, connectable = entry
        with self._lock:
            self.adverts.append((t_ns / 1e9, bytes(adv), bytes(scan or b""), connectable))

    def stop(self):
        self._stop.set()
        self._board_thread.join(timeout=10)
        if self._hook in _vclock._advance_hooks:
            _vclock._advance_hooks.remove(self._hook)
        self._server.shutdown()
        self._server_thread.join(timeout=10)
        if self._board_thread.is_alive():
            raise RuntimeError("the twin's board thread did not stop")

    def sent_to_meter(self):
        """Every request frame the board sent, decoded by the meter model's own decoder: [(dst, cmd)]."""
        from kaskad_sim.frame import decode_frame, split_frames

        out = []
        for wire in list(self.wires):
            stream = b"".join(data for _, data in list(wire.tx_log))
            for frame in split_frames(stream):
                decoded = decode_frame(frame)
                out.append((decoded.dst, decoded.command))
        return out

    def adverts_since(self, t_s):
        with self._lock:
            return [a for a in self.adverts if a[0] >= t_s]

    def now_s(self):
        return _harness.clock().now_ns() / 1e9

    def drop_link(self, page_index=-1, after_writes=0):
        """Test hook: the radio link of a page ends after ``after_writes`` more command writes."""
        page = self.pages[page_index]
        page.drop_after_writes = page.writes + after_writes

    # --- the clock hook: serve the centrals while the firmware sleeps -------------------------
    def _hook(self, clock, now_ns, target_ns):
        if self._stop.is_set():
            raise _harness.HostStop("the test is over")
        while True:
            self._flush()
            remaining = (target_ns - clock.now_ns()) / 1e9 if clock.realtime else 0
            try:
                if remaining > 0.001:  # serve the centrals until the firmware's sleep is over
                    page, request = self.requests.get(timeout=min(remaining - 0.0005, 0.1))
                else:
                    page, request = self.requests.get_nowait()
            except queue.Empty:
                if self._stop.is_set():
                    raise _harness.HostStop("the test is over")
                if remaining > 0.1:
                    continue
                break
            self._do(page, request)
            if self._stop.is_set():
                raise _harness.HostStop("the test is over")

    def _flush(self):
        """Notifications first, then the end of a link: the order a central sees them in."""
        for page in list(self.pages):
            for _t, uuid, data in page.central.take_notifications():
                page.send({"event": "notify", "uuid": uuid.lower(), "hex": data.hex()})
            if page.was_connected and not page.central.connected:
                page.was_connected = False
                page.send({"event": "disconnected"})

    def _do(self, page, request):
        op = request.get("op")
        try:
            result = self._operation(page, op, request)
            reply = {"id": request["id"], "ok": True, "result": result}
        except BridgeError as error:
            reply = {"id": request["id"], "ok": False, "name": error.name, "message": str(error)}
        except _harness.CentralError as error:
            reply = {"id": request["id"], "ok": False, "name": "NetworkError", "message": "GATT operation failed: %s" % error}
        if reply is not None and request.get("deferred") is None:
            page.send(reply)
        self._flush()

    def _operation(self, page, op, request):
        central = page.central
        if op == "requestDevice":
            deadline = request.setdefault("deadline", time.monotonic() + CHOOSER_WITHIN_S)
            on_air = _harness.ble_on_air()
            if on_air is not None:
                name, uuids = advertised(on_air[1], on_air[2])
                if matches(request.get("filters") or [], request.get("acceptAll"), name, uuids):
                    page.chosen = True
                    return {"id": "twin-" + _harness.ble_address().replace(":", "").lower(), "name": name}
            if time.monotonic() > deadline:
                raise BridgeError("NotFoundError", "User cancelled the requestDevice() chooser.")
            return self._retry(page, request)
        if not page.chosen:
            raise BridgeError("SecurityError", "no device was chosen on this page")
        if op == "connect":
            if central.connected:
                return None
            deadline = request.setdefault("deadline", time.monotonic() + CONNECT_WITHIN_S)
            try:
                central.connect()
            except _harness.CentralError:
                if time.monotonic() > deadline:
                    raise BridgeError("NetworkError", "Connection attempt failed.")
                return self._retry(page, request)
            page.was_connected = True
            page.stream = bytearray()
            page.challenge = None
            return None
        if op == "disconnect":
            central.disconnect()
            page.was_connected = False
            return None
        if not central.connected:
            raise BridgeError("NetworkError", "GATT Server is disconnected. Cannot perform GATT operations.")
        if op == "service":
            if request["uuid"] not in [u.lower() for u in central.services()]:
                raise BridgeError("NotFoundError", "No Services matching UUID %s found in Device." % request["uuid"])
            return None
        if op == "characteristic":
            if request["uuid"] not in [u.lower() for u in central.characteristics(request["service"])]:
                raise BridgeError("NotFoundError", "No Characteristics matching UUID %s found in Service." % request["uuid"])
            props = central._find(request["uuid"]).properties
            import _bleio

            c = _bleio.Characteristic
            return {"read": bool(props & c.READ), "write": bool(props & c.WRITE),
                    "writeWithoutResponse": bool(props & c.WRITE_NO_RESPONSE),
                    "notify": bool(props & c.NOTIFY), "indicate": bool(props & c.INDICATE)}
        if op == "read":
            value = central.read(request["uuid"])
            if request["uuid"] == STATUS_UUID and len(value) >= 13 and any(value[2:13]):
                page.challenge = bytes(value[2:13])  # config.status: the challenge at 2..12
            return value.hex()
        if op == "write":
            central.write(request["uuid"], bytes.fromhex(request["hex"]), response=bool(request.get("response", True)))
            page.writes += 1
            if request["uuid"] == COMMAND_UUID:
                page.stream += bytes.fromhex(request["hex"])
            if page.drop_after_writes is not None and page.writes >= page.drop_after_writes:
                page.drop_after_writes = None
                central.disconnect()  # the link is lost right after this write reached the board
            return None
        if op == "subscribe":
            central.subscribe(request["uuid"])
            return None
        if op == "unsubscribe":
            central.unsubscribe(request["uuid"])
            return None
        raise BridgeError("NotSupportedError", "unknown operation %r" % op)

    def _retry(self, page, request):
        """Try again at the next hook (the chooser and a connection attempt take time)."""
        request["deferred"] = True
        threading.Timer(0.02, self._requeue, (page, request)).start()
        return None

    def _requeue(self, page, request):
        request.pop("deferred", None)
        self.requests.put((page, request))

    # --- the WebSocket side --------------------------------------------------------------------
    def _serve(self, websocket):
        page = Page(self, websocket)
        with self._lock:
            self.pages.append(page)
        for message in websocket:
            self.requests.put((page, json.loads(message)))

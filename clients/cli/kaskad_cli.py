"""kaskad: the owner's command-line tool for a kaskad-ble board, over Bluetooth (bleak).

    kaskad scan                          boards nearby: name, address, signal, owned, claim window
    kaskad claim [--show-key]            become the owner (the key goes into your key file)
    kaskad status                        live: settings, meter, flags, owners, readings (decoded with
                                         Home Assistant's BTHome parser; the bindkey from `bindkey
                                         generate` is kept in the key file for this, never shown again)
    kaskad set address|poll|name|adv ... change a setting (checked here first, as settings.toml is)
    kaskad bindkey generate|clear        a new BTHome key (printed once, for Home Assistant) / none
    kaskad owner add|remove|list         the board's owners (at most 4)
    kaskad poll-now | reboot | factory-reset
    kaskad key show|import               your owner key for a board

The protocol is docs/owner-protocol.md; its frames are built and opened by host/kaskad_client.py
(AES-CCM from the `cryptography` package), and every limit a value is checked against comes from
the firmware's own schema (lib/kaskad/settings.py), so the tool runs from this repository.

``run(argv, ...)`` is the whole tool as a coroutine; tests pass bleak backends of their own
(``scanner_backend``, ``client_backend``: bleak's ``backend=`` parameter) and streams.
"""

import argparse
import asyncio
import datetime
import json
import os
import secrets
import stat
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
for _sub in ("host", "lib"):  # the protocol client and the settings schema, from this repository
    if str(ROOT / _sub) not in sys.path:
        sys.path.append(str(ROOT / _sub))

from bleak import BleakClient, BleakScanner  # noqa: E402
from bleak.exc import BleakBluetoothNotAvailableError, BleakDeviceNotFoundError, BleakError  # noqa: E402

import kaskad_client as proto  # noqa: E402
from kaskad import settings  # noqa: E402

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
VECTORS = ROOT / "docs" / "owner-vectors.json"
CODES = {row["code"]: row for row in json.loads(VECTORS.read_text())["codes"]}
METER_FLAGS = json.loads(VECTORS.read_text())["meter_answer"]["flag_bits"]  # name, byte (1 = A, 2 = B), bit
GENERATIONS = {0: "unknown", 1: "old", 2: "transitional", 3: "new"}
ENCRYPTION_REFUSED = ("KASKAD_BINDKEY in settings.toml cannot be used: NO readings are broadcast"
                      " (fix the file, or `kaskad bindkey generate` / `kaskad bindkey clear`)")
LAST_POLL = {0: "none yet", 1: "ok", 2: "failed (the meter does not answer)"}

# exit codes
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NO_ADAPTER, EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_ANSWER, EXIT_LOST = range(8)

SCAN_SECONDS = 5.0
CONNECT_SECONDS = 20.0
RESPONSE_SECONDS = 5.0
SESSION_SECONDS = 5.0  # the board gives a new connection its challenge within its loop's tick


class Failure(Exception):
    """What the user is told, and the exit code."""

    def __init__(self, message, code=EXIT_ERROR):
        super().__init__(message)
        self.code = code


class ConnectionLost(Failure):
    def __init__(self, message):
        super().__init__(message, EXIT_LOST)


def meaning(code):
    row = CODES.get(code)
    return "%s (%d): %s" % (row["name"], code, row["meaning"]) if row else "unknown code %d" % code


# --- the key file -------------------------------------------------------------------------------

def default_key_file():
    if os.environ.get("KASKAD_KEY_FILE"):
        return Path(os.environ["KASKAD_KEY_FILE"])
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "kaskad" / "keys.json"


class KeyFile:
    """The owner keys of this user, one per board address, in a file only its owner can read."""

    def __init__(self, path):
        self.path = Path(path)
        self.devices = {}
        if self.path.exists():
            mode = self.path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise Failure("%s can be read by other users (mode %o): run `chmod 600 %s`"
                              % (self.path, stat.S_IMODE(mode), self.path))
            try:
                self.devices = json.loads(self.path.read_text())["devices"]
            except (ValueError, KeyError, TypeError) as error:
                raise Failure("%s is not a kaskad key file: %s" % (self.path, error))

    def key(self, address):
        entry = self.devices.get(address.upper())
        return bytes.fromhex(entry["owner_key"]) if entry else None

    def bindkey(self, address):
        entry = self.devices.get(address.upper()) or {}
        return bytes.fromhex(entry["bindkey"]) if entry.get("bindkey") else None

    def put_bindkey(self, address, bindkey):
        entry = self.devices.get(address.upper())
        if entry is not None:
            entry["bindkey"] = bindkey.hex() if bindkey else ""
            self.save()

    def put(self, address, key, name):
        self.devices[address.upper()] = {"owner_key": key.hex(), "name": name,
                                         "since": datetime.date.today().isoformat()}
        self.save()

    def save(self):
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".new")
        if temporary.exists():
            temporary.unlink()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"devices": self.devices}, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)


# --- values, checked before anything is sent ----------------------------------------------------

def checked(key, raw):
    """The value of ``raw`` for settings key ``key`` by the firmware's own schema, or a Failure."""
    value, problem = settings.validate(key, raw)
    if problem is not None:
        row = settings.spec(key)
        raise Failure("%s: %r is not accepted: %s (%s)" % (key, raw, problem, row[5]), EXIT_USAGE)
    return value


def checked_adv(interval, switch):
    interval = checked("KASKAD_ADV_INTERVAL_MS", interval)
    switch = checked("KASKAD_ADV_SWITCH_MS", switch)
    if switch < interval:
        raise Failure("KASKAD_ADV_SWITCH_MS (%d) must be at least KASKAD_ADV_INTERVAL_MS (%d): each packet "
                      "stays on air for at least one interval" % (switch, interval), EXIT_USAGE)
    return interval, switch


def checked_key(text, what):
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 16:
        raise Failure("%s must be 32 hex digits" % what, EXIT_USAGE)
    return key


# --- Bluetooth ----------------------------------------------------------------------------------

def bluetooth_failure(error):
    """A Failure for what bleak or the OS said, naming a missing adapter plainly."""
    text = str(error)
    if isinstance(error, BleakBluetoothNotAvailableError) or isinstance(error, (FileNotFoundError, ConnectionRefusedError)) \
            or "adapter" in text.lower() or "org.bluez" in text:
        return Failure("no Bluetooth adapter available (%s): plug one in, switch Bluetooth on, or start "
                       "the bluetooth service" % (text or type(error).__name__), EXIT_NO_ADAPTER)
    return Failure("Bluetooth error: %s" % (text or type(error).__name__))


class Tool:
    def __init__(self, args, out, scanner_backend, client_backend):
        self.args = args
        self.out = out
        self.scanner_backend = scanner_backend
        self.client_backend = client_backend
        self.last_address = None

    def say(self, text=""):
        self.out.write(text + "\n")

    def _scanner_kwargs(self):
        return {"backend": self.scanner_backend} if self.scanner_backend is not None else {}

    async def scan(self, seconds):
        """{address: (BLEDevice, AdvertisementData)} of the BTHome devices heard, and of boards
        called KASKAD… that send no BTHome data (readings withheld: a key that cannot be used),
        so the owner can still find the board to fix it."""
        try:
            found = await BleakScanner.discover(timeout=seconds, return_adv=True, **self._scanner_kwargs())
        except (BleakError, OSError) as error:
            raise bluetooth_failure(error)
        return {address: seen for address, seen in found.items()
                if BTHOME_UUID in seen[1].service_data or (seen[1].local_name or "").startswith("KASKAD")}

    async def find(self, keys):
        """The BLEDevice of ``--device`` (an address or a name); without it, the only board known
        (from the key file for an owner's command) or heard."""
        wanted = self.args.device
        if wanted is None and keys is not None and len(keys.devices) == 1:
            wanted = next(iter(keys.devices))
        seconds = self.args.scan_seconds
        if wanted is None:
            found = await self.scan(seconds)
            kaskad = {a: s for a, s in found.items() if (s[1].local_name or "").startswith("KASKAD")} or found
            if len(kaskad) == 1:
                return next(iter(kaskad.values()))[0]
            if not kaskad:
                raise Failure("no board heard within %g s: is it powered and in range?" % seconds, EXIT_NOT_FOUND)
            raise Failure("%d boards heard; choose one with --device: %s" % (
                len(kaskad), ", ".join("%s (%s)" % (a, s[1].local_name) for a, s in sorted(kaskad.items()))),
                EXIT_USAGE)
        try:
            device = await BleakScanner.find_device_by_filter(
                lambda d, ad: d.address.upper() == wanted.upper() or ad.local_name == wanted,
                timeout=seconds, **self._scanner_kwargs())
        except (BleakError, OSError) as error:
            raise bluetooth_failure(error)
        if device is None:
            raise Failure("device %s not heard within %g s: is it powered and in range?" % (wanted, seconds),
                          EXIT_NOT_FOUND)
        return device

    def session(self, device, key):
        return Session(device, key, self.client_backend, self.args)


class Session:
    """One configuration connection: connect, take the challenge, send frames, open answers."""

    def __init__(self, device, key, backend, args):
        self.device = device
        self.key = key
        self.backend = backend
        self.args = args
        self.client = None
        self.status = None
        self.conn = None
        self._answers = asyncio.Queue()
        self._lost = asyncio.Event()

    async def __aenter__(self):
        kwargs = {"backend": self.backend} if self.backend is not None else {}
        self.client = BleakClient(self.device, disconnected_callback=lambda _: self._lost.set(),
                                  timeout=self.args.connect_seconds, **kwargs)
        try:
            await self.client.connect()
        except (TimeoutError, asyncio.TimeoutError):
            raise Failure("could not connect to %s within %g s: another phone or PC may have a "
                          "configuration connection open (one at a time)" % (
                              self.device.address, self.args.connect_seconds), EXIT_NOT_FOUND)
        except BleakDeviceNotFoundError:
            raise Failure("device %s not found" % self.device.address, EXIT_NOT_FOUND)
        except (BleakError, OSError) as error:
            raise bluetooth_failure(error)
        try:
            await self._open_session()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _open_session(self):
        try:
            if self.client.services.get_service(proto.SERVICE_UUID) is None:
                raise Failure("%s has no kaskad configuration service" % self.device.address, EXIT_NOT_FOUND)
            await self.client.start_notify(proto.RESPONSE_UUID, lambda _, data: self._answers.put_nowait(bytes(data)))
            await self._challenge()
        except BleakError as error:
            raise ConnectionLost("connection lost while opening the session (%s); nothing was sent" % error)
        if self.key is not None:
            self.conn = proto.OwnerClient(self.key).connect(self.status["challenge"])

    async def _challenge(self):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SESSION_SECONDS
        while True:
            value = await self.client.read_gatt_char(proto.STATUS_UUID)
            if not proto.no_session_yet(value):
                self.status = proto.parse_status(value)
                return
            if loop.time() >= deadline:
                raise Failure("the board gave this connection no session within %g s" % SESSION_SECONDS)
            await asyncio.sleep(0.05)

    async def __aexit__(self, *exc):
        if self.client is not None and self.client.is_connected:
            try:
                await self.client.disconnect()
            except BleakError:
                pass

    async def read_status(self):
        return proto.parse_status(await self.client.read_gatt_char(proto.STATUS_UUID))

    async def send(self, frame, what):
        """Write one frame and return the board's notification."""
        mtu = self.client.mtu_size
        try:
            for piece in proto.writes(frame, mtu):
                await self.client.write_gatt_char(proto.COMMAND_UUID, piece, response=False)
        except BleakError:
            raise ConnectionLost("connection lost while sending %s: the board did not get it whole, so "
                                 "nothing of it was applied" % what)
        answer = asyncio.ensure_future(self._answers.get())
        lost = asyncio.ensure_future(self._lost.wait())
        done, _ = await asyncio.wait({answer, lost}, timeout=RESPONSE_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        for task in (answer, lost):
            if task not in done:
                task.cancel()
        if answer in done:
            return answer.result()
        if lost in done:
            raise ConnectionLost("connection lost after sending %s, before the board answered: it may or may "
                                 "not have been applied; run `kaskad status` to see" % what)
        raise ConnectionLost("the board did not answer %s within %g s" % (what, RESPONSE_SECONDS))

    async def command(self, frames, what, answer_errors=False):
        """Send a command's frames (staged parts first); the final (code, data). A part refused or
        lost before the final frame leaves nothing applied (the board drops the staging buffer)."""
        for i, frame in enumerate(frames):
            last = i == len(frames) - 1
            try:
                answer = await self.send(frame, what if last else "part %d of %s" % (i + 1, what))
            except ConnectionLost as lost:
                if not last:
                    raise ConnectionLost("connection lost during %s (after %d of %d frames): nothing was "
                                         "applied" % (what, i, len(frames)))
                raise lost
            try:
                code, data = self.conn.open(answer) if self.conn is not None else _open_unsealed(answer)
            except proto.Refused as refused:
                raise refusal(refused.code, self.device.address)
            except proto.BadResponse as bad:
                raise Failure("the answer to %s is not authentic (%s)" % (what, bad))
            if code != 0 and not (last and answer_errors):
                if not last:
                    raise Failure("the board refused part %d of %s: %s; nothing was applied" % (
                        i + 1, what, meaning(code)), EXIT_ANSWER)
                raise Failure("the board refused %s: %s" % (what, meaning(code)), EXIT_ANSWER)
        return code, data


def _open_unsealed(answer):
    if len(answer) == 2 and answer[0] == proto.T_REFUSAL:
        raise proto.Refused(answer[1])
    raise proto.BadResponse("a sealed answer, but this connection has no key")


def refusal(code, address):
    """The Failure for a refusal in the clear, with what the user can do."""
    hints = {
        2: "the board already has an owner; if it is not you, someone claimed it first: hold its "
           "button for 5 s and claim again",
        3: "the claim window is closed: hold the board's button for 5 s (or restart it) and claim within "
           "10 minutes",
        4: "you are not an owner of %s: your key for it is not one of its owner keys" % address,
        7: "the board has no owner: claim it first (`kaskad claim`)",
    }
    text = "the board refused: %s" % meaning(code)
    if code in hints:
        text += "; " + hints[code]
    return Failure(text, EXIT_REFUSED)


# --- the commands ---------------------------------------------------------------------------------

async def cmd_scan(tool):
    found = await tool.scan(tool.args.scan_seconds)
    if not found:
        tool.say("no BTHome device heard within %g s" % tool.args.scan_seconds)
        return EXIT_OK
    tool.say("%-17s  %5s  %-29s  %s" % ("address", "RSSI", "name", "configuration"))
    for address, (device, adv) in sorted(found.items()):
        what = "-"
        if not tool.args.quick:
            what = await _public_state(tool, device)
        tool.say("%-17s  %5d  %-29s  %s" % (address, adv.rssi, adv.local_name or "?", what))
    return EXIT_OK


async def _public_state(tool, device):
    try:
        async with tool.session(device, None) as session:
            s = session.status
    except Failure as failure:
        return "unknown (%s)" % failure
    parts = ["owned" if s["owned"] else "no owner"]
    if s["claimable"]:
        parts.append("claim window open")
    parts.append("firmware %d.%d.%d" % s["version"])
    return ", ".join(parts)


async def cmd_claim(tool):
    keys = KeyFile(tool.args.key_file)
    device = await tool.find(None)
    address = device.address.upper()
    key = secrets.token_bytes(16)
    async with tool.session(device, key) as session:
        s = session.status
        if s["owned"]:
            raise refusal(2, address)
        if not s["claimable"]:
            raise refusal(3, address)
        await session.command(session.conn.claim(), "the claim")
    keys.put(address, key, device.name or "")
    tool.say("claimed %s (%s); your owner key is in %s" % (address, device.name or "?", keys.path))
    if tool.args.show_key:
        tool.say("owner key: %s" % key.hex())
    return EXIT_OK


async def _owner_session(tool):
    keys = KeyFile(tool.args.key_file)
    device = await tool.find(keys)
    tool.last_address = device.address
    key = keys.key(device.address)
    if key is None:
        raise Failure("you hold no owner key for %s in %s: claim it (`kaskad claim`) or import a key "
                      "(`kaskad key import`)" % (device.address, keys.path), EXIT_REFUSED)
    return tool.session(device, key)


async def cmd_status(tool):
    session = await _owner_session(tool)
    heard = Listener(session.device.address)
    scanner = BleakScanner(heard.hear, **tool._scanner_kwargs())
    try:
        await scanner.start()
    except (BleakError, OSError) as error:
        raise bluetooth_failure(error)
    try:
        async with session:
            s = session.status
            _, data = await session.command(session.conn.status(), "STATUS")
            code, meter = await session.command(session.conn.meter(), "METER", answer_errors=True)
        keys = KeyFile(tool.args.key_file)
        bindkey = keys.bindkey(session.device.address) if s["encrypted"] else None
        await heard.both_packets(bindkey, tool.args.listen_seconds)
    finally:
        await scanner.stop()
    owners, slot, overrides = data[0], data[1], data[2]
    v = s["version"]
    rows = [
        ("device", "%s (%s)" % (session.device.address, session.device.name or "?")),
        ("firmware", "%d.%d.%d" % v),
        ("owners", "%d of 4; you are owner %d" % (owners, slot)),
        ("claim window", "open" if s["claimable"] else "closed"),
        ("encryption", ENCRYPTION_REFUSED if s.get("key_refused") else
         "on (BTHome bindkey set)" if s["encrypted"] else "off (plain BTHome)"),
        ("meter address", str(s["meter_address"]) if s["meter_address"] else "not set"),
        ("poll period", "%d s" % s["poll_seconds"]),
        ("last poll", LAST_POLL.get(s["last_poll"], "code %d" % s["last_poll"])),
        ("meter answers", "yes" if s["last_poll"] == 1 else "no" if s["last_poll"] == 2 else "not yet known"),
    ]
    rows.extend(meter_rows(code, meter))
    rows += [
        ("serial number", s["serial"] or "unknown"),
        ("made", s["made"] or "unknown"),
        ("generation", GENERATIONS.get(s["generation"], str(s["generation"]))),
        ("overrides", "%d setting(s) changed over Bluetooth" % overrides),
    ]
    readings = heard.readings(bindkey)
    if readings:
        rows.append(("readings", "(what Home Assistant receives now)"))
        rows.extend(("  " + name, value) for name, value in readings)
    elif s["encrypted"] and bindkey is None:
        rows.append(("readings", "encrypted; this key file has no bindkey for them (`kaskad bindkey generate`)"))
    else:
        rows.append(("readings", "none on air yet"))
    for name, value in rows:
        tool.say("%-14s %s" % (name, value))
    return EXIT_OK


def meter_rows(code, data):
    """What the METER answer says: when the meter last answered, and its status flags by name."""
    if code != 0:
        return [("meter flags", "not reported by this firmware (%s)" % meaning(code))]
    m = proto.parse_meter(data)
    rows = [("last answer", "not since the board started" if m["age_s"] is None else "%d s ago" % m["age_s"])]
    if m["flags_a"] is None:
        rows.append(("meter flags", "not read yet"))
    else:
        raised = [f["name"] for f in METER_FLAGS
                  if (m["flags_a"] if f["byte"] == 1 else m["flags_b"]) >> f["bit"] & 1]
        rows.append(("meter flags", ", ".join(raised) if raised else "clear"))
    return rows


class Listener:
    """The board's BTHome advertisements heard while scanning, read by Home Assistant's own parser."""

    def __init__(self, address):
        self.address = address.upper()
        self.heard = []  # (device, advertisement data, monotonic time)

    def hear(self, device, adv):
        if device.address.upper() == self.address and BTHOME_UUID in adv.service_data:
            self.heard.append((device, adv, asyncio.get_running_loop().time()))

    async def both_packets(self, bindkey, seconds):
        """Listen until both of the board's packets were read (energy and voltage), or ``seconds``."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while loop.time() < until:
            names = {name for name, _ in self.readings(bindkey)}
            if "energy_1" in names and "voltage" in names:
                return
            await asyncio.sleep(0.1)

    def readings(self, bindkey):
        from bthome_ble import BTHomeBluetoothDeviceData
        from habluetooth import BluetoothServiceInfoBleak
        parser = BTHomeBluetoothDeviceData(bindkey=bindkey)
        values = {}
        for device, adv, at in self.heard:
            info = BluetoothServiceInfoBleak(
                adv.local_name or device.address, device.address, adv.rssi, adv.manufacturer_data,
                adv.service_data, adv.service_uuids, "kaskad-cli", device, adv, True, at, adv.tx_power)
            update = parser.update(info)
            for key, value in update.entity_values.items():
                if key.key not in ("signal_strength", "packet_id"):
                    unit = update.entity_descriptions[key].native_unit_of_measurement
                    values[key.key] = "%s %s" % (value.native_value, unit or "")
        return sorted(values.items())


async def _owner_command(tool, what, frames_of, done):
    session = await _owner_session(tool)
    async with session:
        code, data = await session.command(frames_of(session.conn), what)
    tool.say(done(data) if callable(done) else done)
    return EXIT_OK


async def cmd_set(tool):
    a = tool.args
    if a.setting == "address":
        value = checked("KASKAD_METER_ADDRESS", a.value)
        return await _owner_command(tool, "SET_ADDRESS %d" % value, lambda c: c.set_meter_address(value),
                                    "meter address set to %d; the next poll asks it" % value)
    if a.setting == "poll":
        value = checked("KASKAD_POLL_SECONDS", a.value)
        return await _owner_command(tool, "SET_POLL %d" % value, lambda c: c.set_poll_seconds(value),
                                    "poll period set to %d s" % value)
    if a.setting == "name":
        value = checked("KASKAD_NAME", a.value)
        return await _owner_command(tool, "SET_NAME", lambda c: c.set_name(value), "name set to %r" % value)
    interval, switch = checked_adv(a.interval, a.switch)
    return await _owner_command(tool, "SET_ADV", lambda c: c.set_advertising(interval, switch),
                                "advertising: every %d ms, each packet %d ms on air" % (interval, switch))


async def cmd_bindkey(tool):
    if tool.args.action == "clear":
        await _owner_command(tool, "CLEAR_BINDKEY", lambda c: c.clear_bindkey(),
                             "bindkey cleared: the board now broadcasts in the clear")
        keys = KeyFile(tool.args.key_file)
        keys.put_bindkey(tool.last_address, None)
        return EXIT_OK
    if tool.args.action == "set":
        key = checked("KASKAD_BINDKEY", tool.args.key)
        shown = None
    else:
        key = secrets.token_bytes(16)
        shown = key.hex()
    await _owner_command(tool, "SET_BINDKEY", lambda c: c.set_bindkey(key), "bindkey set")
    keys = KeyFile(tool.args.key_file)
    keys.put_bindkey(tool.last_address, key)
    if shown is not None:
        tool.say("bindkey for Home Assistant (shown once, keep it): %s" % shown)
    return EXIT_OK


async def cmd_owner(tool):
    a = tool.args
    if a.action == "list":
        return await _owner_command(tool, "STATUS", lambda c: c.status(), lambda d: (
            "%d owner(s), slots 0..%d; your key is in slot %d (the board never tells keys)" % (d[0], d[0] - 1, d[1])))
    if a.action == "remove":
        slot = a.slot
        if not 0 <= slot <= 3:
            raise Failure("an owner slot is 0..3", EXIT_USAGE)
        session = await _owner_session(tool)
        async with session:
            _, mine = await session.command(session.conn.status(), "STATUS")
            await session.command(session.conn.remove_owner(slot), "REMOVE_OWNER %d" % slot)
        tool.say("owner %d removed" % slot)
        if slot == mine[1]:
            _forget(tool, "that was your own key")
        return EXIT_OK
    new = checked_key(a.key, "the new owner's key") if a.key else secrets.token_bytes(16)
    await _owner_command(tool, "ADD_OWNER", lambda c: c.add_owner(new), lambda d: "owner added in slot %d" % d[0])
    if not a.key:
        tool.say("the new owner's key (shown once; give it to them for `kaskad key import`): %s" % new.hex())
    return EXIT_OK


async def cmd_simple(tool):
    what = tool.args.command
    if what == "poll-now":
        return await _owner_command(tool, "POLL_NOW", lambda c: c.poll_now(), "the board polls the meter now")
    if what == "reboot":
        return await _owner_command(tool, "REBOOT", lambda c: c.reboot(), "the board restarts")
    if not tool.args.yes:
        raise Failure("factory-reset forgets every owner and every setting changed over Bluetooth; "
                      "add --yes to do it", EXIT_USAGE)
    await _owner_command(tool, "FACTORY_RESET", lambda c: c.factory_reset(),
                         "factory reset: owners and Bluetooth settings forgotten; the board restarts "
                         "and its claim window opens")
    _forget(tool, "the board forgot every owner")
    return EXIT_OK


def _forget(tool, why):
    """Drop this user's key for the board just told to forget it."""
    keys = KeyFile(tool.args.key_file)
    if keys.devices.pop(tool.last_address.upper(), None) is not None:
        keys.save()
        tool.say("%s: its key is removed from %s" % (why, keys.path))


async def cmd_key(tool):
    keys = KeyFile(tool.args.key_file)
    address = tool.args.address.upper()
    if tool.args.action == "import":
        keys.put(address, checked_key(tool.args.key, "the key"), "")
        tool.say("key for %s stored in %s" % (address, keys.path))
        return EXIT_OK
    key = keys.key(address)
    if key is None:
        raise Failure("no key for %s in %s" % (address, keys.path), EXIT_NOT_FOUND)
    tool.say(key.hex())
    return EXIT_OK


COMMANDS = {"scan": cmd_scan, "claim": cmd_claim, "status": cmd_status, "set": cmd_set, "bindkey": cmd_bindkey,
            "owner": cmd_owner, "poll-now": cmd_simple, "reboot": cmd_simple, "factory-reset": cmd_simple,
            "key": cmd_key}


def parser():
    p = argparse.ArgumentParser(prog="kaskad", description="Configure a kaskad-ble board over Bluetooth.")
    p.add_argument("-d", "--device", help="the board's address or name (default: the only one known or heard)")
    p.add_argument("--key-file", default=None, help="where owner keys are kept (default: %s)" % default_key_file())
    p.add_argument("--scan-seconds", type=float, default=SCAN_SECONDS, help="how long to look for boards")
    p.add_argument("--connect-seconds", type=float, default=CONNECT_SECONDS, help="how long to try to connect")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("scan", help="boards nearby")
    s.add_argument("--quick", action="store_true", help="do not connect to read whether each is owned")
    s = sub.add_parser("claim", help="become the owner of a board whose claim window is open")
    s.add_argument("--show-key", action="store_true", help="also print the new owner key")
    s = sub.add_parser("status", help="the board's state and readings, live")
    s.add_argument("--listen-seconds", type=float, default=7.0,
                   help="how long to listen for both advertised packets (the readings)")
    s = sub.add_parser("set", help="change a setting")
    settings_ = s.add_subparsers(dest="setting", required=True)
    settings_.add_parser("address", help="the meter's address, 1-65534").add_argument("value")
    settings_.add_parser("poll", help="seconds between polls, 5-86400").add_argument("value")
    settings_.add_parser("name", help="the name Home Assistant shows, 1-29 bytes").add_argument("value")
    adv = settings_.add_parser("adv", help="advertising interval and switch period, ms")
    adv.add_argument("interval")
    adv.add_argument("switch")
    s = sub.add_parser("bindkey", help="the BTHome encryption key")
    actions = s.add_subparsers(dest="action", required=True)
    actions.add_parser("generate", help="a new random key, printed once for Home Assistant")
    actions.add_parser("clear", help="no encryption")
    actions.add_parser("set", help="a key you have (32 hex digits)").add_argument("key")
    s = sub.add_parser("owner", help="the board's owners")
    actions = s.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add an owner (a new key is made and printed once, or --key)")
    add.add_argument("--key", help="the new owner's key, 32 hex digits")
    actions.add_parser("remove", help="remove the owner in a slot").add_argument("slot", type=int)
    actions.add_parser("list", help="how many owners, and your slot")
    sub.add_parser("poll-now", help="poll the meter now")
    sub.add_parser("reboot", help="restart the board")
    s = sub.add_parser("factory-reset", help="forget the owners and the Bluetooth settings")
    s.add_argument("--yes", action="store_true", help="really")
    s = sub.add_parser("key", help="your owner key for a board")
    actions = s.add_subparsers(dest="action", required=True)
    actions.add_parser("show", help="print it").add_argument("address")
    imp = actions.add_parser("import", help="store a key another owner gave you")
    imp.add_argument("address")
    imp.add_argument("key")
    return p


async def run(argv, out=None, err=None, scanner_backend=None, client_backend=None):
    """The tool; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if args.key_file is None:
        args.key_file = default_key_file()
    tool = Tool(args, out, scanner_backend, client_backend)
    try:
        return await COMMANDS[args.command](tool)
    except Failure as failure:
        err.write("kaskad: %s\n" % failure)
        return failure.code
    except (BleakError, OSError) as error:
        failure = bluetooth_failure(error)
        err.write("kaskad: %s\n" % failure)
        return failure.code


def main():
    try:
        return asyncio.run(run(sys.argv[1:]))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

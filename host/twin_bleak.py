"""A bleak backend whose far end is the twin: the real code.py on the strict ``_bleio`` stand-in.

bleak lets a caller choose its backend (``BleakScanner(backend=TwinScanner)``,
``BleakClient(device, backend=TwinClient)``); everything above these two classes is bleak's own
code. Below them is the stand-in's fake central (``_harness.ble_central``), which connects only
while a connectable advertisement is on air, reads and writes the board's GATT table with the
board's checks, and receives the board's notifications.

Time. The board runs in virtual time on the test's thread (``board_rig.Board.run``); the client
(the command-line tool, an asyncio program) runs on a second thread with an event loop whose
clock IS the virtual clock. Only one of them runs at a time: when the client's loop would wait
(for a timer, a notification, a disconnection), it hands the turn to the board, and the board's
clock hands it back when the timer is due or a notification or a disconnection has happened. So a
timeout of 30 s in the client is 30 s of the board's time, and a whole session is deterministic.

Air time is modelled, not free: every GATT operation (a read, a write, a subscription) takes
``ATT_MS`` (one connection event at a 30 ms connection interval, a usual value for a PC's
central), connecting takes ``CONNECT_MS`` once a connectable advertisement is on air, and the
scanner hears each advertising event the board sends (``_harness.ble_adv_events``) with a fixed
``RSSI``.

    twin = Twin()                                           # before board.run
    twin.start(lambda: kaskad_cli.run(argv, ...), at_s=2)   # the client starts at 2 s
    board.run(60)                                           # stops early once the client is done
    twin.result, twin.error, twin.finished_s
"""

import asyncio
import math
import selectors
import threading
from typing import Any, Optional

import _harness
import _vclock
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bluetooth_data_tools import parse_advertisement_data

ATT_MS = 30
CONNECT_MS = 60
SCAN_STEP_MS = 100
RSSI = -62
_NS = 1_000_000_000

_PROPERTIES = (  # _bleio.Characteristic bits -> bleak's property names
    (0x01, "broadcast"), (0x02, "read"), (0x04, "write-without-response"), (0x08, "write"),
    (0x10, "notify"), (0x20, "indicate"),
)

_twin: "Optional[Twin]" = None


def _now_ns() -> int:
    return _harness.clock().now_ns()


class _Abort(BaseException):
    """The board's run ended while the client was still waiting: unwind the client's thread."""


class _Selector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The event loop's selector: where the loop would wait, the board runs instead."""

    def __init__(self, twin: "Twin") -> None:
        super().__init__()
        self._twin = twin

    def select(self, timeout: Optional[float] = None) -> Any:
        if timeout is None or timeout > 0:
            self._twin._wait(None if timeout is None else _now_ns() + max(1, math.ceil(timeout * _NS)))
        return super().select(0)


class _VirtualLoop(asyncio.SelectorEventLoop):  # type: ignore[misc,valid-type]
    def __init__(self, twin: "Twin") -> None:
        super().__init__(_Selector(twin))

    def time(self) -> float:
        return _now_ns() / _NS


class Twin:
    """Runs one asyncio client against the board in lock-step with the board's virtual clock."""

    def __init__(self, stop_after_s: Optional[float] = 0.5) -> None:
        """``stop_after_s``: end the board's run this long after the client finished (None: run on)."""
        global _twin
        _twin = self
        self.stop_after_s = stop_after_s
        self.clients: "list[TwinClient]" = []
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.started_s: Optional[float] = None
        self.finished_s: Optional[float] = None
        self._factory: Any = None
        self._start_ns: Optional[int] = None
        self._wake_ns: Optional[int] = None
        self._to_client = threading.Semaphore(0)
        self._to_board = threading.Semaphore(0)
        self._thread: Optional[threading.Thread] = None
        self._abort = False
        self._busy = False
        self.done = False
        self.loop: Optional[_VirtualLoop] = None
        _vclock._advance_hooks.append(self._hook)

    def start(self, factory: Any, at_s: float = 0.0) -> None:
        """``factory()`` -> the coroutine to run, started at ``at_s`` of the board's next run."""
        self._factory = factory
        self._start_ns = int(at_s * _NS)

    def close(self) -> None:
        """Detach from the clock; a client still waiting is unwound (its error: the run ended)."""
        global _twin
        if self._hook in _vclock._advance_hooks:
            _vclock._advance_hooks.remove(self._hook)
        if self._thread is not None and self._thread.is_alive():
            self._abort = True
            self._to_client.release()
            self._thread.join(10)
        if _twin is self:
            _twin = None

    # --- the client's side ---------------------------------------------------------------------
    def _main(self) -> None:
        self._to_client.acquire()
        self.loop = _VirtualLoop(self)
        try:
            self.result = self.loop.run_until_complete(self._factory())
        except BaseException as error:  # reported to the test through .error
            self.error = error
        finally:
            self.finished_s = _now_ns() / _NS
            self.done = True
            try:
                self.loop.close()
            finally:
                self._to_board.release()

    def _wait(self, wake_ns: Optional[int]) -> None:
        """On the client's thread: give the board the turn until ``wake_ns`` or an event."""
        self._wake_ns = wake_ns
        self._to_board.release()
        self._to_client.acquire()
        if self._abort:
            raise _Abort("the board's run ended while the client waited")
        for client in list(self.clients):
            client._deliver()

    # --- the board's side ----------------------------------------------------------------------
    def _turn(self) -> None:
        self._to_client.release()
        self._to_board.acquire()

    def _event(self) -> bool:
        return any(client._pending() for client in self.clients)

    def _hook(self, clock: Any, now_ns: int, target_ns: int) -> None:
        if self._busy or self._factory is None:
            return
        self._busy = True
        try:
            while True:
                if self.done:
                    if self.stop_after_s is not None:
                        stop = int(self.finished_s * _NS + self.stop_after_s * _NS)  # type: ignore[operator]
                        if stop <= target_ns:
                            clock.advance_to(stop)
                            raise _vclock.HostStop("the client finished")
                    return
                if self._thread is None:
                    if self._start_ns is None or self._start_ns > target_ns:
                        return
                    clock.advance_to(self._start_ns)
                    self.started_s = clock.now_ns() / _NS
                    self._thread = threading.Thread(target=self._main, name="twin-client", daemon=True)
                    self._thread.start()
                    self._turn()
                    continue
                if self._event():
                    self._turn()
                    continue
                if self._wake_ns is not None and self._wake_ns <= target_ns:
                    clock.advance_to(self._wake_ns)
                    self._wake_ns = None
                    self._turn()
                    continue
                return
        finally:
            self._busy = False


def _twin_now() -> "Twin":
    if _twin is None:
        raise BleakError("the twin backend is used outside a Twin run")
    return _twin


# --- the scanner ----------------------------------------------------------------------------------

class TwinScanner(BaseBleakScanner):
    """Hears every advertising event the board sends while scanning (active: scan responses too)."""

    def __init__(self, detection_callback: Any, service_uuids: Any, scanning_mode: Any = "active",
                 **kwargs: Any) -> None:
        super().__init__(detection_callback, service_uuids)
        self._task: Optional[asyncio.Task[None]] = None

    async def start(self) -> None:
        _twin_now()
        self.seen_devices = {}
        self._task = asyncio.get_running_loop().create_task(self._listen(_now_ns()))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _listen(self, since_ns: int) -> None:
        address = _harness.ble_address()
        while True:
            await asyncio.sleep(SCAN_STEP_MS / 1000)
            now = _now_ns()
            for _, adv, scan, extended, connectable in _harness.ble_adv_events(since_ns, now):
                if extended:
                    continue  # a legacy scan never sees an extended advertisement
                chunks = (adv, scan) if scan else (adv,)
                parsed = parse_advertisement_data(chunks)
                data = AdvertisementData(
                    local_name=parsed.local_name, manufacturer_data=dict(parsed.manufacturer_data),
                    service_data=dict(parsed.service_data), service_uuids=list(parsed.service_uuids),
                    tx_power=parsed.tx_power, rssi=RSSI, platform_data=(connectable,))
                if not self.is_allowed_uuid(data.service_uuids):
                    continue
                device = self.create_or_update_device(address, address, parsed.local_name,
                                                      {"connectable": connectable}, data)
                self.call_detection_callbacks(device, data)
            since_ns = now


# --- the client -----------------------------------------------------------------------------------

class TwinClient(BaseBleakClient):
    """A GATT client through the stand-in's fake central, with bleak's errors for what it meets."""

    def __init__(self, address_or_ble_device: Any, *, disconnected_callback: Any = None,
                 timeout: float = 10.0, mtu: int = 23, **kwargs: Any) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._central = _harness.ble_central(mtu)
        self._notify: "dict[str, Any]" = {}
        self._linked = False  # connected as far as this client has told its caller
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    @property
    def name(self) -> str:
        return self.address

    @property
    def mtu_size(self) -> int:
        return self._central.att_mtu or 23

    @property
    def is_connected(self) -> bool:
        return self._linked and self._central.connected

    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        twin = _twin_now()
        self._loop = asyncio.get_running_loop()
        if self.address.upper() != _harness.ble_address().upper():
            raise BleakDeviceNotFoundError(self.address, "Device with address %s was not found." % self.address)
        deadline = _now_ns() + int(self._timeout * _NS)
        while True:
            try:
                self._central.connect()
                break
            except _harness.CentralError as error:
                if _now_ns() >= deadline:
                    raise TimeoutError("connect: %s" % error) from None
                await asyncio.sleep(0.01)
        self._linked = True
        twin.clients.append(self)
        await asyncio.sleep(CONNECT_MS / 1000)
        self.services = self._discover()

    def _discover(self) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        handle = 1
        mtu = self._central.att_mtu or 23
        for service_uuid in self._central.services():
            service = BleakGATTService(None, handle, service_uuid.lower())
            collection.add_service(service)
            handle += 1
            for char_uuid in self._central.characteristics(service_uuid):
                # the stand-in's table holds the properties the board declared (host-only access)
                bits = self._central._find(char_uuid)._props
                names = [name for bit, name in _PROPERTIES if bits & bit]
                char = BleakGATTCharacteristic(char_uuid, handle + 1, char_uuid.lower(), names,
                                               lambda: mtu - 3, service)
                collection.add_characteristic(char)
                handle += 3 if bits & 0x30 else 2
        return collection

    async def disconnect(self) -> None:
        if self._central.connected:
            await asyncio.sleep(ATT_MS / 1000)
            self._central.disconnect()
        self._gone(callback=False)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("the board does not pair")

    async def unpair(self) -> None:
        raise BleakError("the board does not pair")

    async def _att(self, what: str, *args: Any) -> Any:
        await asyncio.sleep(ATT_MS / 1000)
        if not self.is_connected:
            raise BleakError("Not connected")
        try:
            return getattr(self._central, what)(*args)
        except _harness.CentralError as error:
            if not self._central.connected:
                raise BleakError("Not connected") from None
            raise BleakError("%s failed: %s" % (what, error)) from None

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any) -> bytearray:
        return bytearray(await self._att("read", characteristic.uuid))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any, response: bool) -> None:
        await self._att("write", characteristic.uuid, bytes(data), response)

    async def read_gatt_descriptor(self, descriptor: Any, **kwargs: Any) -> bytearray:
        raise BleakError("descriptors are not modelled by the twin")

    async def write_gatt_descriptor(self, descriptor: Any, data: Any) -> None:
        raise BleakError("descriptors are not modelled by the twin")

    async def start_notify(self, characteristic: BleakGATTCharacteristic, callback: Any, **kwargs: Any) -> None:
        await self._att("subscribe", characteristic.uuid)
        self._notify[characteristic.uuid.lower()] = callback

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._notify.pop(characteristic.uuid.lower(), None)
        await self._att("unsubscribe", characteristic.uuid)

    # --- called by the Twin, on the client's thread or while it waits ---------------------------
    def _pending(self) -> bool:
        if self._linked and not self._central.connected:
            return True
        return any(uuid.lower() in self._notify for _, uuid, _ in self._central.notifications)

    def _deliver(self) -> None:
        loop = self._loop
        for uuid, callback in list(self._notify.items()):
            for _, _, data in self._central.take_notifications(uuid):
                loop.call_soon(callback, bytearray(data))  # type: ignore[union-attr]
        if self._linked and not self._central.connected:
            self._gone(callback=True)

    def _gone(self, callback: bool) -> None:
        was = self._linked
        self._linked = False
        self._notify.clear()
        twin = _twin
        if twin is not None and self in twin.clients:
            twin.clients.remove(self)
        if was and callback and self._disconnected_callback is not None and self._loop is not None:
            self._loop.call_soon(self._disconnected_callback)

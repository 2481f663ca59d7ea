/* Test only: navigator.bluetooth replaced by a bridge to the device twin (tests/web_twin.py).
 *
 * Injected before the page's own scripts (CDP Page.addScriptToEvaluateOnNewDocument) with
 * __KASKAD_BRIDGE__ replaced by the bridge's ws://127.0.0.1:PORT address. Every GATT call goes
 * over that WebSocket to the twin, where the fake central of the strict _bleio stand-in
 * performs it against the real code.py; notifications and the link's end come back as events.
 *
 * What Chrome itself enforces is enforced here too, so the page cannot lean on leniency:
 * requestDevice needs a user gesture, exactly one of filters / acceptAllDevices, no empty
 * filter, lowercase 128-bit UUID strings or 16-bit numbers; a service must be named in a filter or
 * in optionalServices to be used; GATT operations need a live connection, and objects from an
 * earlier connection are dead after a reconnect; writes carry at most 512 bytes; a write with
 * response needs the characteristic's "write" property, a write without response its
 * "writeWithoutResponse" (the twin checks the properties and the ATT rules).
 */
(function () {
  "use strict";
  const URL = "__KASKAD_BRIDGE__";
  const BASE = "-0000-1000-8000-00805f9b34fb";
  let socket = null, opened = null, nextId = 1;
  const pending = new Map();
  const devices = new Map(); // id -> FakeDevice

  function dom(name, message) { return new DOMException(message, name); }

  function link() {
    if (opened) return opened;
    opened = new Promise((resolve, reject) => {
      socket = new WebSocket(URL);
      socket.onopen = () => resolve();
      socket.onerror = () => reject(dom("NetworkError", "the Bluetooth bridge is not reachable"));
      socket.onclose = () => {
        for (const [, p] of pending) p.reject(dom("NetworkError", "the Bluetooth bridge closed"));
        pending.clear();
        for (const [, d] of devices) d._lost();
      };
      socket.onmessage = (message) => {
        const m = JSON.parse(message.data);
        if (m.event === "notify") {
          for (const [, d] of devices) d._notify(m.uuid, m.hex);
        } else if (m.event === "disconnected") {
          for (const [, d] of devices) d._lost();
        } else if (pending.has(m.id)) {
          const p = pending.get(m.id);
          pending.delete(m.id);
          if (m.ok) p.resolve(m.result); else p.reject(dom(m.name || "NetworkError", m.message || "failed"));
        }
      };
    });
    return opened;
  }

  async function call(op, args) {
    await link();
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, {resolve, reject});
      socket.send(JSON.stringify(Object.assign({id, op}, args || {})));
    });
  }

  function uuid(value, what) {
    if (typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 0xFFFFFFFF) {
      return value.toString(16).padStart(8, "0") + BASE;
    }
    if (typeof value === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)) return value;
    throw new TypeError("Failed to execute on 'Bluetooth': Invalid " + what + " name: '" + value +
                        "'. It must be a valid UUID alias (e.g. 0x1234), UUID (lowercase hex characters e.g. '00001234-0000-1000-8000-00805f9b34fb')");
  }

  function hex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""); }
  function view(hexText) {
    const out = new Uint8Array(hexText.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hexText.substr(2 * i, 2), 16);
    return new DataView(out.buffer);
  }
  function source(value) {
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    throw new TypeError("Failed to execute 'writeValue': The provided value is not of type '(ArrayBuffer or ArrayBufferView)'.");
  }

  class FakeCharacteristic extends EventTarget {
    constructor(service, uuidText, properties) {
      super();
      this.service = service;
      this.uuid = uuidText;
      this.properties = Object.freeze(Object.assign({broadcast: false, authenticatedSignedWrites: false,
        reliableWrite: false, writableAuxiliaries: false}, properties));
      this.value = null;
      this._generation = service._generation;
      this.oncharacteristicvaluechanged = null;
    }
    _live() { return this.service.device.gatt._check(this._generation); }
    async readValue() {
      this._live();
      if (!this.properties.read) throw dom("NotSupportedError", "GATT operation not permitted.");
      const result = await call("read", {uuid: this.uuid});
      this._live();
      this.value = view(result);
      return this.value;
    }
    async _write(value, mode) {
      this._live();
      const data = source(value);
      if (data.length > 512) throw dom("InvalidModificationError", "Value can't exceed 512 bytes.");
      await call("write", {uuid: this.uuid, hex: hex(data), response: mode !== "without"});
      this._live();
    }
    writeValue(value) { return this._write(value, "default"); }
    writeValueWithResponse(value) { return this._write(value, "with"); }
    writeValueWithoutResponse(value) { return this._write(value, "without"); }
    async startNotifications() {
      this._live();
      if (!this.properties.notify && !this.properties.indicate) throw dom("NotSupportedError", "GATT operation not permitted.");
      await call("subscribe", {uuid: this.uuid});
      this.service.device._subscribed.set(this.uuid, this);
      return this;
    }
    async stopNotifications() {
      this._live();
      await call("unsubscribe", {uuid: this.uuid});
      this.service.device._subscribed.delete(this.uuid);
      return this;
    }
    _changed(hexText) {
      this.value = view(hexText);
      const event = new Event("characteristicvaluechanged", {bubbles: true});
      this.dispatchEvent(event);
      if (typeof this.oncharacteristicvaluechanged === "function") this.oncharacteristicvaluechanged(event);
    }
  }

  class FakeService {
    constructor(device, uuidText, generation) {
      this.device = device; this.uuid = uuidText; this.isPrimary = true; this._generation = generation;
    }
    async getCharacteristic(name) {
      const u = uuid(name, "Characteristic");
      this.device.gatt._check(this._generation);
      const found = await call("characteristic", {service: this.uuid, uuid: u});
      this.device.gatt._check(this._generation);
      return new FakeCharacteristic(this, u, found);
    }
  }

  class FakeServer {
    constructor(device) { this.device = device; this.connected = false; this._generation = 0; }
    _check(generation) {
      if (!this.connected) throw dom("NetworkError", "GATT Server is disconnected. Cannot perform GATT operations. (Re)connect first with `device.gatt.connect`.");
      if (generation !== undefined && generation !== this._generation) throw dom("InvalidStateError", "GATT Service no longer exists.");
    }
    async connect() {
      if (this.connected) return this;
      await call("connect", {});
      this._generation++;
      this.connected = true;
      return this;
    }
    disconnect() {
      if (!this.connected) return;
      call("disconnect", {}).catch(() => {});
      this.device._lost();
    }
    async getPrimaryService(name) {
      const u = uuid(name, "Service");
      this._check();
      if (!this.device._allowed.has(u)) {
        throw dom("SecurityError", "Origin is not allowed to access the service. Tip: Add the service UUID to 'optionalServices' in requestDevice() options. https://goo.gl/HxfxSQ");
      }
      const generation = this._generation;
      await call("service", {uuid: u});
      this._check(generation);
      return new FakeService(this.device, u, generation);
    }
  }

  class FakeDevice extends EventTarget {
    constructor(id, name, allowed) {
      super();
      this.id = id; this.name = name; this._allowed = allowed; this._subscribed = new Map();
      this.gatt = new FakeServer(this);
      this.ongattserverdisconnected = null;
    }
    _notify(uuidText, hexText) {
      const c = this._subscribed.get(uuidText);
      if (c && this.gatt.connected) c._changed(hexText);
    }
    _lost() {
      if (!this.gatt.connected) return;
      this.gatt.connected = false;
      this._subscribed.clear();
      const event = new Event("gattserverdisconnected", {bubbles: true});
      this.dispatchEvent(event);
      if (typeof this.ongattserverdisconnected === "function") this.ongattserverdisconnected(event);
    }
  }

  const bluetooth = {
    async getAvailability() { return true; },
    async requestDevice(options) {
      if (!navigator.userActivation || !navigator.userActivation.isActive) {
        throw dom("SecurityError", "Failed to execute 'requestDevice' on 'Bluetooth': Must be handling a user gesture to show a permission request.");
      }
      options = options || {};
      const hasFilters = options.filters !== undefined, all = !!options.acceptAllDevices;
      if (hasFilters === all) {
        throw new TypeError("Failed to execute 'requestDevice' on 'Bluetooth': Either 'filters' should be present or 'acceptAllDevices' should be true, but not both.");
      }
      const allowed = new Set();
      const filters = [];
      if (hasFilters) {
        if (!Array.isArray(options.filters) || !options.filters.length) {
          throw new TypeError("Failed to execute 'requestDevice' on 'Bluetooth': 'filters' member must be non-empty to find any devices.");
        }
        for (const f of options.filters) {
          const services = (f.services || []).map((s) => uuid(s, "Service"));
          if (!services.length && f.name === undefined && f.namePrefix === undefined) {
            throw new TypeError("Failed to execute 'requestDevice' on 'Bluetooth': A filter must restrict the devices in some way.");
          }
          if (f.namePrefix === "") throw new TypeError("Failed to execute 'requestDevice' on 'Bluetooth': 'namePrefix', if present, must be non-empty.");
          services.forEach((s) => allowed.add(s));
          filters.push({services, name: f.name, namePrefix: f.namePrefix});
        }
      }
      for (const s of options.optionalServices || []) allowed.add(uuid(s, "Service"));
      const found = await call("requestDevice", {filters, acceptAll: all});
      let device = devices.get(found.id);
      if (!device) { device = new FakeDevice(found.id, found.name, allowed); devices.set(found.id, device); }
      for (const s of allowed) device._allowed.add(s);
      return device;
    },
  };
  Object.defineProperty(Navigator.prototype, "bluetooth", {get() { return bluetooth; }, configurable: true});
})();

/* The configurator page: Web Bluetooth to the board's owner service (protocol.js), keys in
 * localStorage, live status, a log. One command at a time; every answer and refusal is shown
 * with its meaning.
 */
(function () {
  "use strict";

  const P = window.KaskadProtocol;
  const STORAGE = "kaskad-ble.owner-keys.v1";
  const STATUS_EVERY_MS = 2000;  // the public status is re-read this often while connected
  const ANSWER_WITHIN_MS = 30000; // a frame not answered by then: taken as lost (a poll of a
                                 // silent meter can hold the board's loop for many seconds)
  const SESSION_WITHIN_MS = 30000;
  const CONNECTION_LIMIT_MS = 300000; // the device ends every connection after 5 minutes
  const METER_EVERY_MS = 5000;   // the owner's METER answer is asked this often (a sealed
                                 // command: at most 60 of the 255 a connection may send)

  const $ = (id) => document.getElementById(id);
  const state = {
    device: null, chars: null, session: null, proven: false, status: null, connectedAt: 0,
    inbox: [], waiter: null, queue: Promise.resolve(), busy: 0, timer: null, reading: false,
    lastRead: 0, owners: null, meter: null, meterSupported: null, lastMeter: 0,
  };

  // --- log and notices -------------------------------------------------------------------------
  function log(text, isError) {
    const line = document.createElement("span");
    const t = new Date();
    line.textContent = t.toTimeString().slice(0, 8) + "  " + text + "\n";
    if (isError) line.className = "err";
    const box = $("log");
    box.appendChild(line);
    while (box.childNodes.length > 500) box.removeChild(box.firstChild);
    box.scrollTop = box.scrollHeight;
  }
  function notice(text, good) {
    const box = $("notice");
    box.textContent = text || "";
    box.hidden = !text;
    box.classList.toggle("good", !!good);
  }
  function fail(text) { log(text, true); notice(text); }

  // --- keys kept in this browser ---------------------------------------------------------------
  function loadKeys() {
    try {
      const data = JSON.parse(localStorage.getItem(STORAGE) || "{}");
      return Array.isArray(data.keys) ? data.keys.filter((k) => /^[0-9a-f]{32}$/.test(k.key)) : [];
    } catch (error) {
      log("the stored keys could not be read: " + error.message, true);
      return [];
    }
  }
  function saveKeys(keys) { localStorage.setItem(STORAGE, JSON.stringify({format: "kaskad-ble owner keys", version: 1, keys})); }
  // Keeps a key; ``use``: make it the key this page seals with (a claimed one, not one made
  // for another owner).
  function addKey(entry, use) {
    const keys = loadKeys();
    const same = keys.find((k) => k.key === entry.key);
    if (same) Object.assign(same, entry); else keys.push(entry);
    saveKeys(keys);
    showKeys(use ? entry.key : undefined);
  }
  function label(k) {
    return (k.name || "device") + " — " + (k.role || "key") + " " + k.key.slice(0, 4) + "…" + (k.saved ? " (" + k.saved.slice(0, 10) + ")" : "");
  }
  function showKeys(selectKey) {
    const keys = loadKeys();
    const select = $("key-select");
    const previous = selectKey || select.value;
    select.textContent = "";
    if (!keys.length) {
      const none = document.createElement("option");
      none.value = ""; none.textContent = "no key yet (claim a device or import a key)";
      select.appendChild(none);
      refreshControls();
      return;
    }
    for (const k of keys) {
      const o = document.createElement("option");
      o.value = k.key; o.textContent = label(k);
      select.appendChild(o);
    }
    const forDevice = state.device && keys.find((k) => k.device === state.device.id && k.role !== "pending");
    select.value = keys.some((k) => k.key === previous) ? previous : (forDevice ? forDevice.key : keys[0].key);
    refreshControls();
  }
  function selectedKey() {
    const value = $("key-select").value;
    return value ? P.fromHex(value) : null;
  }
  function exportKeys() {
    const keys = loadKeys();
    if (!keys.length) { fail("no keys to export"); return; }
    const blob = new Blob([JSON.stringify({format: "kaskad-ble owner keys", version: 1, keys}, null, 2)], {type: "application/json"});
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "kaskad-ble-owner-keys.json";
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    log("exported " + keys.length + " key(s) to kaskad-ble-owner-keys.json: keep that file private");
  }
  function importKeys(text) {
    text = String(text).trim();
    let found = [];
    if (/^[0-9a-fA-F]{32}$/.test(text)) {
      found = [{key: text.toLowerCase(), role: "imported", name: state.device ? state.device.name : "device", device: state.device ? state.device.id : null}];
    } else {
      let data;
      try { data = JSON.parse(text); } catch (error) { fail("import: not JSON and not 32 hex digits"); return; }
      const list = Array.isArray(data) ? data : (data && data.keys);
      if (!Array.isArray(list)) { fail("import: no \"keys\" list in that file"); return; }
      for (const k of list) {
        if (k && typeof k.key === "string" && /^[0-9a-fA-F]{32}$/.test(k.key)) {
          found.push({key: k.key.toLowerCase(), role: k.role === "pending" ? "imported" : (k.role || "imported"),
                      name: typeof k.name === "string" ? k.name.slice(0, 40) : "device",
                      device: typeof k.device === "string" ? k.device : null,
                      saved: typeof k.saved === "string" ? k.saved : undefined});
        }
      }
      if (!found.length) { fail("import: no valid key (32 hex digits) in that file"); return; }
    }
    const keys = loadKeys();
    let added = 0;
    for (const k of found) if (!keys.some((old) => old.key === k.key)) { keys.push(k); added++; }
    saveKeys(keys);
    showKeys(found[0].key);
    log("imported " + added + " new key(s) (" + (found.length - added) + " already here)");
    notice("");
  }

  // --- the link --------------------------------------------------------------------------------
  function connected() { return !!(state.device && state.device.gatt.connected && state.chars); }

  function setLink(text, kind) {
    const pill = $("link-state");
    pill.textContent = text;
    pill.className = "pill " + kind;
  }
  function refreshControls() {
    const on = connected();
    $("btn-connect").disabled = state.busy > 0;
    $("btn-disconnect").disabled = !on;
    $("btn-reconnect").disabled = on || !state.device || state.busy > 0;
    const st = state.status;
    $("btn-claim").disabled = !on || state.busy > 0 || !st || st.owned;
    const mayCommand = on && state.busy === 0 && !!st && st.owned && !!selectedKey();
    for (const el of document.querySelectorAll(".owner-only")) el.disabled = !mayCommand;
    if (!on) setLink(state.device ? "disconnected" : "not connected", "off");
    else if (state.busy) setLink("working…", "busy");
    else setLink(state.proven ? "connected as owner" : "connected", state.proven ? "owner" : "on");
  }

  async function scanAndConnect() {
    if (!navigator.bluetooth) {
      fail("this browser has no Web Bluetooth: use Chrome or Edge (desktop or Android); on Linux enable chrome://flags/#enable-web-bluetooth");
      return;
    }
    const all = $("opt-all-devices").checked;
    const options = all ? {acceptAllDevices: true, optionalServices: [P.SERVICE_UUID]}
      : {filters: [{namePrefix: "KASKAD"}, {services: [P.SERVICE_UUID]}], optionalServices: [P.SERVICE_UUID]};
    let device;
    try {
      device = await navigator.bluetooth.requestDevice(options);
    } catch (error) {
      fail(error.name === "NotFoundError" ? "no device chosen (" + error.message + ")" : "scan failed: " + error.message);
      return;
    }
    if (state.device && state.device !== device) await disconnect();
    state.device = device;
    device.addEventListener("gattserverdisconnected", onDisconnected);
    $("device-name").textContent = (device.name || "unnamed device") + " · id " + device.id;
    log("chose " + (device.name || "an unnamed device"));
    const mine = loadKeys().find((k) => k.device === device.id && k.role !== "pending");
    showKeys(mine ? mine.key : undefined);
    await openLink();
  }

  async function openLink() {
    state.busy++;
    refreshControls();
    notice("");
    try {
      log("connecting…");
      const server = await state.device.gatt.connect();
      const service = await server.getPrimaryService(P.SERVICE_UUID);
      const chars = {
        status: await service.getCharacteristic(P.STATUS_UUID),
        command: await service.getCharacteristic(P.COMMAND_UUID),
        response: await service.getCharacteristic(P.RESPONSE_UUID),
      };
      state.inbox = [];
      chars.response.addEventListener("characteristicvaluechanged", onNotification);
      await chars.response.startNotifications();
      state.chars = chars;
      state.connectedAt = Date.now();
      state.proven = false;
      state.owners = null;
      state.meter = null;
      state.meterSupported = null;
      const status = await waitForSession();
      log("connected: firmware " + status.version + ", " + (status.owned ? "has an owner" : "no owner") +
          (status.claimable ? ", claim window open" : ""));
      state.timer = setInterval(refreshStatus, STATUS_EVERY_MS);
      if (status.owned && selectedKey()) {
        ownerStatus().catch(() => {}); // proves the key at once (the device waits 30 s at most)
      } else if (status.owned) {
        notice("This device has an owner and this browser has no key for it. Import the owner's key, or hold the board's button for 5 s and claim it.");
      } else if (status.claimable) {
        notice("This device has no owner and its claim window is open: claim it (in private).", true);
      } else {
        notice("This device has no owner but its claim window is closed: restart the board or hold its button for 5 s, then claim within 10 minutes.");
      }
    } catch (error) {
      fail("connection failed: " + error.message);
      if (state.device && state.device.gatt.connected) state.device.gatt.disconnect();
    } finally {
      state.busy--;
      refreshControls();
    }
  }

  // The device gives each connection its challenge on the first tick after the link is up; until
  // then the status shows zeros.
  async function waitForSession() {
    const until = Date.now() + SESSION_WITHIN_MS;
    for (;;) {
      const status = await readStatus();
      if (status.sessionReady) return status;
      if (Date.now() > until) throw new Error("the device gave this connection no challenge within " + SESSION_WITHIN_MS / 1000 + " s");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function readStatus() {
    const value = await state.chars.status.readValue();
    const status = P.parseStatus(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    state.status = status;
    state.lastRead = Date.now();
    showStatus();
    return status;
  }

  async function refreshStatus() {
    if (!connected() || state.reading) return;
    state.reading = true;
    try {
      await readStatus();
      if (state.proven && state.meterSupported && state.busy === 0 && Date.now() - state.lastMeter >= METER_EVERY_MS) {
        await meterStatus(true);
      }
    } catch (error) {
      if (connected()) log("status read failed: " + error.message, true);
    } finally { state.reading = false; refreshControls(); }
  }

  function onNotification(event) {
    const v = event.target.value;
    const frame = new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
    if (state.waiter) { const w = state.waiter; state.waiter = null; w.resolve(frame); }
    else state.inbox.push(frame);
  }

  function nextFrame() {
    if (state.inbox.length) return Promise.resolve(state.inbox.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { state.waiter = null; reject(new Error("no answer within " + ANSWER_WITHIN_MS / 1000 + " s")); }, ANSWER_WITHIN_MS);
      state.waiter = {resolve: (f) => { clearTimeout(timer); resolve(f); },
                      reject: (e) => { clearTimeout(timer); reject(e); }};
    });
  }

  function onDisconnected() {
    const was = state.chars !== null;
    const after = Date.now() - state.connectedAt;
    state.chars = null;
    state.proven = false;
    if (state.timer) { clearInterval(state.timer); state.timer = null; }
    if (state.waiter) { const w = state.waiter; state.waiter = null; w.reject(new Error("connection lost")); }
    if (was) {
      log("disconnected" + (after >= CONNECTION_LIMIT_MS - 2000 ? " (the device ends every connection after 5 minutes)" : ""));
    }
    showStatus();
    refreshControls();
  }

  async function disconnect() {
    if (state.device && state.device.gatt.connected) state.device.gatt.disconnect();
    onDisconnected();
  }

  // --- exchanging frames -----------------------------------------------------------------------
  async function send(frame) {
    for (const piece of P.writes(frame)) {
      await state.chars.command.writeValueWithResponse(piece);
    }
    return nextFrame();
  }

  // One step at a time: a command's frames and answers never interleave with another's. A
  // background step (the periodic METER) leaves the buttons as they are: a tap is never lost to a
  // button disabled for a moment; what the person asks for queues behind it.
  function exclusive(work, background) {
    const run = state.queue.then(async () => {
      if (background) return work();
      state.busy++;
      refreshControls();
      try { return await work(); } finally { state.busy--; refreshControls(); }
    });
    state.queue = run.catch(() => {});
    return run;
  }

  function session() {
    if (!connected()) throw new Error("not connected");
    // A connection is bound to the key of its first sealed command: another key selected later
    // is used from the next connection on.
    const fresh = !state.session || state.session.challenge.join() !== state.status.challenge.join();
    const unused = state.session && state.session.seq === 0 && state.session.expected.length === 0;
    if (fresh || (unused && P.toHex(state.session.key) !== P.toHex(selectedKey() || new Uint8Array(16)))) {
      const key = selectedKey();
      if (!key) throw new Error("no owner key for this device in this browser: import one, or claim the device");
      state.session = new P.Session(key, state.status.challenge);
    }
    return state.session;
  }

  // Runs one sealed command; returns its data on OK. Every other outcome is logged with its
  // meaning and thrown.
  // ``quietCodes``: answers returned as [code] instead of thrown (a firmware without METER).
  async function command(what, [opcode, args, staged], quietCodes, background) {
    return exclusive(async () => {
      let frames, sentLast = false;
      try {
        const s = session();
        frames = await s.command(opcode, args, staged);
        let code = 0, data = new Uint8Array(0);
        for (let i = 0; i < frames.length; i++) {
          sentLast = i === frames.length - 1;
          [code, data] = await s.open(await send(frames[i]));
          if (code !== 0) break;
        }
        state.proven = true;
        if (code !== 0 && quietCodes && quietCodes.includes(code)) return [code];
        if (code !== 0) throw new P.Answer(code);
        if (what) log(what + ": done");
        return data;
      } catch (error) {
        what = what || "status";
        let text = what + ": " + error.message;
        if (error instanceof P.Refused) {
          text = what + ": " + error.message + " — the device disconnects";
          state.session = null;
        } else if (!connected() || /connection lost|no answer/.test(error.message)) {
          text = what + ": connection lost before the answer; " + (sentLast
            ? "the device may or may not have applied it: reconnect and check the status"
            : "nothing was applied (the device drops staged parts with the connection): reconnect and try again");
        }
        fail(text);
        throw error;
      }
    }, background);
  }

  async function claim() {
    const st = state.status;
    if (!connected() || !st) return;
    const key = crypto.getRandomValues(new Uint8Array(16));
    const hex = P.toHex(key);
    const entry = {key: hex, role: "pending", name: state.device.name || "device", device: state.device.id, saved: new Date().toISOString()};
    addKey(entry, true); // kept before it is sent: a lost answer must not lose the key the device may hold
    try {
      await exclusive(async () => {
        const s = new P.Session(key, st.challenge);
        state.session = s;
        const [code] = await s.open(await send(s.claim()[0]));
        if (code !== 0) throw new P.Answer(code);
      });
      addKey(Object.assign(entry, {role: "claimed"}), true);
      state.proven = true;
      log("claimed: this browser's key is the owner key (export it to keep a copy)");
      notice("Claimed. This browser now holds the owner key: export it to keep a copy.", true);
      await refreshStatus();
      await ownerStatus();
    } catch (error) {
      const keys = loadKeys().filter((k) => k.key !== hex || !(error instanceof P.Refused));
      saveKeys(keys);
      showKeys();
      state.session = null;
      if (error instanceof P.Refused) fail("claim " + error.message);
      else fail("claim: " + error.message + (connected() ? "" : " — the connection was lost: if the device now shows an owner, the key is kept here as \"pending\""));
    }
  }

  async function ownerStatus(quiet) {
    const data = await command(quiet ? null : "owner status", P.commands.status());
    const [owners, slot, overrides] = data;
    state.owners = {owners, slot, overrides};
    const entry = loadKeys().find((k) => k.key === P.toHex(state.session.key));
    if (entry && (entry.device !== state.device.id || entry.role === "pending")) {
      addKey(Object.assign(entry, {device: state.device.id, name: state.device.name || entry.name, role: entry.role === "pending" ? "claimed" : entry.role}));
    }
    showStatus();
    if (state.meterSupported !== false) await meterStatus();
    return state.owners;
  }

  // The meter's state (METER, 0x14): last answer and its status flags. A firmware without it
  // answers UNKNOWN_COMMAND: then the page stops asking.
  async function meterStatus(background) {
    const data = await command(null, P.commands.meter(), [16], background);
    state.lastMeter = Date.now();
    if (Array.isArray(data)) {
      state.meterSupported = false;
      log("this firmware has no METER command: no meter flags shown");
    } else {
      state.meterSupported = true;
      state.meter = P.parseMeter(data);
    }
    showStatus();
  }

  // --- the status on screen --------------------------------------------------------------------
  function put(id, text, cls) {
    const el = $(id);
    el.textContent = text;
    el.className = cls || "";
  }
  function showStatus() {
    const st = state.status;
    const on = connected();
    if (!st) return;
    put("st-owned", st.owned ? (state.proven ? "yes — this browser" : "yes") : "none", st.owned ? "" : "bad");
    put("st-claimable", st.claimable ? "open" : "closed");
    if (st.keyRefused) {  // status bit 3: the file's key is unusable, the readings are withheld
      put("st-encrypted", "the bindkey in settings.toml cannot be used: no readings are broadcast (set or clear the key)", "bad");
    } else {
      put("st-encrypted", st.encrypted ? "on (bindkey set)" : "off (plain broadcasts)");
    }
    put("st-version", st.version);
    put("st-address", st.meterAddress === null ? "not set" : String(st.meterAddress), st.meterAddress === null ? "bad" : "");
    put("st-last-poll", {0: "no poll yet", 1: "yes", 2: "no (last poll failed)"}[st.lastPoll] || "code " + st.lastPoll,
        st.lastPoll === 1 ? "good" : (st.lastPoll === 2 ? "bad" : ""));
    const m = state.meter;
    if (state.meterSupported === false) {
      put("st-meter-age", "–"); put("st-meter-flags", "not in this firmware");
    } else if (m) {
      put("st-meter-age", m.ageSeconds === null ? "not since the board started" : m.ageSeconds + " s ago",
          m.ageSeconds === null ? "bad" : "");
      put("st-meter-flags", !m.flagsValid ? "not read yet" : (m.raised.length ? m.raised.map((f) => f.text).join(", ") : "none raised"),
          m.raised.length ? "bad" : (m.flagsValid ? "good" : ""));
    }
    put("st-serial", st.serial || "unknown");
    put("st-made", st.made || "unknown");
    put("st-generation", P.GENERATIONS[st.generation] || String(st.generation));
    put("st-poll", st.pollSeconds + " s");
    const o = state.owners;
    put("st-owners", o ? o.owners + " (this browser's key: slot " + o.slot + ")" : "–");
    put("st-overrides", o ? String(o.overrides) : "–");
    $("status-age").textContent = on ? "live" : "last seen " + new Date(state.lastRead).toTimeString().slice(0, 8);
    for (const [id, value] of [["in-address", st.meterAddress], ["in-poll", st.pollSeconds]]) {
      const input = $(id);
      if (document.activeElement !== input && !input.dataset.edited && value !== null) input.value = value;
    }
    const list = $("owner-list");
    list.textContent = "";
    if (!o) {
      const li = document.createElement("li"); li.className = "muted";
      li.textContent = on ? "Prove ownership (Refresh) to see the owner slots." : "Connect as an owner to see the owner slots.";
      list.appendChild(li);
    } else {
      for (let i = 0; i < o.owners; i++) {
        const li = document.createElement("li");
        li.textContent = "slot " + i + (i === o.slot ? " — this browser's key" : "");
        list.appendChild(li);
      }
    }
  }

  // --- forms -----------------------------------------------------------------------------------
  function onForm(formId, errId, check, run) {
    $(formId).addEventListener("submit", async (event) => {
      event.preventDefault();
      const [value, problem] = check();
      $(errId).textContent = problem || "";
      if (problem) { log(problem + " (nothing sent)", true); return; }
      try {
        await run(value);
        for (const input of $(formId).querySelectorAll("input")) delete input.dataset.edited;
        await refreshStatus();
        if (connected()) await ownerStatus(true); // the overrides count changed
      } catch (error) { /* already shown */ }
    });
  }

  function wire() {
    for (const input of document.querySelectorAll("form input")) {
      input.addEventListener("input", () => { input.dataset.edited = "1"; });
    }
    $("btn-connect").addEventListener("click", scanAndConnect);
    $("btn-reconnect").addEventListener("click", () => { if (state.device) openLink(); });
    $("btn-disconnect").addEventListener("click", () => { log("disconnecting"); disconnect(); });
    $("btn-claim").addEventListener("click", claim);
    $("key-select").addEventListener("change", () => {
      if (state.proven) log("the selected key is used from the next connection on (this one is bound to its key)");
      refreshControls();
    });

    onForm("form-address", "err-address", () => P.check.address($("in-address").value),
      (n) => command("set meter address " + n, P.commands.setAddress(n)));
    onForm("form-poll", "err-poll", () => P.check.poll($("in-poll").value),
      (n) => command("set poll period " + n + " s", P.commands.setPoll(n)));
    onForm("form-name", "err-name", () => P.check.name($("in-name").value),
      (name) => command("set name \"" + name + "\"", P.commands.setName(name)));
    onForm("form-adv", "err-adv", () => P.check.advertising($("in-adv-interval").value, $("in-adv-switch").value),
      ([i, s]) => command("set advertising " + i + " ms / " + s + " ms", P.commands.setAdvertising(i, s)));

    $("btn-bindkey-generate").addEventListener("click", async () => {
      const key = crypto.getRandomValues(new Uint8Array(16));
      try {
        await command("set a new bindkey", P.commands.setBindkey(key));
        $("bindkey-value").textContent = P.toHex(key);
        $("bindkey-shown").hidden = false;
        log("new bindkey set: it is shown once in the Encryption key card");
        await refreshStatus();
      } catch (error) { /* shown */ }
      key.fill(0);
    });
    $("btn-bindkey-copy").addEventListener("click", async () => {
      try { await navigator.clipboard.writeText($("bindkey-value").textContent); log("bindkey copied"); }
      catch (error) { log("copy failed: select the key and copy it by hand", true); }
    });
    $("btn-bindkey-hide").addEventListener("click", () => { $("bindkey-value").textContent = ""; $("bindkey-shown").hidden = true; });
    $("btn-bindkey-clear").addEventListener("click", async () => {
      if (!confirm("Clear the bindkey? The board then broadcasts in the clear.")) return;
      try { await command("clear the bindkey", P.commands.clearBindkey()); await refreshStatus(); } catch (error) { /* shown */ }
    });

    onForm("form-owner-add", "err-owner-add", () => {
      const text = $("in-owner-key").value.trim();
      return text ? P.check.key(text) : [null, null];
    }, async (given) => {
      const key = given || crypto.getRandomValues(new Uint8Array(16));
      const hex = P.toHex(key);
      if (!given) addKey({key: hex, role: "added owner", name: state.device.name || "device", device: state.device.id, saved: new Date().toISOString()});
      try {
        const data = await command("add an owner", P.commands.addOwner(key));
        log("owner key " + hex.slice(0, 4) + "… is in slot " + data[0] + (given ? "" : " (generated here and kept in this browser: export it for the new owner)"));
        $("in-owner-key").value = "";
      } catch (error) {
        if (!given) { saveKeys(loadKeys().filter((k) => k.key !== hex)); showKeys(); }
        throw error;
      }
      await ownerStatus();
    });
    onForm("form-owner-remove", "err-owner-remove", () => P.check.slot($("in-owner-slot").value), async (slot) => {
      if (!confirm("Remove the owner in slot " + slot + "? That key can no longer configure the device.")) return;
      const own = state.owners && state.owners.slot === slot;
      await command("remove the owner in slot " + slot, P.commands.removeOwner(slot));
      $("in-owner-slot").value = "";
      if (own) log("this browser's key was removed: the device ends the connection");
      else await ownerStatus();
    });

    $("btn-refresh").addEventListener("click", async () => { try { await refreshStatus(); await ownerStatus(); } catch (error) { /* shown */ } });
    $("btn-poll-now").addEventListener("click", async () => { try { await command("poll now", P.commands.pollNow()); } catch (error) { /* shown */ } });
    $("btn-reboot").addEventListener("click", async () => {
      if (!confirm("Reboot the board? The connection ends.")) return;
      try { await command("reboot", P.commands.reboot()); log("the board reboots: reconnect in a few seconds"); } catch (error) { /* shown */ }
    });
    $("btn-factory-reset").addEventListener("click", async () => {
      if (!confirm("Factory reset? Every owner and every Bluetooth setting is forgotten; settings.toml applies again.")) return;
      try { await command("factory reset", P.commands.factoryReset()); log("factory reset: the board reboots without owners"); } catch (error) { /* shown */ }
    });

    $("btn-keys-export").addEventListener("click", exportKeys);
    $("file-keys-import").addEventListener("change", async (event) => {
      const file = event.target.files[0];
      if (file) importKeys(await file.text());
      event.target.value = "";
    });
    $("btn-keys-paste").addEventListener("click", () => { importKeys($("in-keys-paste").value); $("in-keys-paste").value = ""; });
    $("btn-key-forget").addEventListener("click", () => {
      const hex = $("key-select").value;
      if (!hex || !confirm("Forget the selected key? Without a copy you can no longer configure its device.")) return;
      saveKeys(loadKeys().filter((k) => k.key !== hex));
      state.session = null;
      showKeys();
      log("key " + hex.slice(0, 4) + "… forgotten");
    });
    $("btn-log-clear").addEventListener("click", () => { $("log").textContent = ""; });
  }

  wire();
  showKeys();
  refreshControls();
  log(navigator.bluetooth ? "ready: press Scan & connect" : "this browser has no Web Bluetooth (use Chrome or Edge)", !navigator.bluetooth);
  window.kaskadPage = {state}; // for a look from the developer tools
})();

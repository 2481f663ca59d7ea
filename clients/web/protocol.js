/* The owner protocol of kaskad-ble (lib/kaskad/session.py, config.py, gatt.py), client side:
 * frames, the public status, sealed commands and responses, the refusal codes and what they mean,
 * and the limits every value is checked against before it is sent (lib/kaskad/settings.py).
 * Needs ccm.js (KaskadCCM). A classic script that also loads as a CommonJS module in Node.
 */
(function (root) {
  "use strict";

  const CCM = (typeof module !== "undefined" && module.exports && typeof require === "function")
    ? require("./ccm.js") : root.KaskadCCM;

  const SERVICE_UUID = "fd6a6a7f-dc80-4975-8990-114ecbf30c45";
  const STATUS_UUID = "fd6a6a7f-dc80-4975-8990-114ecbf30c46";   // read: the public status
  const COMMAND_UUID = "fd6a6a7f-dc80-4975-8990-114ecbf30c47";  // write: length-prefixed frames
  const RESPONSE_UUID = "fd6a6a7f-dc80-4975-8990-114ecbf30c48"; // notify: one frame each

  const T_CLAIM = 0x01, T_COMMAND = 0x02, T_RESPONSE = 0x03, T_REFUSAL = 0x7F;
  const DIR_TO_DEVICE = 0x00, DIR_TO_CLIENT = 0x01;
  const CHALLENGE_LEN = 11, KEY_LEN = 16, FRAME_MAX = 20, MIC_LEN = 4, STAGE_PART = 13;
  const WRITE_MAX = 20; // ATT MTU 23 - 3: one write carries at most this many bytes
  const MAX_OWNERS = 4;

  const OP = {
    STAGE: 0x01, STATUS: 0x10, POLL_NOW: 0x11, REBOOT: 0x12, FACTORY_RESET: 0x13, METER: 0x14,
    SET_ADDRESS: 0x20, SET_POLL: 0x21, SET_BINDKEY: 0x22, CLEAR_BINDKEY: 0x23, SET_NAME: 0x24,
    SET_ADV: 0x25, ADD_OWNER: 0x30, REMOVE_OWNER: 0x31,
  };

  // code: [name, what it means for the user]
  const CODES = {
    0: ["OK", "done"],
    1: ["BAD_FRAME", "the device did not understand the frame (unknown type or wrong length)"],
    2: ["OWNED", "the device already has an owner: ask an owner to add this browser's key, or hold the board's button for 5 s to forget every owner and claim it again"],
    3: ["WINDOW_CLOSED", "the claim window is closed: restart the board or hold its button for 5 s, then claim within 10 minutes"],
    4: ["NOT_OPENED", "not an owner: no owner key of the device opens this command (this key was never an owner, or it was removed)"],
    5: ["BAD_SEQ", "sequence number out of order (a replayed or reordered frame)"],
    6: ["EXPIRED", "the connection expired (nothing proven within 30 s, or the 5-minute limit): connect again"],
    7: ["NO_OWNER", "the device has no owner yet: claim it first"],
    16: ["UNKNOWN_COMMAND", "the firmware does not know this command (an older firmware?)"],
    17: ["BAD_VALUE", "the device refused the value (outside what it accepts)"],
    18: ["BAD_LENGTH", "the command had the wrong length"],
    19: ["OWNERS_FULL", "the device has 4 owners already: remove one first"],
    20: ["LAST_OWNER", "the last owner cannot be removed"],
    21: ["NO_SUCH_OWNER", "there is no owner in that slot"],
  };

  function describe(code) {
    const entry = CODES[code];
    return entry ? entry[0] + " (" + code + "): " + entry[1] : "unknown code " + code;
  }

  // The limits of settings.toml (lib/kaskad/settings.py SCHEMA): [lowest, highest]; a TEXT's
  // bounds are its length in UTF-8 bytes. tests/test_web_protocol.py checks them against SCHEMA.
  const LIMITS = {
    KASKAD_METER_ADDRESS: [1, 65534],
    KASKAD_POLL_SECONDS: [5, 86400],
    KASKAD_NAME: [1, 29],
    KASKAD_ADV_INTERVAL_MS: [20, 10240],
    KASKAD_ADV_SWITCH_MS: [100, 60000],
  };

  class Refused extends Error {
    constructor(code) { super("refused: " + describe(code)); this.code = code; }
  }
  class Answer extends Error { // an authentic answer other than OK
    constructor(code) { super(describe(code)); this.code = code; }
  }
  class BadResponse extends Error {}

  // --- checks before sending: a message naming what is accepted, or null --------------------
  function wholeNumber(text) {
    const s = String(text).trim();
    return /^[0-9]+$/.test(s) ? Number(s) : null;
  }
  function checkInt(key, text, label) {
    const [lo, hi] = LIMITS[key];
    const n = wholeNumber(text);
    if (n === null || n < lo || n > hi) return [null, label + ": expected a whole number " + lo + ".." + hi];
    return [n, null];
  }
  const check = {
    address: (text) => checkInt("KASKAD_METER_ADDRESS", text, "meter address"),
    poll: (text) => checkInt("KASKAD_POLL_SECONDS", text, "poll period (s)"),
    name(text) {
      const [lo, hi] = LIMITS.KASKAD_NAME;
      const n = new TextEncoder().encode(String(text)).length;
      if (n < lo || n > hi) return [null, "name: expected " + lo + " to " + hi + " bytes of UTF-8, not " + n];
      return [String(text), null];
    },
    advertising(intervalText, switchText) {
      const [interval, e1] = checkInt("KASKAD_ADV_INTERVAL_MS", intervalText, "advertising interval (ms)");
      if (e1) return [null, e1];
      const [sw, e2] = checkInt("KASKAD_ADV_SWITCH_MS", switchText, "packet switch period (ms)");
      if (e2) return [null, e2];
      if (sw < interval) return [null, "packet switch period must be at least the advertising interval (" + interval + " ms)"];
      return [[interval, sw], null];
    },
    key(text) { // 32 hex digits
      const s = String(text).trim();
      if (!/^[0-9a-fA-F]{32}$/.test(s)) return [null, "expected exactly 32 hex digits"];
      return [fromHex(s), null];
    },
    slot(text) {
      const n = wholeNumber(text);
      if (n === null || n >= MAX_OWNERS) return [null, "owner slot: expected 0.." + (MAX_OWNERS - 1)];
      return [n, null];
    },
  };

  // --- bytes ---------------------------------------------------------------------------------
  function toHex(data) {
    return Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function fromHex(text) {
    const s = String(text).replace(/\s+/g, "");
    if (s.length % 2 || /[^0-9a-fA-F]/.test(s)) throw new Error("not hex: " + text);
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
    return out;
  }
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  function u16(n) { return Uint8Array.of(n & 0xFF, (n >> 8) & 0xFF); }
  function u32(n) { return Uint8Array.of(n & 0xFF, (n >>> 8) & 0xFF, (n >>> 16) & 0xFF, (n >>> 24) & 0xFF); }

  // The writes that carry one frame on the command stream: length | frame, in pieces of 20.
  function writes(frame) {
    const data = concat(Uint8Array.of(frame.length), frame);
    const out = [];
    for (let at = 0; at < data.length; at += WRITE_MAX) out.push(data.slice(at, at + WRITE_MAX));
    return out;
  }

  // --- the public status (config.status) ----------------------------------------------------
  const GENERATIONS = {0: "unknown", 1: "old", 2: "transitional", 3: "new"};
  const LAST_POLL = {0: "none yet", 1: "ok", 2: "failed"};

  function parseStatus(data) {
    data = data instanceof Uint8Array ? data : new Uint8Array(data.buffer || data, data.byteOffset || 0, data.byteLength);
    if (data.length < 26 || data[0] !== 1) throw new BadResponse("not a status of format 1");
    const s = data[24];
    if (25 + s >= data.length) throw new BadResponse("status too short for its serial number");
    const d = data[25 + s];
    if (26 + s + d > data.length) throw new BadResponse("status too short for its date of manufacture");
    const text = (b) => new TextDecoder().decode(b);
    const challenge = data.slice(2, 13);
    return {
      encrypted: !!(data[1] & 1), owned: !!(data[1] & 2), claimable: !!(data[1] & 4), keyRefused: !!(data[1] & 8),
      challenge, sessionReady: challenge.some((b) => b !== 0),
      version: [data[13], data[14], data[15]].join("."),
      meterAddress: (data[16] | data[17] << 8) || null,
      generation: data[18],
      pollSeconds: (data[19] | data[20] << 8 | data[21] << 16) + data[22] * 0x1000000,
      lastPoll: data[23],
      serial: s ? text(data.slice(25, 25 + s)) : null,
      made: d ? text(data.slice(26 + s, 26 + s + d)) : null,
    };
  }

  // --- the METER answer: last poll, seconds since the meter last answered, its flags ----------
  // (name in kaskad.mirtek.FLAGS, byte 1 = A / 2 = B, bit, what it means)
  const METER_FLAGS = [
    ["seal_terminal_open", 1, 1, "terminal cover seal open"],
    ["seal_case_open", 1, 2, "case seal open"],
    ["seal_module_open", 1, 3, "module seal open"],
    ["magnet_dc", 1, 4, "DC magnetic field"],
    ["magnet_ac", 1, 5, "AC magnetic field"],
    ["emergency", 2, 5, "emergency"],
    ["imbalance", 2, 7, "current imbalance"],
    ["relay_open", 2, 3, "load relay open"],
  ];

  function parseMeter(data) {
    if (data.length < 8) throw new BadResponse("a METER answer has 8 bytes, not " + data.length);
    const age = (data[1] | data[2] << 8 | data[3] << 16) + data[4] * 0x1000000;
    const valid = !!(data[7] & 1);
    const raised = valid ? METER_FLAGS.filter(([, which, bit]) => (which === 1 ? data[5] : data[6]) >> bit & 1) : [];
    return {lastPoll: data[0], ageSeconds: age === 0xFFFFFFFF ? null : age, flagsA: data[5], flagsB: data[6],
            flagsValid: valid, raised: raised.map(([name, , , text]) => ({name, text}))};
  }

  // --- one connection: the challenge, the sequence numbers, sealing and opening -------------
  function claimFrame(key) {
    if (key.length !== KEY_LEN) throw new RangeError("an owner key is 16 bytes");
    return concat(Uint8Array.of(T_CLAIM), key);
  }

  class Session {
    constructor(key, challenge) {
      if (key.length !== KEY_LEN) throw new RangeError("an owner key is 16 bytes");
      if (challenge.length !== CHALLENGE_LEN) throw new RangeError("a challenge is 11 bytes");
      this.key = key;
      this.challenge = challenge;
      this.seq = 0;       // the last seq sent
      this.expected = []; // seqs whose responses have not been opened yet
    }
    nonce(direction, seq) { return concat(this.challenge, Uint8Array.of(direction, seq)); }
    claim() { this.expected.push(0); return [claimFrame(this.key)]; }
    async seal(plaintext) {
      if (plaintext.length < 1 || plaintext.length > 14) throw new RangeError("a sealed command carries 1..14 bytes");
      if (this.seq >= 255) throw new RangeError("sequence numbers used up on this connection: reconnect");
      this.seq += 1;
      this.expected.push(this.seq);
      const sealed = await CCM.encrypt(this.key, this.nonce(DIR_TO_DEVICE, this.seq), plaintext, {tagLength: MIC_LEN});
      return concat(Uint8Array.of(T_COMMAND, this.seq), sealed);
    }
    // The frames of one command: STAGE parts for `staged` (if any), then the command itself.
    async command(opcode, args, staged) {
      const frames = [];
      if (staged) {
        for (let at = 0; at < staged.length; at += STAGE_PART) {
          frames.push(await this.seal(concat(Uint8Array.of(OP.STAGE), staged.slice(at, at + STAGE_PART))));
        }
      }
      frames.push(await this.seal(concat(Uint8Array.of(opcode), args || new Uint8Array(0))));
      return frames;
    }
    // [result code, data] of a sealed response; throws Refused on a refusal.
    async open(frame) {
      if (frame.length === 2 && frame[0] === T_REFUSAL) throw new Refused(frame[1]);
      if (frame.length < 7 || frame[0] !== T_RESPONSE) throw new BadResponse("not a response frame");
      const seq = frame[1];
      if (!this.expected.length || seq !== this.expected[0]) {
        throw new BadResponse("response seq " + seq + ", expected " + this.expected[0]);
      }
      const plain = await CCM.decrypt(this.key, this.nonce(DIR_TO_CLIENT, seq), frame.slice(2), {tagLength: MIC_LEN});
      if (plain === null) throw new BadResponse("the response does not open under this key");
      this.expected.shift();
      return [plain[0], plain.slice(1)];
    }
  }

  // The commands: opcode, arguments, staged bytes.
  const commands = {
    status: () => [OP.STATUS],
    pollNow: () => [OP.POLL_NOW],
    reboot: () => [OP.REBOOT],
    factoryReset: () => [OP.FACTORY_RESET],
    meter: () => [OP.METER],
    setAddress: (n) => [OP.SET_ADDRESS, u16(n)],
    setPoll: (s) => [OP.SET_POLL, u32(s)],
    setBindkey: (key) => [OP.SET_BINDKEY, null, key],
    clearBindkey: () => [OP.CLEAR_BINDKEY],
    setName: (name) => [OP.SET_NAME, null, new TextEncoder().encode(name)],
    setAdvertising: (interval, sw) => [OP.SET_ADV, concat(u16(interval), u16(sw))],
    addOwner: (key) => [OP.ADD_OWNER, null, key],
    removeOwner: (slot) => [OP.REMOVE_OWNER, Uint8Array.of(slot)],
  };

  const api = {
    SERVICE_UUID, STATUS_UUID, COMMAND_UUID, RESPONSE_UUID, T_CLAIM, T_COMMAND, T_RESPONSE,
    T_REFUSAL, CHALLENGE_LEN, KEY_LEN, FRAME_MAX, MAX_OWNERS, OP, CODES, LIMITS, GENERATIONS,
    LAST_POLL, METER_FLAGS, parseMeter, describe, check, toHex, fromHex, concat, writes, parseStatus, claimFrame, Session,
    commands, Refused, Answer, BadResponse,
  };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  if (root) root.KaskadProtocol = api;
})(typeof self !== "undefined" ? self : (typeof globalThis !== "undefined" ? globalThis : this));

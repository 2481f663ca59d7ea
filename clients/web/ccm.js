/* AES-CCM (RFC 3610) on WebCrypto, which has AES-CBC and AES-CTR but no CCM.
 *
 *   await KaskadCCM.encrypt(key, nonce, plaintext, {tagLength: 4, aad})  -> ciphertext | tag
 *   await KaskadCCM.decrypt(key, nonce, sealed, {tagLength: 4, aad})     -> plaintext, or null
 *
 * key: 16 or 32 bytes (Chrome's WebCrypto has no AES-192); nonce: 7..13 bytes (L = 15 - nonce length bytes of message length);
 * tagLength: 4, 6, ..., 16; all byte arrays are Uint8Array. The owner protocol and BTHome use
 * AES-128, a 13-byte nonce, a 4-byte tag and no associated data.
 *
 * CBC-MAC: B0 | encoded aad (zero-padded) | plaintext (zero-padded) through AES-CBC with a zero
 * IV; T is the last block of the chain. WebCrypto's AES-CBC always adds PKCS#7 padding, and the
 * input here is already whole blocks, so its output is one block longer: T is the block BEFORE
 * the last one.
 * CTR: A(i) = flags (L - 1) | nonce | i (L bytes, big-endian); S(i) = E(A(i)). One AES-CTR call
 * from A(0) over 16 zero bytes followed by the payload gives S(0) (to mask T) and then the
 * payload xor S(1), S(2), ...; the counter is the last L bytes (length 8 L bits).
 *
 * A classic script (no ES module: a page opened from file:// cannot load modules) that also
 * works as a CommonJS module in Node.
 */
(function (root) {
  "use strict";

  const BLOCK = 16;

  function subtle() {
    const c = (typeof crypto !== "undefined" && crypto) || (root && root.crypto);
    if (!c || !c.subtle) {
      throw new Error("WebCrypto is not available (a page must be opened from https:, http://localhost or file:)");
    }
    return c.subtle;
  }

  function bytes(value, what) {
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    throw new TypeError(what + " must be a Uint8Array");
  }

  function check(key, nonce, tagLength, length, aadLength) {
    if (key.length !== 16 && key.length !== 32) throw new RangeError("an AES key is 16 or 32 bytes, not " + key.length);
    if (nonce.length < 7 || nonce.length > 13) throw new RangeError("a CCM nonce is 7..13 bytes, not " + nonce.length);
    if (tagLength < 4 || tagLength > 16 || tagLength % 2) throw new RangeError("a CCM tag is 4, 6, ..., 16 bytes, not " + tagLength);
    const L = 15 - nonce.length;
    if (L < 8 && length >= Math.pow(2, 8 * L)) throw new RangeError("message too long for a " + nonce.length + "-byte nonce");
    if (aadLength >= 0xFF00) throw new RangeError("associated data over 65279 bytes is not supported");
    return L;
  }

  // The CBC-MAC input: B0, the associated data with its length prefix, the payload; each part
  // zero-padded to whole blocks.
  function macInput(nonce, L, tagLength, payload, aad) {
    const aadPart = aad.length ? Math.ceil((aad.length + 2) / BLOCK) * BLOCK : 0;
    const out = new Uint8Array(BLOCK + aadPart + Math.ceil(payload.length / BLOCK) * BLOCK);
    out[0] = (aad.length ? 0x40 : 0) | (((tagLength - 2) / 2) << 3) | (L - 1);
    out.set(nonce, 1);
    let n = payload.length;
    for (let i = 15; i > nonce.length; i--) { out[i] = n % 256; n = Math.floor(n / 256); }
    if (aad.length) {
      out[BLOCK] = aad.length >> 8;
      out[BLOCK + 1] = aad.length & 0xFF;
      out.set(aad, BLOCK + 2);
    }
    out.set(payload, BLOCK + aadPart);
    return out;
  }

  async function cbcMac(key, input) {
    const k = await subtle().importKey("raw", key, "AES-CBC", false, ["encrypt"]);
    const chain = new Uint8Array(await subtle().encrypt({name: "AES-CBC", iv: new Uint8Array(BLOCK)}, k, input));
    // chain = E-chain of every input block, then one block of PKCS#7 padding: skip that one
    return chain.subarray(input.length - BLOCK, input.length);
  }

  // [S(0) | data xor S(1), S(2), ...]
  async function ctr(key, nonce, L, data) {
    const counter = new Uint8Array(BLOCK);
    counter[0] = L - 1;
    counter.set(nonce, 1);
    const input = new Uint8Array(BLOCK + data.length);
    input.set(data, BLOCK);
    const k = await subtle().importKey("raw", key, "AES-CTR", false, ["encrypt"]);
    return new Uint8Array(await subtle().encrypt({name: "AES-CTR", counter, length: 8 * L}, k, input));
  }

  function options(opts) {
    opts = opts || {};
    return {tagLength: opts.tagLength === undefined ? 4 : opts.tagLength,
            aad: opts.aad === undefined ? new Uint8Array(0) : bytes(opts.aad, "aad")};
  }

  async function encrypt(key, nonce, plaintext, opts) {
    key = bytes(key, "key"); nonce = bytes(nonce, "nonce"); plaintext = bytes(plaintext, "plaintext");
    const {tagLength, aad} = options(opts);
    const L = check(key, nonce, tagLength, plaintext.length, aad.length);
    const t = await cbcMac(key, macInput(nonce, L, tagLength, plaintext, aad));
    const stream = await ctr(key, nonce, L, plaintext);
    const out = new Uint8Array(plaintext.length + tagLength);
    out.set(stream.subarray(BLOCK));
    for (let i = 0; i < tagLength; i++) out[plaintext.length + i] = t[i] ^ stream[i];
    return out;
  }

  // The plaintext, or null when the tag does not match (every tag byte is compared).
  async function decrypt(key, nonce, sealed, opts) {
    key = bytes(key, "key"); nonce = bytes(nonce, "nonce"); sealed = bytes(sealed, "sealed data");
    const {tagLength, aad} = options(opts);
    if (sealed.length < tagLength) return null;
    const n = sealed.length - tagLength;
    const L = check(key, nonce, tagLength, n, aad.length);
    const stream = await ctr(key, nonce, L, sealed.subarray(0, n));
    const plaintext = stream.slice(BLOCK);
    const t = await cbcMac(key, macInput(nonce, L, tagLength, plaintext, aad));
    let diff = 0;
    for (let i = 0; i < tagLength; i++) diff |= (t[i] ^ stream[i]) ^ sealed[n + i];
    if (diff !== 0) { plaintext.fill(0); return null; }
    return plaintext;
  }

  const api = {encrypt, decrypt};
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  if (root) root.KaskadCCM = api;
})(typeof self !== "undefined" ? self : (typeof globalThis !== "undefined" ? globalThis : this));

/* The page's CCM and protocol code against the shared vectors (docs/owner-vectors.json, made by
 * cryptography's AESCCM) and against random cases from cryptography (tests/web/ccm_cases.py).
 * The same checks run in Node (ccm.test.js) and in Chromium (tests/test_web_page.py):
 *
 *   await KaskadCCMCheck.run(KaskadCCM, KaskadProtocol, vectors, cases)
 *     -> {counts: {ccm, frames, responses, status, codes, random, tampered}, failures: [text]}
 */
(function (root) {
  "use strict";

  function hex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""); }
  function raw(text) {
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
    return out;
  }

  async function run(CCM, P, vectors, cases) {
    const counts = {ccm: 0, frames: 0, responses: 0, status: 0, codes: 0, random: 0, tampered: 0};
    const failures = [];
    const expect = (ok, what) => { if (!ok) failures.push(what); return ok; };

    // 1. the CCM vectors: encrypt, decrypt, and a flipped MIC bit refused
    for (const v of vectors.ccm) {
      const key = raw(v.key), nonce = raw(v.nonce), plain = raw(v.plaintext);
      const sealed = await CCM.encrypt(key, nonce, plain, {tagLength: vectors.mic_len});
      expect(hex(sealed) === v.sealed, "ccm vector encrypt " + v.nonce + ": " + hex(sealed) + " != " + v.sealed);
      const opened = await CCM.decrypt(key, nonce, raw(v.sealed), {tagLength: vectors.mic_len});
      expect(opened !== null && hex(opened) === v.plaintext, "ccm vector decrypt " + v.nonce);
      const bad = raw(v.sealed); bad[bad.length - 1] ^= 1;
      expect(await CCM.decrypt(key, nonce, bad, {tagLength: vectors.mic_len}) === null, "ccm vector tampered " + v.nonce);
      counts.ccm++;
    }

    // 2. the sessions: every command frame sealed as the vectors say, every response opened
    for (const s of vectors.sessions) {
      const session = new P.Session(raw(s.owner_key), raw(s.challenge));
      for (const step of s.steps) {
        const where = s.name + " / " + step.what;
        const c = step.command;
        let frame;
        if (c.seq === undefined) {
          frame = session.claim()[0];
        } else {
          session.seq = c.seq - 1; // a replay step repeats a seq on purpose
          session.expected = [];
          frame = await session.seal(raw(c.plaintext));
        }
        expect(hex(frame) === c.frame, where + ": frame " + hex(frame) + " != " + c.frame);
        expect(JSON.stringify(P.writes(frame).map(hex)) === JSON.stringify(c.writes), where + ": writes");
        counts.frames++;
        const r = step.response;
        if (!r) continue;
        try {
          const [code, data] = await session.open(raw(r.frame));
          expect(!r.refusal && code === r.code && hex(data) === r.data, where + ": opened " + code + " " + hex(data));
        } catch (error) {
          expect(r.refusal && error instanceof P.Refused && error.code === r.code, where + ": " + error.message);
        }
        counts.responses++;
      }
    }

    // 3. the public status examples
    for (const example of vectors.status) {
      const st = P.parseStatus(raw(example.status));
      const e = example.parsed;
      const same = st.encrypted === e.encrypted && st.owned === e.owned && st.claimable === e.claimable &&
        hex(st.challenge) === e.challenge && st.version === e.version.join(".") &&
        (st.meterAddress || 0) === e.meter_address && st.generation === e.generation &&
        st.pollSeconds === e.poll_seconds && st.lastPoll === e.last_poll &&
        (st.serial || "") === e.serial && (st.made || "") === e.made;
      expect(same, "status " + example.status + ": " + JSON.stringify(st));
      counts.status++;
    }

    // 4. every code has a name (the same) and a meaning in the page
    for (const c of vectors.codes) {
      expect(P.CODES[c.code] && P.CODES[c.code][0] === c.name && P.CODES[c.code][1].length > 0, "code " + c.code + " " + c.name);
      counts.codes++;
    }

    // 5. random cases from cryptography's AESCCM
    for (const c of cases || []) {
      const key = raw(c.key), nonce = raw(c.nonce), plain = raw(c.plaintext);
      const opts = {tagLength: c.tag_length, aad: raw(c.aad)};
      const where = "random n=" + plain.length + " nonce=" + nonce.length + " tag=" + c.tag_length + " key=" + key.length + " aad=" + opts.aad.length;
      const sealed = await CCM.encrypt(key, nonce, plain, opts);
      expect(hex(sealed) === c.sealed, where + ": encrypt");
      const opened = await CCM.decrypt(key, nonce, raw(c.sealed), opts);
      expect(opened !== null && hex(opened) === c.plaintext, where + ": decrypt");
      counts.random++;
      const bad = raw(c.sealed);
      bad[(plain.length * 7 + 3) % bad.length] ^= 0x80; // one bit anywhere: payload or tag
      expect(await CCM.decrypt(key, nonce, bad, opts) === null, where + ": tampered accepted");
      counts.tampered++;
    }
    return {counts, failures};
  }

  const api = {run};
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  if (root) root.KaskadCCMCheck = api;
})(typeof self !== "undefined" ? self : (typeof globalThis !== "undefined" ? globalThis : this));

// node --test tests/web/ : the page's CCM (clients/web/ccm.js) and protocol code
// (clients/web/protocol.js) against docs/owner-vectors.json and against cryptography's AESCCM.
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const path = require("node:path");
const {execFileSync} = require("node:child_process");

const ROOT = path.join(__dirname, "..", "..");
const CCM = require(path.join(ROOT, "clients", "web", "ccm.js"));
const P = require(path.join(ROOT, "clients", "web", "protocol.js"));
const check = require("./ccm_check.js");
const vectors = JSON.parse(fs.readFileSync(path.join(ROOT, "docs", "owner-vectors.json"), "utf8"));

function python() {
  if (process.env.KASKAD_PYTHON) return process.env.KASKAD_PYTHON;
  const venv = path.join(ROOT, ".venv", "bin", "python");
  return fs.existsSync(venv) ? venv : "python3";
}

test("the shared vectors: CCM, every session frame and response, status, codes", async () => {
  const {counts, failures} = await check.run(CCM, P, vectors, []);
  console.log("vectors checked: " + JSON.stringify(counts));
  assert.deepStrictEqual(failures, []);
  assert.strictEqual(counts.ccm, vectors.ccm.length);
  assert.ok(counts.ccm > 0 && counts.frames > 0 && counts.responses > 0 && counts.status > 0);
});

test("random cases from cryptography's AESCCM (lengths 0..64, nonces of 7..13 bytes)", async () => {
  const made = JSON.parse(execFileSync(python(), [path.join(__dirname, "ccm_cases.py"), "12"], {maxBuffer: 1 << 26}));
  const {counts, failures} = await check.run(CCM, P, {ccm: [], sessions: [], status: [], codes: []}, made.cases);
  console.log("random cases checked: " + counts.random + " (and as many tampered ones refused)");
  assert.deepStrictEqual(failures.slice(0, 5), []);
  assert.strictEqual(counts.random, made.cases.length);
  assert.ok(counts.random >= 500);
});

test("values are checked with settings.toml's limits before anything is sent", () => {
  assert.deepStrictEqual(P.check.address("20109"), [20109, null]);
  for (const bad of ["0", "65535", "-1", "1.5", "", "abc"]) assert.ok(P.check.address(bad)[1], bad);
  assert.ok(P.check.poll("4")[1]);
  assert.deepStrictEqual(P.check.poll("86400"), [86400, null]);
  assert.ok(P.check.name("")[1]);
  assert.ok(P.check.name("é".repeat(15))[1], "30 bytes of UTF-8");
  assert.deepStrictEqual(P.check.name("x".repeat(29)), ["x".repeat(29), null]);
  assert.ok(P.check.advertising("2000", "1000")[1], "switch shorter than the interval");
  assert.deepStrictEqual(P.check.advertising("20", "100"), [[20, 100], null]);
  assert.ok(P.check.advertising("19", "100")[1]);
  assert.ok(P.check.slot("4")[1]);
});

// Strict JSON (docs/bundle-format.md section 10): UTF-8, no BOM, no key twice, no NaN, finite numbers, no lone surrogate.
"use strict";
class StrictJSON extends Error {}
class JNum { constructor(v, int) { this.v = v; this.int = int; } }
function strictJSON(bytes) {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) throw new StrictJSON("the file starts with a byte-order mark; JSON here is plain UTF-8");
  let tokens = 0; for (const c of bytes) if (c === 44 || c === 58 || c === 123 || c === 91) tokens++;
  if (tokens > 4000000) throw new StrictJSON("it holds more commas, colons and brackets than this verifier reads");
  let s;
  try { s = new TextDecoder("utf-8", { fatal: true }).decode(bytes); } catch (e) { throw new StrictJSON("the file is not UTF-8 text"); }
  let i = 0;
  const bad = (m) => { const e = new SyntaxError(m + " at character " + i); throw e; };
  const ws = () => { while (i < s.length && " \t\n\r".includes(s[i])) i++; };
  function str() {
    i++; let out = "";
    for (;;) {
      if (i >= s.length) bad("unterminated string");
      const c = s[i++];
      if (c === '"') break;
      if (c < " ") bad("control character in string");
      if (c !== "\\") { out += c; continue; }
      const e = s[i++];
      const m = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" }[e];
      if (m !== undefined) { out += m; continue; }
      if (e !== "u" || !/^[0-9a-fA-F]{4}$/.test(s.substr(i, 4))) bad("bad escape");
      out += String.fromCharCode(parseInt(s.substr(i, 4), 16)); i += 4;
    }
    if (!out.isWellFormed()) throw new StrictJSON("a string holds an unpaired surrogate escape (not text)");
    return out;
  }
  function value(depth) {
    if (depth > 900) bad("nested too deeply");
    ws();
    const c = s[i];
    if (c === "{") {
      i++; const o = Object.create(null); const keys = new Set(); ws();
      if (s[i] === "}") { i++; return o; }
      for (;;) {
        ws(); if (s[i] !== '"') bad("expected a key");
        const k = str();
        if (keys.has(k)) throw new StrictJSON(`the key ${JSON.stringify(k.slice(0, 80))} appears twice in one object, so readers may disagree`);
        keys.add(k); ws(); if (s[i++] !== ":") bad("expected ':'");
        o[k] = value(depth + 1); ws();
        if (s[i] === ",") { i++; continue; }
        if (s[i] === "}") { i++; return o; }
        bad("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++; const a = []; ws();
      if (s[i] === "]") { i++; return a; }
      for (;;) {
        a.push(value(depth + 1)); ws();
        if (s[i] === ",") { i++; continue; }
        if (s[i] === "]") { i++; return a; }
        bad("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    for (const [w, v] of [["true", true], ["false", false], ["null", null]]) if (s.startsWith(w, i)) { i += w.length; return v; }
    for (const w of ["NaN", "Infinity", "-Infinity"]) if (s.startsWith(w, i)) throw new StrictJSON(w + " is not a JSON number");
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(s.slice(i, i + 400));
    if (!m) bad("expected a value");
    i += m[0].length;
    const isInt = !m[2] && !m[3];
    if (isInt) { const big = BigInt(m[0]); return Number.isSafeInteger(Number(big)) ? Number(big) : new JNum(Number(big), true); }
    const v = Number(m[0]);
    if (!Number.isFinite(v)) throw new StrictJSON(`the number ${m[0].slice(0, 40)} is too large to be represented`);
    return new JNum(v, false);
  }
  const v = value(0); ws();
  if (i !== s.length) bad("extra data");
  return v;
}
function isObj(v) { return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof JNum); }
function isInt(v) { return (typeof v === "number" && Number.isInteger(v)) || (v instanceof JNum && v.int); }
function intVal(v) { return typeof v === "number" ? v : v.v; }

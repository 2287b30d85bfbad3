// SHA-256 and Ed25519 through WebCrypto; signed notes, checkpoints, tlog-proof, Merkle inclusion (RFC 9162).
"use strict";
const enc = new TextEncoder();
async function sha256(b) { return new Uint8Array(await crypto.subtle.digest("SHA-256", b)); }
function hex(b) { return Array.from(b, x => x.toString(16).padStart(2, "0")).join(""); }
function cat(...a) { const n = a.reduce((s, x) => s + x.length, 0); const o = new Uint8Array(n); let p = 0; for (const x of a) { o.set(x, p); p += x.length; } return o; }
function eq(a, b) { if (a.length !== b.length) return false; let d = 0; for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i]; return d === 0; }
function b64dec(t, what) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4) throw new Error(`${what} is not valid base64`);
  const bin = atob(t); const o = Uint8Array.from(bin, c => c.charCodeAt(0));
  if (btoa(bin) !== t) throw new Error(`${what} is not canonical base64 (standard alphabet, '=' padding)`);
  return o;
}
function b64(b) { return btoa(String.fromCharCode(...b)); }
let ED25519_OK = null;
async function ed25519Verify(pub, sigb, msg) {
  try {
    const k = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    ED25519_OK = true;
    return await crypto.subtle.verify({ name: "Ed25519" }, k, sigb, msg);
  } catch (e) {
    if (ED25519_OK === null) throw new Error("this browser has no Ed25519 in WebCrypto; this page has no fallback yet (use Chromium 113+ or Firefox 129+)");
    return false;
  }
}
async function keyId(name, type, pub) { const d = await sha256(cat(enc.encode(name + "\n"), Uint8Array.of(type), pub)); return ((d[0] << 24) >>> 0) + (d[1] << 16) + (d[2] << 8) + d[3]; }
function checkKeyName(n) { if (!n || n.includes("+") || /[\s\x00-\x1f\x7f]/u.test(n)) throw new Error(`the key name ${JSON.stringify(n)} is not a valid signed-note key name`); }
async function parseVkey(text) {
  text = text.trim();
  const parts = text.split("+");
  if (parts.length < 3) throw new Error(`the verifier key ${JSON.stringify(text)} is not of the form name+keyid+base64key`);
  const name = parts[0], hid = parts[1], k = parts.slice(2).join("+");
  checkKeyName(name);
  if (!/^[0-9a-f]{8}$/.test(hid)) throw new Error("the key ID in the verifier key must be 8 lowercase hex digits");
  const raw = b64dec(k, "the verifier key's key material");
  if (!raw.length) throw new Error("the verifier key has no key material");
  const type = raw[0], pub = raw.subarray(1);
  if (type !== 1 && type !== 4) throw new Error(`the verifier key ${JSON.stringify(name)} uses an unsupported signature type`);
  if (pub.length !== 32) throw new Error(`the Ed25519 key in ${JSON.stringify(name)} is ${pub.length} bytes long, not 32`);
  const id = parseInt(hid, 16);
  if (await keyId(name, type, pub) !== id) throw new Error(`the key ID ${hid} in the verifier key ${JSON.stringify(name)} does not match its key`);
  const fp = hex(await sha256(raw));
  return { name, id, type, pub, vkey: `${name}+${hid}+${b64(raw)}`, fingerprint: fp };
}
function parseNote(bytes) {
  if (bytes.length > 1 << 20) throw new Error("the note is too long");
  let s; try { s = new TextDecoder("utf-8", { fatal: true }).decode(bytes); } catch (e) { throw new Error("the note is not valid UTF-8"); }
  if (/[\x00-\x09\x0b-\x1f\x7f]/.test(s)) throw new Error("the note contains a control character; signed notes allow only line feeds");
  if (!s.endsWith("\n")) throw new Error("the note does not end with a newline (it may be truncated)");
  const split = s.lastIndexOf("\n\n");
  if (split < 0) throw new Error("the note has no signatures: no blank line separates text from signatures");
  const text = s.slice(0, split + 1), block = s.slice(split + 2);
  if (!text || text === "\n") throw new Error("the note text is empty");
  if (!block) throw new Error("the note has no signature lines after the blank line");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > 100) throw new Error("the note has too many signatures");
  const sigs = lines.map(line => {
    if (!line.startsWith("\u2014 ")) throw new Error(`the note line ${JSON.stringify(line.slice(0, 60))} is not a signature line`);
    const parts = line.slice(2).split(" ");
    if (parts.length !== 2) throw new Error(`the signature line ${JSON.stringify(line.slice(0, 60))} is malformed`);
    checkKeyName(parts[0]);
    const raw = b64dec(parts[1], `the signature by ${parts[0]}`);
    if (raw.length < 5) throw new Error(`the signature by ${parts[0]} is too short`);
    return { name: parts[0], id: ((raw[0] << 24) >>> 0) + (raw[1] << 16) + (raw[2] << 8) + raw[3], sig: raw.subarray(4) };
  });
  return { text, textBytes: enc.encode(text), sigs };
}
function parseCheckpoint(text) {
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw new Error("a checkpoint needs at least three lines: origin, size and root hash");
  const [origin, sizeS, rootS, ...ext] = lines;
  if (!origin || origin.length > 1024) throw new Error("the checkpoint origin line is empty or too long");
  if (ext.length > 16 || ext.some(e => !e)) throw new Error("the checkpoint has empty or too many extension lines");
  const size = decimal(sizeS, "tree size");
  const root = b64dec(rootS, "the root hash");
  if (root.length !== 32) throw new Error("the root hash is not the base64 of a 32-byte hash");
  return { origin, size, root, ext };
}
function decimal(t, what) {
  if (!/^[0-9]+$/.test(t)) throw new Error(`the ${what} ${JSON.stringify(t.slice(0, 40))} is not a decimal number`);
  if (t.length > 1 && t[0] === "0") throw new Error(`the ${what} ${t} has a leading zero`);
  if (t.length > 19) throw new Error(`the ${what} is too large`);
  const v = Number(t); if (v > 2 ** 53) throw new Error(`the ${what} ${t} is too large`);
  return v;
}
function parseProof(bytes) {
  let s; try { s = new TextDecoder("utf-8", { fatal: true }).decode(bytes); } catch (e) { throw new Error("the proof is not valid UTF-8"); }
  const at = s.indexOf("\n\n"); if (at < 0) throw new Error("the proof has no blank line before its checkpoint");
  const lines = s.slice(0, at).split("\n"), rest = s.slice(at + 2);
  if (lines[0] !== "c2sp.org/tlog-proof@v1") throw new Error("the proof does not start with 'c2sp.org/tlog-proof@v1'");
  let i = 1;
  if (i < lines.length && lines[i].startsWith("extra ")) { b64dec(lines[i].slice(6), "the proof's extra line"); i++; }
  if (i >= lines.length || !lines[i].startsWith("index ")) throw new Error("the proof has no 'index' line");
  const index = decimal(lines[i].slice(6), "leaf index");
  const hs = lines.slice(i + 1);
  if (hs.length > 63) throw new Error("the proof has too many hashes");
  const hashes = hs.map((h, n) => { const r = b64dec(h, `the proof hash #${n}`); if (r.length !== 32) throw new Error(`the proof hash #${n} is not the base64 of a 32-byte hash`); return r; });
  const noteBytes = enc.encode(rest);
  const note = parseNote(noteBytes);
  const cp = parseCheckpoint(note.text);
  return { index, hashes, noteBytes, note, cp };
}
async function nodeHash(l, r) { return sha256(cat(Uint8Array.of(1), l, r)); }
async function rootFromInclusion(index, size, leaf, proof) {
  if (index >= size) throw new Error(`the index ${index} is outside the tree of size ${size}`);
  let fn = index, sn = size - 1, r = leaf, used = 0;
  for (const p of proof) {
    if (sn === 0) throw new Error("the inclusion proof has too many hashes");
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else r = await nodeHash(r, p);
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); used++;
  }
  if (sn !== 0) throw new Error("the inclusion proof has too few hashes");
  return r;
}
// open_note: unknown keys skipped, a known key whose signature fails rejects, none verified rejects.
async function openNote(note, keys) {
  const verified = [];
  for (const s of note.sigs) {
    const cands = keys.filter(k => k.name === s.name && k.id === s.id);
    if (!cands.length) continue;
    let good = null;
    for (const k of cands) if (k.type === 1 && s.sig.length === 64 && await ed25519Verify(k.pub, s.sig, note.textBytes)) { good = k; break; }
    if (!good) throw new Error(`the signature by ${s.name} (key ID ${s.id.toString(16).padStart(8, "0")}) does not verify: the signed text was changed after signing, or the signature was forged or damaged`);
    verified.push(good);
  }
  if (!verified.length) throw new Error(`no signature on the note is by a trusted key (signed by: ${[...new Set(note.sigs.map(s => s.name))].sort().join(", ") || "none"})`);
  return verified;
}

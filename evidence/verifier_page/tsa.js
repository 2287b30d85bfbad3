// Step 7, first part: the RFC 3161 tokens' numbering and copies, and a small DER reader that finds a
// token's message imprint (TimeStampResp > ContentInfo > SignedData > TSTInfo > messageImprint).
// The CMS signature and the chain to a TSA root are not checked here yet: a token that passes these
// checks leaves step 7 NOT CHECKED, never VERIFIED.
"use strict";
class DerError extends Error {}
// One DER element at data[off]: {tag, start (of the contents), end}; definite lengths only.
function derAt(data, off, end = data.length) {
  if (off + 2 > end) throw new DerError("truncated");
  const tag = data[off];
  if ((tag & 0x1f) === 0x1f) throw new DerError("long tags are not used in time-stamps");
  let len = data[off + 1], p = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > end) throw new DerError("bad length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + data[p + i];
    p += n;
  }
  if (p + len > end) throw new DerError("truncated");
  return { tag, start: p, end: p + len };
}
// The elements directly inside a constructed element.
function derKids(data, el) {
  const out = [];
  for (let p = el.start; p < el.end;) { const k = derAt(data, p, el.end); out.push(k); p = k.end; }
  return out;
}
const SHA256_OID_DER = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
// {algorithmIsSha256, imprint} of a TimeStampResp; throws DerError where it cannot be read.
function tokenImprint(der) {
  const resp = derAt(der, 0);
  if (resp.tag !== 0x30 || resp.end !== der.length) throw new DerError("not one DER SEQUENCE");
  const [, token] = derKids(der, resp);
  if (!token || token.tag !== 0x30) throw new DerError("no timeStampToken");
  const [, explicit] = derKids(der, token);
  if (!explicit || explicit.tag !== 0xa0) throw new DerError("no content");
  const [signedData] = derKids(der, explicit);
  const sd = derKids(der, signedData);
  const encap = sd.find(k => k.tag === 0x30 && derKids(der, k)[0]?.tag === 0x06);
  if (!encap) throw new DerError("no encapsulated content");
  const [, wrap] = derKids(der, encap);
  if (!wrap || wrap.tag !== 0xa0) throw new DerError("no eContent");
  const [octets] = derKids(der, wrap);
  if (!octets || octets.tag !== 0x04) throw new DerError("eContent is not an OCTET STRING");
  const tst = derAt(der, octets.start, octets.end);
  const fields = derKids(der, tst);
  const mi = fields[2];
  if (!mi || mi.tag !== 0x30) throw new DerError("no messageImprint");
  const [alg, digest] = derKids(der, mi);
  const [oid] = derKids(der, alg);
  if (!digest || digest.tag !== 0x04 || !oid || oid.tag !== 0x06) throw new DerError("bad messageImprint");
  const o = der.subarray(oid.start, oid.end);
  const isSha256 = o.length === SHA256_OID_DER.length && SHA256_OID_DER.every((b, i) => o[i] === b);
  return { isSha256, imprint: der.slice(digest.start, digest.end) };
}
const TOKEN_NUM_RE = /^evidence\/checkpoint\.([1-9][0-9]{0,2})\.tsr$/, TSA_NUM_RE = /^evidence\/tsa-([1-9][0-9]{0,2})\.pem$/;
// The checks of step 7 this page makes; throws StepFail with evidence/verify.py's words, or
// NotImplemented once they pass (the signatures and chains are not checked by the page).
async function step7(run) {
  const names = [...run.byName.keys()];
  const numbered = names.map(n => [TOKEN_NUM_RE.exec(n), n]).filter(([m]) => m).map(([m, n]) => [+m[1], n]).sort((a, b) => a[0] - b[0]);
  const ks = numbered.map(([k]) => k);
  if (ks.some((k, i) => k !== i + 1)) {
    let missing = 1; while (ks.includes(missing)) missing++;
    throw new StepFail(`The time-stamps are not numbered 1, 2, ... without gaps: evidence/checkpoint.${missing}.tsr is missing (it was removed or renamed).`, [`evidence/checkpoint.${missing}.tsr`]);
  }
  for (const n of names) {
    const m = TSA_NUM_RE.exec(n);
    if (m && !ks.includes(+m[1])) throw new StepFail(`${n} belongs to time-stamp ${m[1]}, but evidence/checkpoint.${m[1]}.tsr is missing.`, [n, `evidence/checkpoint.${m[1]}.tsr`]);
  }
  if (!numbered.length) return null; // no token: the CLI grades that (no independent time); the page does not yet
  const seen = new Map();
  for (const [, name] of numbered) {
    const [digest] = await run.hash(name);
    if (seen.has(digest)) throw new StepFail(`${name} is a copy of ${seen.get(digest)}: the same time-stamp twice means a file was copied into the bundle after the fact.`, [name, seen.get(digest)]);
    seen.set(digest, name);
  }
  const note = await run.read(NOTE);
  const want = await sha256(note);
  for (const [, name] of numbered) {
    const der = await run.read(name);
    let got;
    try { got = tokenImprint(der); } catch (e) { if (e instanceof DerError) continue; throw e; } // left to 'evidence verify'
    if (!got.isSha256 || got.imprint.length !== want.length || got.imprint.some((b, i) => b !== want[i]))
      throw new StepFail(`${name} does not cover the checkpoint: it certifies the digest ${hex(got.imprint)}, but ${NOTE} has SHA-256 ${hex(want)}.`, [name, NOTE]);
  }
  return numbered.length;
}

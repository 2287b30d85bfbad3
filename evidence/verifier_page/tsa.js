// Step 7: RFC 3161 time-stamps, as evidence/verify/step7_timestamps.py and evidence/timestamp/
// (token.py, verification.py) check them: a strict, bounded DER reader; X.509 certificates; CMS
// SignedData with its TSTInfo, signed attributes (content type, message digest, ESS signing
// certificate) and signature; the chain from the TSA's certificate to the pinned root, valid at
// genTime; the RFC 3161 certificate profile; and the pins and windows of the trust policy.
// Signatures are checked with WebCrypto (ECDSA P-256/P-384/P-521, RSA PKCS#1 v1.5, RSA-PSS, Ed25519).
"use strict";
class DerError extends Error {}
class TimestampError extends Error {}
// Why data is not one well-formed DER element, or null (token.py der_problem, the same rules).
function derProblem(data) {
  if (!data.length) return "no bytes";
  const stack = [[0, data.length, true]];
  while (stack.length) {
    let [pos, end, top] = stack.pop();
    while (pos < end) {
      const start = pos, tag = data[pos++];
      if ((tag & 0x1f) === 0x1f) { while (pos < end && data[pos] & 0x80) pos++; pos++; }
      if (pos >= end) return `an element at byte ${start} is cut off`;
      const first = data[pos++];
      let length;
      if (first === 0x80) return `the element at byte ${start} has an indefinite length (BER, not DER)`;
      if (first < 0x80) length = first;
      else {
        const n = first & 0x7f;
        if (n > 4 || pos + n > end) return `the element at byte ${start} has an impossible length`;
        length = 0; for (let i = 0; i < n; i++) length = length * 256 + data[pos + i];
        if (length < 0x80 || data[pos] === 0) return `the element at byte ${start} does not encode its length in the shortest form`;
        pos += n;
      }
      if (pos + length > end) return `the element at byte ${start} claims ${length} bytes, more than its container holds`;
      if (tag & 0x20) stack.push([pos, pos + length, false]);
      pos += length;
      if (top && pos !== end) return `${end - pos} stray byte(s) after the end of the time-stamp`;
    }
  }
  return null;
}
// One element at data[off] (DER already checked, or checked here): {tag, head, start, end}.
function derAt(data, off, end = data.length) {
  if (off + 2 > end) throw new DerError("truncated");
  const tag = data[off];
  if ((tag & 0x1f) === 0x1f) throw new DerError("long tags are not used here");
  let len = data[off + 1], p = off + 2;
  if (len === 0x80) throw new DerError("indefinite length");
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n > 4 || p + n > end) throw new DerError("bad length");
    len = 0; for (let i = 0; i < n; i++) len = len * 256 + data[p + i];
    if (len < 0x80 || data[p] === 0) throw new DerError("length not minimal");
    p += n;
  }
  if (p + len > end) throw new DerError("truncated");
  return { tag, head: off, start: p, end: p + len };
}
function derKids(data, el) {
  const out = [];
  for (let p = el.start; p < el.end;) { const k = derAt(data, p, el.end); out.push(k); p = k.end; if (out.length > 10000) throw new DerError("too many elements"); }
  return out;
}
const derRaw = (d, el) => d.subarray(el.head, el.end), derVal = (d, el) => d.subarray(el.start, el.end);
function want(el, tag, what) { if (!el || el.tag !== tag) throw new DerError(`${what} is missing or of the wrong type`); return el; }
function oidText(b) {
  const arcs = []; let v = 0n;
  for (const x of b) { v = (v << 7n) | BigInt(x & 0x7f); if (!(x & 0x80)) { arcs.push(v); v = 0n; } }
  if (!arcs.length) return "";
  const first = arcs[0] / 40n > 2n ? 2n : arcs[0] / 40n;
  return [first, arcs[0] - 40n * first, ...arcs.slice(1)].join(".");
}
const derOid = (d, el) => oidText(derVal(d, want(el, 0x06, "an object identifier")));
function derInt(d, el) { const v = derVal(d, want(el, 0x02, "an integer")); if (!v.length) throw new DerError("empty integer"); let n = 0n; for (const x of v) n = (n << 8n) | BigInt(x); return v[0] & 0x80 ? BigInt.asIntN(8 * v.length, n) : n; }
// A time (UTCTime or GeneralizedTime) in milliseconds since 1970, and its text.
function derTime(d, el) {
  const t = new TextDecoder().decode(derVal(d, el));
  let m;
  if (el.tag === 0x17 && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(t))) { const y = +m[1]; m = [null, String(y < 50 ? 2000 + y : 1900 + y), ...m.slice(2)]; }
  else if (el.tag === 0x18 && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d*[1-9])?Z$/.exec(t))) { /* GeneralizedTime */ }
  else throw new DerError(`the time ${JSON.stringify(t.slice(0, 40))} is not a DER time`);
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) + (m[7] ? Math.floor(+("0" + m[7]) * 1000) : 0);
  if (!Number.isFinite(ms) || +m[2] < 1 || +m[2] > 12 || +m[3] < 1 || +m[3] > 31 || +m[4] > 23 || +m[5] > 59 || +m[6] > 59) throw new DerError("an impossible date");
  return ms;
}
function utcText(ms) { return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d+Z$/, "Z"); }
// --------------------------------------------------------------------------- X.509
const ATTR_NAMES = { "2.5.4.3": "CN", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C", "2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID" };
// A Name as RFC 4514 text (what cryptography's rfc4514_string() prints), for messages only.
function nameText(d, el) {
  const rdns = derKids(d, want(el, 0x30, "a name")).map(set => derKids(d, set).map(atv => {
    const [o, v] = derKids(d, atv); const oid = derOid(d, o);
    let s = new TextDecoder().decode(derVal(d, v));
    s = s.replace(/[\\,+"<>;=]/g, c => "\\" + c).replace(/^[ #]/, c => "\\" + c).replace(/ $/, "\\ ");
    return `${ATTR_NAMES[oid] || oid}=${s}`;
  }).join("+"));
  return rdns.reverse().join(",");
}
const EKU_OID = "2.5.29.37", BC_OID = "2.5.29.19", KU_OID = "2.5.29.15", TIMESTAMPING = "1.3.6.1.5.5.7.3.8";
function parseCert(der) {
  if (derProblem(der)) throw new DerError("not well-formed DER");
  const top = derAt(der, 0);
  const [tbsEl, algEl, sigEl] = derKids(der, want(top, 0x30, "a certificate"));
  want(tbsEl, 0x30, "the certificate body"); want(algEl, 0x30, "the signature algorithm"); want(sigEl, 0x03, "the signature");
  const f = derKids(der, tbsEl); let i = 0;
  let version = 1;
  if (f[i] && f[i].tag === 0xa0) { version = Number(derInt(der, derKids(der, f[i])[0])) + 1; i++; }
  const serial = hex(derVal(der, want(f[i++], 0x02, "the serial number")));
  const innerAlg = want(f[i++], 0x30, "the signature algorithm");
  const issuer = want(f[i++], 0x30, "the issuer"), validity = want(f[i++], 0x30, "the validity"), subject = want(f[i++], 0x30, "the subject");
  const spki = want(f[i++], 0x30, "the public key");
  const [nb, na] = derKids(der, validity);
  const ext = new Map();
  for (; i < f.length; i++) {
    if (f[i].tag !== 0xa3) continue;
    for (const e of derKids(der, want(derKids(der, f[i])[0], 0x30, "the extensions"))) {
      const parts = derKids(der, e); const oid = derOid(der, parts[0]);
      const critical = parts.length === 3 && parts[1].tag === 0x01 && der[parts[1].start] !== 0;
      if (ext.has(oid)) throw new DerError(`the extension ${oid} appears twice`);
      ext.set(oid, { critical, value: derVal(der, want(parts[parts.length - 1], 0x04, "an extension value")) });
    }
  }
  const sig = derVal(der, sigEl);
  if (sig[0] !== 0) throw new DerError("the signature has unused bits");
  const algParts = derKids(der, algEl);
  if (!eq(derRaw(der, innerAlg), derRaw(der, algEl))) throw new DerError("the two signature algorithms differ");
  const c = {
    der, version, serial, issuer: derRaw(der, issuer).slice(), subject: derRaw(der, subject).slice(),
    issuerText: nameText(der, issuer), subjectText: nameText(der, subject),
    notBefore: derTime(der, nb), notAfter: derTime(der, na), spki: derRaw(der, spki).slice(), ext,
    tbs: derRaw(der, tbsEl), sigAlg: derOid(der, algParts[0]), sigParams: algParts[1] ? derRaw(der, algParts[1]) : null, sig: sig.subarray(1),
  };
  const [ka, kbits] = derKids(der, spki); const kparts = derKids(der, ka);
  c.keyAlg = derOid(der, kparts[0]); c.keyCurve = kparts[1] && kparts[1].tag === 0x06 ? derOid(der, kparts[1]) : null;
  c.keyKind = { "1.2.840.10045.2.1": "ec", "1.2.840.113549.1.1.1": "rsa", "1.2.840.113549.1.1.10": "rsa", "1.3.101.112": "ed25519", "1.3.101.113": "ed448" }[c.keyAlg] || "other";
  want(kbits, 0x03, "the key bits");
  return c;
}
async function fingerprint(c) { if (!c.fp) c.fp = hex(await sha256(c.der)); return c.fp; }
const sameName = (a, b) => eq(a, b);
const selfIssued = c => sameName(c.subject, c.issuer);
function basicCA(c) {
  const e = c.ext.get(BC_OID); if (!e) return null;
  const d = e.value, top = derAt(d, 0), k = derKids(d, top);
  return { ca: !!(k[0] && k[0].tag === 0x01 && d[k[0].start]), critical: e.critical };
}
const isCA = c => selfIssued(c) || !!(basicCA(c) || {}).ca;
function ekus(c) {
  const e = c.ext.get(EKU_OID); if (!e) return null;
  const d = e.value; return { critical: e.critical, purposes: derKids(d, derAt(d, 0)).map(o => derOid(d, o)) };
}
function pemOf(c) { const b = b64(c.der); return "-----BEGIN CERTIFICATE-----\n" + b.replace(/(.{64})/g, "$1\n").replace(/\n$/, "") + "\n-----END CERTIFICATE-----\n"; }
function parsePem(text) {
  const out = []; const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g; let m;
  while ((m = re.exec(text))) out.push(parseCert(b64dec(m[1].replace(/\s+/g, ""), "a PEM certificate")));
  if (!out.length) throw new Error("no PEM certificate (-----BEGIN CERTIFICATE-----) was found");
  return out;
}
function b64big(b) { let s = ""; for (let i = 0; i < b.length; i += 32768) s += String.fromCharCode(...b.subarray(i, i + 32768)); return btoa(s); }
// --------------------------------------------------------------------------- signatures (WebCrypto)
const HASHES = { "2.16.840.1.101.3.4.2.1": "SHA-256", "2.16.840.1.101.3.4.2.2": "SHA-384", "2.16.840.1.101.3.4.2.3": "SHA-512", "1.3.14.3.2.26": "SHA-1" };
const CURVES = { "1.2.840.10045.3.1.7": ["P-256", 32], "1.3.132.0.34": ["P-384", 48], "1.3.132.0.35": ["P-521", 66] };
const SIG_ALGS = {
  "1.2.840.10045.4.3.2": ["ec", "SHA-256"], "1.2.840.10045.4.3.3": ["ec", "SHA-384"], "1.2.840.10045.4.3.4": ["ec", "SHA-512"], "1.2.840.10045.4.1": ["ec", "SHA-1"],
  "1.2.840.113549.1.1.11": ["rsa", "SHA-256"], "1.2.840.113549.1.1.12": ["rsa", "SHA-384"], "1.2.840.113549.1.1.13": ["rsa", "SHA-512"], "1.2.840.113549.1.1.5": ["rsa", "SHA-1"],
  "1.2.840.113549.1.1.1": ["rsa", null], "1.2.840.113549.1.1.10": ["pss", null], "1.3.101.112": ["ed25519", null],
};
function p1363(sig, n) {
  const top = derAt(sig, 0); if (top.end !== sig.length) throw new DerError("stray bytes");
  const [r, s] = derKids(sig, want(top, 0x30, "an ECDSA signature"));
  const fix = el => { let v = derVal(sig, want(el, 0x02, "an ECDSA integer")); while (v.length > n && v[0] === 0) v = v.subarray(1); if (v.length > n) throw new DerError("too long"); const o = new Uint8Array(n); o.set(v, n - v.length); return o; };
  return cat(fix(r), fix(s));
}
function pssParams(p) {
  let hash = "SHA-1", salt = 20, mgfHash = "SHA-1";
  if (p && p[0] === 0x30) {
    for (const k of derKids(p, derAt(p, 0))) {
      const inner = derKids(p, k)[0];
      if (k.tag === 0xa0) hash = HASHES[derOid(p, derKids(p, inner)[0])];
      else if (k.tag === 0xa1) { const mp = derKids(p, inner); mgfHash = HASHES[derOid(p, derKids(p, mp[1])[0])]; }
      else if (k.tag === 0xa2) salt = Number(derInt(p, inner));
    }
  }
  if (!hash || hash !== mgfHash) throw new DerError("unsupported RSA-PSS parameters");
  return { hash, salt };
}
// Whether sig is a valid signature of data by the certificate's key under the algorithm oid
// (digest: the digest an rsaEncryption signature uses); false for anything WebCrypto refuses.
async function verifyWith(cert, oid, params, data, sig, digest = null) {
  const alg = SIG_ALGS[oid]; if (!alg) return false;
  const [kind, h0] = alg, h = h0 || digest, s = crypto.subtle;
  try {
    if (kind === "ec") {
      const curve = CURVES[cert.keyCurve]; if (cert.keyKind !== "ec" || !curve || !h) return false;
      const key = await s.importKey("spki", cert.spki, { name: "ECDSA", namedCurve: curve[0] }, false, ["verify"]);
      return await s.verify({ name: "ECDSA", hash: h }, key, p1363(sig, curve[1]), data);
    }
    if (kind === "rsa") {
      if (cert.keyKind !== "rsa" || !h) return false;
      const key = await s.importKey("spki", cert.spki, { name: "RSASSA-PKCS1-v1_5", hash: h }, false, ["verify"]);
      return await s.verify({ name: "RSASSA-PKCS1-v1_5" }, key, sig, data);
    }
    if (kind === "pss") {
      if (cert.keyKind !== "rsa") return false;
      const p = pssParams(params);
      const key = await s.importKey("spki", cert.spki, { name: "RSA-PSS", hash: p.hash }, false, ["verify"]);
      return await s.verify({ name: "RSA-PSS", saltLength: p.salt }, key, sig, data);
    }
    if (kind === "ed25519") {
      if (cert.keyKind !== "ed25519") return false;
      const key = await s.importKey("spki", cert.spki, { name: "Ed25519" }, false, ["verify"]);
      return await s.verify({ name: "Ed25519" }, key, sig, data);
    }
  } catch (e) { return false; }
  return false;
}
// --------------------------------------------------------------------------- the token
const OID_SIGNED_DATA = "1.2.840.113549.1.7.2", OID_TSTINFO = "1.2.840.113549.1.9.16.1.4", OID_CONTENT_TYPE = "1.2.840.113549.1.9.3", OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4";
const OID_ESS_V1 = "1.2.840.113549.1.9.16.2.12", OID_ESS_V2 = "1.2.840.113549.1.9.16.2.47", SHA256_OID = "2.16.840.1.101.3.4.2.1";
const notATimestamp = why => new TimestampError(`This is not an RFC 3161 time-stamp: ${why}. The file is damaged, truncated or of another kind; it proves nothing about time. Obtain the token again from its source.`);
const STATUS = ["granted", "granted with mods", "rejection", "waiting", "revocation warning", "revocation notification"];
// decode_response + TimestampToken.parse: the response, its SignedData, TSTInfo and certificates.
function parseToken(der) {
  if (!der.length) throw notATimestamp("there are no bytes at all");
  const problem = derProblem(der);
  if (problem) throw notATimestamp(`the bytes are not well-formed DER: ${problem}. It was damaged or altered`);
  let d = der, top = derAt(d, 0), k = derKids(d, top);
  if (k[0] && k[0].tag === 0x06) { // a bare TimeStampToken: wrapped into a granted TimeStampResp
    const body = cat(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00), der), n = body.length;
    const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 255] : [0x83, n >> 16, (n >> 8) & 255, n & 255];
    d = cat(Uint8Array.of(0x30, ...len), body); top = derAt(d, 0); k = derKids(d, top);
  }
  const t = { der: d };
  try {
    want(top, 0x30, "the response");
    const status = derKids(d, want(k[0], 0x30, "the status"));
    t.status = Number(derInt(d, status[0]));
    t.statusStrings = status[1] && status[1].tag === 0x30 ? derKids(d, status[1]).map(x => new TextDecoder().decode(derVal(d, x))) : [];
    if (t.status !== 0) return t;
    const ci = derKids(d, want(k[1], 0x30, "the time-stamp token"));
    if (derOid(d, ci[0]) !== OID_SIGNED_DATA) throw new DerError("the token is not CMS SignedData");
    const sdEl = want(derKids(d, want(ci[1], 0xa0, "the token's content"))[0], 0x30, "the SignedData");
    const sd = derKids(d, sdEl); let i = 0;
    t.sdVersion = Number(derInt(d, sd[i++]));
    t.digestAlgs = new Set(derKids(d, want(sd[i++], 0x31, "the digest algorithms")).map(a => derOid(d, derKids(d, a)[0])));
    const encap = derKids(d, want(sd[i++], 0x30, "the encapsulated content"));
    if (derOid(d, encap[0]) !== OID_TSTINFO) throw new DerError("the content is not a TSTInfo");
    const octets = want(derKids(d, want(encap[1], 0xa0, "the eContent"))[0], 0x04, "the eContent");
    t.eContent = derVal(d, octets);
    t.certDers = [];
    if (sd[i] && sd[i].tag === 0xa0) { t.certDers = derKids(d, sd[i]).filter(c => c.tag === 0x30).map(c => derRaw(d, c).slice()); i++; }
    if (sd[i] && sd[i].tag === 0xa1) i++;
    t.signerInfos = derKids(d, want(sd[i++], 0x31, "the signer infos")).map(el => parseSignerInfo(d, el));
    if (i !== sd.length) throw new DerError("the SignedData has extra fields");
    parseTstInfo(t);
  } catch (e) {
    if (e instanceof DerError) throw notATimestamp(`the bytes are not a DER-encoded TimeStampResp or TimeStampToken (${e.message})`);
    throw e;
  }
  return t;
}
function parseSignerInfo(d, el) {
  const f = derKids(d, want(el, 0x30, "a SignerInfo")); let i = 0;
  const si = { version: Number(derInt(d, f[i++])) };
  const sid = f[i++];
  if (sid && sid.tag === 0x30) { const [iss, ser] = derKids(d, sid); si.issuer = derRaw(d, want(iss, 0x30, "the signer's issuer")).slice(); si.serial = hex(derVal(d, want(ser, 0x02, "the signer's serial"))); }
  else si.sidBad = true;
  si.digestAlg = derOid(d, derKids(d, want(f[i++], 0x30, "the digest algorithm"))[0]);
  if (f[i] && f[i].tag === 0xa0) { si.signedAttrsEl = f[i]; si.signedAttrs = derKids(d, f[i]).map(a => { const [o, vals] = derKids(d, a); return { oid: derOid(d, o), values: derKids(d, want(vals, 0x31, "attribute values")).map(v => derRaw(d, v)) }; }); i++; }
  const sa = want(f[i++], 0x30, "the signature algorithm"); const sap = derKids(d, sa);
  si.sigAlg = derOid(d, sap[0]); si.sigAlgCount = sap.length; si.sigParams = sap[1] ? derRaw(d, sap[1]) : null;
  si.signature = derVal(d, want(f[i++], 0x04, "the signature"));
  si.signedAttrsDer = si.signedAttrsEl ? cat(Uint8Array.of(0x31), d.subarray(si.signedAttrsEl.head + 1, si.signedAttrsEl.end)) : null;
  return si;
}
function parseTstInfo(t) {
  const e = t.eContent;
  if (derProblem(e)) throw new DerError("the TSTInfo is not well-formed DER");
  const f = derKids(e, want(derAt(e, 0), 0x30, "the TSTInfo")); let i = 0;
  t.tstVersion = Number(derInt(e, f[i++]));
  t.policy = derOid(e, f[i++]);
  const mi = derKids(e, want(f[i++], 0x30, "the message imprint"));
  t.imprintAlg = derOid(e, derKids(e, want(mi[0], 0x30, "the imprint algorithm"))[0]);
  t.imprint = derVal(e, want(mi[1], 0x04, "the imprint")).slice();
  t.serial = derInt(e, f[i++]);
  t.genTime = derTime(e, want(f[i++], 0x18, "genTime"));
  t.accuracy = null;
  if (f[i] && f[i].tag === 0x30) {
    let ms = 0; for (const a of derKids(e, f[i])) { const v = a.tag === 0x02 ? Number(derInt(e, a)) * 1000 : Number(derVal(e, a).reduce((x, y) => x * 256 + y, 0)) * (a.tag === 0x80 ? 1 : 0.001); ms += v; }
    t.accuracy = ms; i++;
  }
  if (f[i] && f[i].tag === 0x01) i++;
  t.nonce = f[i] && f[i].tag === 0x02 ? derInt(e, f[i++]) : null;
}
// The certificates the TSA put in the token (unreadable ones skipped, as token.py does).
function embeddedCerts(t) { if (!t.certs) t.certs = t.certDers.map(c => { try { return parseCert(c); } catch (e) { return null; } }).filter(Boolean); return t.certs; }
function signerId(t) {
  if (t.signerInfos.length !== 1) throw new TimestampError(`The time-stamp has ${t.signerInfos.length} signatures instead of exactly one; it is malformed and is not accepted.`);
  const si = t.signerInfos[0];
  if (si.sidBad) throw new TimestampError("The time-stamp's signer identifier is malformed; it is not accepted.");
  return si;
}
const findSigner = (t, pool) => { const si = signerId(t); return pool.find(c => sameName(c.issuer, si.issuer) && c.serial === si.serial) || null; };
async function readToken(der) {
  const t = parseToken(der);
  if (t.status !== 0) {
    const st = STATUS[t.status] !== undefined ? STATUS[t.status] : `unknown status ${t.status}`;
    const said = t.statusStrings.join("; ");
    throw new TimestampError(`The time-stamping authority did not grant a time-stamp (status: ${st}${said ? `; it said: ${JSON.stringify(said)}` : ""}). There is no time-stamp in this answer.`);
  }
  let signer = null; try { signer = findSigner(t, embeddedCerts(t)); } catch (e) { if (!(e instanceof TimestampError)) throw e; }
  t.tsaCertSha256 = signer ? await fingerprint(signer) : null;
  t.tsaSubject = signer ? signer.subjectText : null;
  return t;
}
// --------------------------------------------------------------------------- pins (token.py CertPin, PinnedTSA)
function certPin(sha, cert = null) { return { sha256: sha.toLowerCase(), certificate: cert }; }
async function pinOf(cert) { return certPin(await fingerprint(cert), cert); }
const pinMatches = async (pin, c) => eq(enc.encode(await fingerprint(c)), enc.encode(pin.sha256));
async function pinResolve(pin, pool) { if (pin.certificate) return pin.certificate; for (const c of pool) if (await pinMatches(pin, c)) return c; return null; }
function pinWindow(p) { return `from ${p.notBefore != null ? utcText(p.notBefore) : "the beginning"} to ${p.notAfter != null ? utcText(p.notAfter) : "no end date"}`; }
// --------------------------------------------------------------------------- verify_token
const BAD_STRUCTURE = w => new TimestampError(`The time-stamp's ${w} was altered: it is not what a time-stamping authority writes, so the token is not accepted.`);
const DIGEST_NAMES = { "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384", "2.16.840.1.101.3.4.2.3": "sha512", "1.3.14.3.2.26": "sha1" };
const CMS_SIGS = {
  ec: { "1.2.840.10045.4.3.2": "sha256", "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512", "1.2.840.10045.4.1": "sha1" },
  rsa: { "1.2.840.113549.1.1.1": null, "1.2.840.113549.1.1.11": "sha256", "1.2.840.113549.1.1.12": "sha384", "1.2.840.113549.1.1.13": "sha512", "1.2.840.113549.1.1.5": "sha1", "1.2.840.113549.1.1.10": null },
  ed25519: { "1.3.101.112": null }, ed448: { "1.3.101.113": null },
};
function checkStructure(t, signer) {
  if (t.sdVersion !== 3) throw BAD_STRUCTURE(`SignedData version (${t.sdVersion}, not 3)`);
  if (t.signerInfos.length !== 1 || t.signerInfos[0].version !== 1) throw BAD_STRUCTURE("SignerInfo version");
  const si = t.signerInfos[0];
  if (!t.digestAlgs.has(si.digestAlg)) throw BAD_STRUCTURE("list of digest algorithms");
  const allowed = CMS_SIGS[signer.keyKind] || {};
  if (!(si.sigAlg in allowed)) throw BAD_STRUCTURE(`signature algorithm (${si.sigAlg || "unreadable"} for a ${signer.keyKind} key)`);
  const implied = allowed[si.sigAlg];
  if (implied !== null && DIGEST_NAMES[si.digestAlg] !== implied) throw BAD_STRUCTURE(`signature algorithm (${si.sigAlg}, which does not fit the digest ${si.digestAlg})`);
  if (signer.keyKind === "ec" && si.sigAlgCount !== 1) throw BAD_STRUCTURE("signature algorithm parameters (ECDSA has none)");
}
function checkEku(cert, who) {
  const e = ekus(cert); let problem;
  if (!e) problem = "it has no extended key usage at all";
  else if (!e.purposes.includes(TIMESTAMPING)) problem = "its extended key usage does not include time-stamping";
  else if (e.purposes.length !== 1) problem = "its extended key usage allows other purposes besides time-stamping";
  else if (!e.critical) problem = "its time-stamping extended key usage is not marked critical";
  else return;
  throw new TimestampError(`The certificate of ${who} is not a proper time-stamping certificate: ${problem}. RFC 3161 §2.3 requires a critical extended key usage of time-stamping only, so a token signed with this certificate is not accepted.`);
}
// The CMS signature over the signed attributes (content type, message digest of the TSTInfo,
// ESS signing certificate binding the signer), by the signer's key: null if good, else why.
async function cmsSignatureProblem(t, signer) {
  const si = t.signerInfos[0], h = HASHES[si.digestAlg];
  if (!h) return "unsupported digest algorithm";
  let signed = t.eContent;
  if (si.signedAttrs) {
    const one = oid => { const a = si.signedAttrs.filter(x => x.oid === oid); return a.length === 1 && a[0].values.length === 1 ? a[0].values[0] : a.length ? false : null; };
    const ct = one(OID_CONTENT_TYPE), md = one(OID_MESSAGE_DIGEST);
    if (!ct || !md) return "the signed attributes lack the content type or the message digest";
    if (derOid(ct, derAt(ct, 0)) !== OID_TSTINFO) return "the signed content type is not TSTInfo";
    if (!eq(derVal(md, want(derAt(md, 0), 0x04, "the message digest")), new Uint8Array(await crypto.subtle.digest(h, t.eContent)))) return "message digest mismatch";
    const ess = await essProblem(si, signer); if (ess) return ess;
    signed = si.signedAttrsDer;
  }
  return await verifyWith(signer, si.sigAlg, si.sigParams, signed, si.signature, h) ? null : "signature failure";
}
async function essProblem(si, signer) {
  for (const [oid, dflt] of [[OID_ESS_V2, SHA256_OID], [OID_ESS_V1, "1.3.14.3.2.26"]]) {
    const a = si.signedAttrs.find(x => x.oid === oid); if (!a) continue;
    const v = a.values[0], certs = derKids(v, want(derKids(v, derAt(v, 0))[0], 0x30, "the ESS certificate list"));
    const id = derKids(v, certs[0]); let alg = dflt, k = 0;
    if (oid === OID_ESS_V2 && id[0].tag === 0x30) { alg = derOid(v, derKids(v, id[0])[0]); k = 1; }
    const h = HASHES[alg]; if (!h) return "the ESS signing certificate uses an unknown digest";
    if (!eq(derVal(v, want(id[k], 0x04, "the ESS certificate hash")), new Uint8Array(await crypto.subtle.digest(h, signer.der)))) return "the ESS signing certificate attribute does not name the signer's certificate";
    return null;
  }
  return null;
}
// The chain from signer to root: issuers from the token's certificates and the user's extra
// non-self-issued ones; every certificate valid at genTime, every issuer a CA, every signature good.
async function chainProblem(signer, root, helpers, gen) {
  const valid = c => c.notBefore <= gen && gen <= c.notAfter;
  let cur = signer; const seen = new Set();
  for (let depth = 0; depth < 10; depth++) {
    if (!valid(cur)) return gen < cur.notBefore ? "certificate is not yet valid" : "certificate has expired";
    if (await fingerprint(cur) === await fingerprint(root)) return null;
    seen.add(await fingerprint(cur));
    const cands = [root, ...helpers].filter(c => sameName(c.subject, cur.issuer));
    let next = null;
    for (const c of cands) {
      if (seen.has(await fingerprint(c)) && c !== root) continue;
      if (c.version === 3 && !(basicCA(c) || {}).ca) continue;
      if (await verifyWith(c, cur.sigAlg, cur.sigParams, cur.tbs, cur.sig)) { next = c; break; }
    }
    if (!next) return cands.length ? "certificate signature failure" : "unable to get local issuer certificate";
    cur = next;
  }
  return "certificate chain too long";
}
async function verifyToken(t, message, pins, certificates = []) {
  if (!pins.length) throw new TimestampError("No time-stamping authority is trusted, so no time-stamp can be verified.");
  if (t.imprintAlg !== SHA256_OID) throw new TimestampError(`The time-stamp uses ${hashName(t.imprintAlg)} for its imprint; this tool accepts only SHA-256 time-stamps.`);
  const expected = await sha256(message);
  if (!eq(t.imprint, expected)) throw new TimestampError(`The time-stamp does not cover this data: it certifies the SHA-256 digest ${hex(t.imprint)}, but the data has digest ${hex(expected)}. It was made for different bytes (or the data was changed after it was stamped).`);
  const embedded = embeddedCerts(t);
  const known = pins.flatMap(p => [p.certificate.certificate, p.root.certificate]).filter(Boolean);
  const signer = findSigner(t, [...embedded, ...certificates, ...known]);
  if (!signer) throw new TimestampError("The time-stamp does not include the certificate that signed it, and none of the pinned or supplied certificates matches its signer.");
  let tsa = null; for (const p of pins) if (await pinMatches(p.certificate, signer)) { tsa = p; break; }
  if (!tsa) {
    const fp = await fingerprint(signer);
    const impostor = pins.find(p => p.certificate.certificate && sameName(p.certificate.certificate.subject, signer.subject));
    const pinned = pins.map(p => `${p.name} (sha256:${p.certificate.sha256})`).join(", ");
    const what = impostor ? `a certificate that carries the name of the pinned TSA ${impostor.name} (${signer.subjectText}) but is a different certificate (sha256:${fp})` : `${signer.subjectText} (certificate sha256:${fp})`;
    throw new TimestampError(`The time-stamp was signed by ${what}, which is not a time-stamping authority the trust policy pins (pinned: ${pinned}).${selfIssued(signer) ? " That certificate is self-signed: nothing vouches for it." : ""}`);
  }
  const who = `TSA ${tsa.name} (${signer.subjectText})`;
  checkStructure(t, signer);
  checkEku(signer, who);
  const gen = t.genTime;
  if (!(signer.notBefore <= gen && gen <= signer.notAfter)) throw new TimestampError(`The time-stamp claims the time ${utcText(gen)}, but the certificate of ${who} was valid only from ${utcText(signer.notBefore)} to ${utcText(signer.notAfter)}. A certificate cannot vouch for a time outside its validity.`);
  if ((tsa.notBefore != null && gen < tsa.notBefore) || (tsa.notAfter != null && gen > tsa.notAfter)) throw new TimestampError(`The time-stamp claims the time ${utcText(gen)}, which is outside the period in which the trust policy accepts ${who}: ${pinWindow(tsa)}.`);
  const root = await pinResolve(tsa.root, [...embedded, ...certificates]);
  if (!root) throw new TimestampError(`The trust policy pins the root of ${who} only by its fingerprint sha256:${tsa.root.sha256}, and no certificate with that fingerprint was supplied.`);
  if (selfIssued(signer) && !(await pinMatches(tsa.root, signer))) throw new TimestampError(`The certificate of ${who} is self-signed: it was not issued under the pinned root ${root.subjectText} (sha256:${tsa.root.sha256}), so nothing the trust policy relies on vouches for it.`);
  // rfc3161-client: the leaf is the embedded certificate the SignerInfo names, and it is the signer.
  const si = t.signerInfos[0];
  let why = null;
  if (embedded.length) { const leaf = embedded.find(c => sameName(c.issuer, si.issuer) && c.serial === si.serial); if (!leaf) why = "No leaf certificate found matching the SignerInfo."; else if (!eq(leaf.der, signer.der)) why = "Embedded certificate does not match the one in the Verification Options."; }
  if (!why) why = await cmsSignatureProblem(t, signer);
  if (!why) why = await chainProblem(signer, root, [...embedded, ...certificates.filter(c => !selfIssued(c))].filter(c => c !== root), gen);
  if (why) throw new TimestampError(`The time-stamp's signature or certificate chain does not verify against the pinned root ${root.subjectText} (sha256:${tsa.root.sha256}) as of ${utcText(gen)}: ${why}. The token was altered, or it was not issued under that root by ${who}.`);
  const acc = t.accuracy ? ` (± ${t.accuracy / 1000} s)` : "";
  return { genTime: gen, summary: `TSA ${tsa.name} certifies that the data existed at ${utcText(gen)}${acc}; signed by ${signer.subjectText}, chained to ${root.subjectText}` };
}
function hashName(oid) { return { "2.16.840.1.101.3.4.2.1": "SHA-256", "2.16.840.1.101.3.4.2.2": "SHA-384", "2.16.840.1.101.3.4.2.3": "SHA-512", "1.3.14.3.2.26": "SHA-1" }[oid] || `algorithm ${oid}`; }
function commonName(c) {
  const d = c.subject; const cn = [];
  for (const set of derKids(d, derAt(d, 0))) for (const atv of derKids(d, set)) { const [o, v] = derKids(d, atv); if (derOid(d, o) === "2.5.4.3") cn.push(new TextDecoder().decode(derVal(d, v))); }
  return cn.length ? cn[0] : c.subjectText;
}
// --------------------------------------------------------------------------- step 7 (step7_timestamps.py)
const TOKEN_NUM_RE = /^evidence\/checkpoint\.([1-9][0-9]{0,2})\.tsr$/, TSA_NUM_RE = /^evidence\/tsa-([1-9][0-9]{0,2})\.pem$/;
const MAX_RESPONSE_BYTES = 1 << 20;
class Tokens {
  constructor(run) { this.run = run; this.toConfirm = []; }
  async userPins(signer) {
    const certs = this.run.tsaCerts, roots = certs.filter(isCA), leaves = certs.filter(c => !isCA(c));
    let leafPinned = false; for (const c of leaves) if (await fingerprint(c) === await fingerprint(signer)) leafPinned = true;
    const issuers = roots.filter(r => sameName(r.subject, signer.issuer) || eq(r.der, signer.der));
    if (issuers.length) return [await Promise.all(issuers.map(async r => ({ name: commonName(signer), certificate: await pinOf(signer), root: await pinOf(r), notBefore: null, notAfter: null }))), null];
    if (leafPinned) return [[], "You gave this TSA's certificate but not the root certificate it chains to; give the root as well (--tsa-cert ROOT.pem) to check the token's chain."];
    return [[], null];
  }
  async checkToken(name, note, pemName, notePath = NOTE) {
    const run = this.run;
    const der = await run.read(name, "", MAX_RESPONSE_BYTES);
    const short = name.split("/").pop();
    let tok, certs;
    try { tok = await readToken(der); certs = embeddedCerts(tok); } catch (e) {
      if (e instanceof TimestampError) throw new StepFail(`${name} is not a usable time-stamp: ${e.message}`, [name]);
      throw e;
    }
    const expectedPem = enc.encode(certs.map(pemOf).join(""));
    if (pemName === null) { /* a refreshed checkpoint's token has no PEM file */ }
    else if (certs.length) {
      if (!run.byName.has(pemName)) throw new StepFail(`${pemName} (the certificates inside ${short}) is missing.`, [pemName, name]);
      if (!eq(await run.read(pemName), expectedPem)) throw new StepFail(`${pemName} is not exactly the certificates inside ${short}: it was altered or belongs to another time-stamp.`, [pemName, name]);
    } else if (run.byName.has(pemName)) throw new StepFail(`${pemName} exists, but ${short} carries no certificates.`, [pemName, name]);
    let signer = null; for (const c of certs) if (await fingerprint(c) === tok.tsaCertSha256) { signer = c; break; }
    let pins = [...run.policy.tsas], noteWhy = null;
    if (signer) { const [derived, why] = await this.userPins(signer); pins = pins.concat(derived); noteWhy = why; }
    const pool = [...certs, ...run.tsaCerts];
    let matching = []; if (signer) for (const p of pins) if (await pinMatches(p.certificate, signer)) matching.push(p);
    if (!signer && pins.length) matching = pins;
    if (matching.length) {
      let unresolved = 0; for (const p of matching) if (!(await pinResolve(p.root, pool))) unresolved++;
      if (unresolved === matching.length) {
        const p = matching[0];
        return this.unanchored(name, tok, signer, note, notePath, `Your trust pins TSA ${p.name}, but its root certificate only by fingerprint sha256:${p.root.sha256} and no certificate with that fingerprint is available; give the root certificate file to check this token.`);
      }
      let checked;
      try { checked = await verifyToken(tok, note, matching, run.tsaCerts); } catch (e) {
        if (e instanceof TimestampError || e instanceof DerError) throw new StepFail(`${name}: ${e.message}`, [name]);
        throw e;
      }
      return { name: short, grade: "VERIFIED", text: `VERIFIED: ${checked.summary}.`, time: checked.genTime };
    }
    let why = noteWhy;
    if (why === null && pins.length) {
      why = `It is not signed by a time-stamping authority you pin (pinned: ${pins.map(p => `${p.name} (sha256:${p.certificate.sha256})`).join(", ")}).`;
      const impostor = signer && pins.find(p => p.certificate.certificate && sameName(p.certificate.certificate.subject, signer.subject));
      if (impostor) why += ` WARNING: its certificate carries the name of the pinned TSA ${impostor.name} but is a different certificate.`;
    } else if (why === null) why = "No time-stamping authority is pinned (no 'tsa' line in a trust policy, no --tsa-cert).";
    const roots = []; for (const p of pins) { const r = await pinResolve(p.root, pool); if (r) roots.push(r); }
    return this.unanchored(name, tok, signer, note, notePath, why, roots);
  }
  async unanchored(name, tok, signer, note, notePath, why, pinnedRoots = []) {
    const short = name.split("/").pop(), digest = await sha256(note);
    if (tok.imprintAlg !== SHA256_OID || !eq(tok.imprint, digest))
      throw new StepFail(`${name} does not cover the checkpoint: it certifies the digest ${hex(tok.imprint)}, but ${notePath} has SHA-256 ${hex(digest)}.`, [name, notePath]);
    const trustedRoot = signer ? pinnedRoots.find(r => sameName(r.subject, signer.issuer)) || null : null;
    let checked;
    if (!signer) checked = "Its signature cannot be checked: the token does not include the TSA's certificate.";
    else {
      const ownRoot = embeddedCerts(tok).filter(selfIssued).find(r => sameName(r.subject, signer.issuer)) || null;
      const root = trustedRoot || ownRoot;
      if (root) {
        try { await verifyToken(tok, note, [{ name: commonName(signer), certificate: await pinOf(signer), root: await pinOf(root), notBefore: null, notAfter: null }]); } catch (e) {
          if (!(e instanceof TimestampError || e instanceof DerError)) throw e;
          const against = trustedRoot ? `carries a TSA certificate issued in the name of the root you pin (${root.subjectText}), but it does not verify against that root` : "does not verify even with its own certificates";
          throw new StepFail(`${name} ${against}: ${e.message}${trustedRoot ? " The time-stamp was altered or forged." : ""}`, [name]);
        }
        checked = trustedRoot ? "Its signature and chain check out against the root certificate you pin, but its own TSA certificate is not one you pin." : "Its signature and chain check out against the certificates it carries.";
      } else checked = "Its signature was not checked: that needs the TSA's root certificate, which the bundle does not include.";
      this.toConfirm.push({ what: "Time-stamping authority certificate", identity: `${signer.subjectText} (issued by ${signer.issuerText})`, fingerprint: "sha256:" + await fingerprint(signer), how: "Obtain the TSA's certificate and its root certificate from the authority itself and paste them here, or pin them with 'tsa-root' and 'tsa' lines in your trust policy." });
    }
    return { name: short, grade: "NOT ANCHORED IN TRUST", text: `NOT ANCHORED: claims the time ${utcText(tok.genTime)} by ${signer ? signer.subjectText : "an unknown signer"}; it covers the checkpoint note. ${why} ${checked}`, time: null };
  }
}
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
  const refreshed = (run.s.refreshes || []).flatMap(r => r.tokens.map(name => [name, r]));
  run.s.tokens = [];
  if (!numbered.length && !refreshed.length) { run.s.noTokens = true; return "The bundle carries no RFC 3161 time-stamp: there is nothing to check here, and no independent time (see the claims below)."; }
  const seen = new Map();
  for (const name of [...numbered.map(([, n]) => n), ...refreshed.map(([n]) => n)]) {
    const [digest] = await run.hash(name);
    if (seen.has(digest)) throw new StepFail(`${name} is a copy of ${seen.get(digest)}: the same time-stamp twice means a file was copied into the bundle after the fact.`, [name, seen.get(digest)]);
    seen.set(digest, name);
  }
  const checker = new Tokens(run), note = run.s.proof.noteBytes;
  for (const [k, name] of numbered) run.s.tokens.push(await checker.checkToken(name, note, `evidence/tsa-${k}.pem`));
  for (const [name, r] of refreshed) {
    const o = await checker.checkToken(name, r.note, null, r.notePath);
    o.text = `over ${r.notePath.split("/").pop()} (refresh ${r.k}, a later checkpoint of ${r.size} entries that contains this entry): ${o.text}`;
    run.s.tokens.push(o);
  }
  run.toConfirm.push(...checker.toConfirm);
  return run.s.tokens.map(o => `${o.name}: ${o.text}`).join(" ");
}

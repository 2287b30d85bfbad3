// The user's trust: a trust policy read strictly as evidence/trust/parse.py reads it (log, witness,
// group, quorum, tsa-root, tsa), the quorum evaluated as evidence/trust/evaluate.py does, and the
// TSA certificates the user pasted. A page cannot open files: certificates in a policy are pinned
// by "sha256:<fingerprint>" and the certificates themselves pasted into the TSA box.
"use strict";
class PolicyError extends Error {}
const MAX_POLICY_ENTRIES = 1024;
const RFC3339 = /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$/;
function normalizeFingerprint(text) {
  let raw = text.trim(); if (raw.toLowerCase().startsWith("sha256:")) raw = raw.slice(7);
  raw = raw.replace(/:/g, "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(raw)) throw new PolicyError(`${JSON.stringify(text)} is not a SHA-256 fingerprint (expected 64 hexadecimal digits, optionally prefixed with 'sha256:')`);
  return raw;
}
function parseRfc3339(text, what) {
  const m = RFC3339.exec(text); if (!m) throw new PolicyError(`the ${what} ${JSON.stringify(text)} is not an RFC 3339 date-time`);
  let ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) + (m[7] ? Math.floor(+("0" + m[7]) * 1e6) / 1e3 : 0);
  if (!/[Zz]/.test(m[8])) { const sign = m[8][0] === "-" ? -1 : 1; ms -= sign * (+m[8].slice(1, 3) * 60 + +m[8].slice(4, 6)) * 60000; }
  return ms;
}
async function parseTrustPolicy(text, source = "trust policy") {
  const pol = { given: true, logs: [], witnesses: [], groups: [], quorum: null, roots: new Map(), tsas: [] };
  const kinds = new Map([["none", "none"]]), used = new Set();
  const bad = /[\x00-\x08\x0b-\x1f\x7f]/.exec(text);
  if (bad) throw new PolicyError(`${source}, line ${text.slice(0, bad.index).split("\n").length}: contains ${bad[0] === "\r" ? "a carriage return (Windows line ending)" : "byte 0x" + bad[0].charCodeAt(0).toString(16).padStart(2, "0")}; only tab, newline and printable characters are allowed`);
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const fail = m => new PolicyError(`${source}, line ${n + 1}: ${m}`);
    const line = lines[n].replace(/^[ \t]+|[ \t]+$/g, "");
    if (!line || line.startsWith("#")) continue;
    const [kw, ...args] = line.split(/[ \t]+/);
    const arity = (lo, hi, usage) => { if (args.length < lo || args.length > hi) throw fail(`wrong number of items; the form is '${usage}'`); };
    const define = (name, kind) => { if (kinds.has(name)) throw fail(name === "none" ? "the name 'none' is reserved (it means 'no witnesses')" : `the name ${JSON.stringify(name)} is already defined (as a ${kinds.get(name)})`); kinds.set(name, kind); };
    const vkey = async (t, type, role) => {
      let v; try { v = await parseVkey(t); } catch (e) { throw fail(`the ${role} key is malformed: ${e.message}`); }
      if (v.type !== type) throw fail(`the ${role} key ${JSON.stringify(v.name)} has signature type 0x${v.type.toString(16).padStart(2, "0")}; a ${role} needs ${type === 1 ? "an Ed25519 checkpoint-signing key (type 0x01)" : "an Ed25519 cosignature key (type 0x04)"}`);
      return v;
    };
    const pin = spec => {
      if (spec.toLowerCase().startsWith("sha256:")) { try { return certPin(normalizeFingerprint(spec)); } catch (e) { throw fail(e.message); } }
      throw fail(`the certificate file ${JSON.stringify(spec)} cannot be opened by this page (a page reads no files): pin it as sha256:<its fingerprint> and paste the certificate into the TSA certificates box`);
    };
    if (kw === "log") {
      arity(1, 2, "log <vkey> [<url>]"); if (pol.logs.length >= MAX_POLICY_ENTRIES) throw fail("too many logs");
      const v = await vkey(args[0], 1, "log");
      if (pol.logs.some(l => eq(l.pub, v.pub))) throw fail(`the log key ${JSON.stringify(v.name)} is listed twice (same public key)`);
      pol.logs.push(v);
    } else if (kw === "witness") {
      arity(2, 3, "witness <name> <vkey> [<url>]"); if (pol.witnesses.length >= MAX_POLICY_ENTRIES) throw fail("too many witnesses");
      const v = await vkey(args[1], 4, "witness");
      const dup = pol.witnesses.find(w => eq(w.verifier.pub, v.pub));
      if (dup) throw fail(`witness ${JSON.stringify(args[0])} has the same public key as witness ${JSON.stringify(dup.name)}`);
      define(args[0], "witness"); pol.witnesses.push({ name: args[0], verifier: v });
    } else if (kw === "group") {
      if (args.length < 3) throw fail("a group needs a name, a threshold and at least one member: 'group <name> all|any|<k> <member>...'");
      const [name, kt, ...members] = args; let k;
      if (kt === "all") k = members.length; else if (kt === "any") k = 1;
      else if (/^[1-9][0-9]{0,5}$/.test(kt)) { k = +kt; if (k > members.length) throw fail(`group ${JSON.stringify(name)} needs ${k} of only ${members.length} member(s)`); }
      else throw fail(`the threshold of group ${JSON.stringify(name)} is ${JSON.stringify(kt)}; it must be 'all', 'any' or a number from 1 to the number of members, written without leading zeros`);
      for (const m of members) {
        const kind = kinds.get(m);
        if (kind === undefined) throw fail(`group ${JSON.stringify(name)} names ${JSON.stringify(m)}, which is not defined on an earlier line`);
        if (kind !== "witness" && kind !== "group") throw fail(`group ${JSON.stringify(name)} names ${JSON.stringify(m)}, which is not a witness or group`);
        if (used.has(m)) throw fail(`${JSON.stringify(m)} is already a member of a group; each name may be a group member only once, so that every witness counts in one way only`);
        used.add(m);
      }
      define(name, "group"); pol.groups.push({ name, threshold: k, members });
    } else if (kw === "quorum") {
      arity(1, 1, "quorum <name>|none");
      if (pol.quorum !== null) throw fail("a second 'quorum' line; a policy has exactly one");
      const kind = kinds.get(args[0]);
      if (kind === undefined) throw fail(`the quorum ${JSON.stringify(args[0])} is not defined on an earlier line`);
      if (!["witness", "group", "none"].includes(kind)) throw fail(`the quorum ${JSON.stringify(args[0])} is a ${kind}, not a witness or group`);
      pol.quorum = args[0];
    } else if (kw === "tsa-root") {
      arity(2, 2, "tsa-root <name> sha256:<hex>|<certificate file>");
      const p = pin(args[1]); define(args[0], "TSA root"); pol.roots.set(args[0], p);
    } else if (kw === "tsa") {
      if (args.length < 3 || args.length % 2 === 0 || args.length > 7) throw fail("wrong number of items; the form is 'tsa <name> sha256:<hex>|<certificate file> <tsa-root name> [not-before <time>] [not-after <time>]'");
      const [name, spec, rootName] = args, root = pol.roots.get(rootName);
      if (!root) { const kind = kinds.get(rootName); throw fail(`TSA ${JSON.stringify(name)} names the root ${JSON.stringify(rootName)}, which ${kind ? `is a ${kind}, not a tsa-root` : "is not defined on an earlier line"}`); }
      const win = {};
      for (let i = 3; i < args.length; i += 2) {
        if (args[i] !== "not-before" && args[i] !== "not-after") throw fail(`unknown TSA option ${JSON.stringify(args[i])}; use not-before or not-after`);
        if (args[i] in win) throw fail(`${args[i]} is given twice for TSA ${JSON.stringify(name)}`);
        try { win[args[i]] = parseRfc3339(args[i + 1], `${args[i]} time`); } catch (e) { throw fail(e.message); }
      }
      const p = pin(spec);
      if (pol.tsas.some(t => t.certificate.sha256 === p.sha256)) throw fail(`the certificate of TSA ${JSON.stringify(name)} is pinned twice`);
      define(name, "TSA");
      const nb = win["not-before"] ?? null, na = win["not-after"] ?? null;
      if (nb !== null && na !== null && nb > na) throw fail(`the trust window of TSA ${JSON.stringify(name)} ends before it begins`);
      pol.tsas.push({ name, certificate: p, root, notBefore: nb, notAfter: na });
    } else throw fail(`unknown keyword ${JSON.stringify(kw)}`);
  }
  if (pol.quorum === null) throw new PolicyError(`${source}: there is no 'quorum' line`);
  return pol;
}
const NO_POLICY = { given: false, logs: [], witnesses: [], groups: [], quorum: null, roots: new Map(), tsas: [] };
function thresholdWords(g) {
  const n = g.members.length, m = g.members.join(", ");
  if (g.threshold === n) return n > 1 ? `all of ${m}` : m;
  if (g.threshold === 1) return `any one of ${m}`;
  return `${g.threshold} of ${m}`;
}
// evaluate_quorum: whether the witnesses named in cosigned meet the quorum, and why in words.
function evaluateQuorum(pol, cosigned) {
  const names = new Set(pol.witnesses.map(w => w.name)), counted = new Set([...cosigned].filter(n => names.has(n)));
  const groups = new Map(pol.groups.map(g => [g.name, g])), memo = new Map();
  const met = name => { if (!memo.has(name)) { const g = groups.get(name); memo.set(name, g ? g.members.filter(met).length >= g.threshold : counted.has(name)); } return memo.get(name); };
  const explain = name => {
    const g = groups.get(name); if (!g) return `witness ${name} has not cosigned`;
    const have = g.members.filter(met), missing = g.members.filter(m => !met(m)).map(explain).join("; ");
    return `group ${name} needs ${thresholdWords(g)} and has ${have.length}` + (have.length ? ` (${have.join(", ")})` : "") + (missing ? ` [${missing}]` : "");
  };
  const who = [...counted].sort().join(", ") || "no trusted witness";
  if (pol.quorum === "none") return { ok: true, explanation: "The trust policy requires no witnesses." };
  if (met(pol.quorum)) return { ok: true, explanation: `The quorum ${pol.quorum} is met (cosigned: ${who}).` };
  return { ok: false, explanation: `The quorum ${pol.quorum} is not met (cosigned: ${who}): ${explain(pol.quorum)}.` };
}

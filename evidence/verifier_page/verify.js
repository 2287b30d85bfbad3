// The numbered steps of evidence/verify.py, as far as this page implements them, and the report.
"use strict";
const TITLES = {1: "The bundle is a complete, undamaged WACZ container", 2: "Every sealed file matches the manifest", 3: "The log entry is recomputed from the manifest", 4: "The entry is included in the log's signed checkpoint", 5: "The checkpoint is signed by the log's key", 6: "Cosignatures: the log's signed time and the witnesses", 7: "Independent time-stamps (RFC 3161)", 8: "The capture records agree with each other"};
const DP = "datapackage.json", DPD = "datapackage-digest.json", MAN = "evidence/manifest.json", PROOF = "evidence/entry.tlog-proof", NOTE = "evidence/checkpoint.note", VKEY = "evidence/log.vkey";
const POST_SEAL = new Set([MAN, PROOF, NOTE, VKEY, "evidence/report.html", "evidence/VERIFY.txt", "evidence/attempts.json", DP, DPD]);
const REQUIRED = ["archive/data.warc.gz", "indexes/index.cdx", "pages/pages.jsonl", "evidence/capture.json"];
const TOKEN_RE = /^evidence\/checkpoint\.[1-9][0-9]{0,2}\.tsr$/, TSA_RE = /^evidence\/tsa-[1-9][0-9]{0,2}\.pem$/;
const REFRESH_RE = /^evidence\/refresh-[1-9][0-9]{0,2}\.(note|consistency|[1-9][0-9]{0,2}\.tsr)$/;
const HEX64 = /^[0-9a-f]{64}$/;
const short = v => { const t = JSON.stringify(v); return t.length <= 120 ? t : t.slice(0, 117) + "..."; };
class Run {
  constructor(bytes, trust) { this.b = bytes; this.trust = trust || {}; this.entries = null; this.byName = new Map(); this.digests = new Map(); this.s = {}; }
  async read(name, hint = "", limit = 64 * 2 ** 20) {
    const e = this.byName.get(name);
    if (!e) throw new StepFail(`The bundle has no ${name}${hint}.`, [name]);
    if (e.size > limit) throw new StepFail(`${name} cannot be read from the bundle: ${name} is larger than ${limit} bytes`, [name]);
    try { return await readMember(this.b, e); } catch (err) { throw new StepFail(`${name} is damaged inside the ZIP file: ${err.message}`, [name]); }
  }
  async hash(name) {
    if (!this.digests.has(name)) {
      let data; try { data = await readMember(this.b, this.byName.get(name)); } catch (err) { throw new StepFail(`${name} is damaged inside the ZIP file: ${err.message}`, [name]); }
      this.digests.set(name, [hex(await sha256(data)), data.length]);
    }
    return this.digests.get(name);
  }
  async json(name, unusable = false) {
    const data = await this.read(name);
    try { return strictJSON(data); } catch (e) {
      if (e instanceof StrictJSON) throw new StepFail(`${name} is ambiguous JSON: ${e.message}.`, [name]);
      throw new StepFail(`${name} is not valid JSON (${e.message}).`, [name], unusable);
    }
  }
  async step1() {
    try { this.entries = parseZip(this.b); } catch (e) { if (e instanceof Unusable) throw new StepFail(e.message, [], true); throw e; }
    for (const e of this.entries) this.byName.set(e.name, e);
    const names = new Set(this.byName.keys());
    if (!names.has(DP)) throw new StepFail("The file has no datapackage.json, so it is not a WACZ bundle (or its table of contents was removed).", [DP], true);
    const pkgBytes = await this.read(DP);
    const pkg = await this.json(DP, true);
    const res = isObj(pkg) ? pkg.resources : undefined;
    if (!Array.isArray(res)) throw new StepFail("datapackage.json has no list of resources; it is not a WACZ table of contents.", [DP], true);
    const listed = new Map();
    for (const r of res) {
      const path = isObj(r) ? r.path : undefined, dg = isObj(r) ? r.hash : undefined, size = isObj(r) ? r.bytes : undefined;
      if (typeof path !== "string" || typeof dg !== "string" || !dg.startsWith("sha256:") || !HEX64.test(dg.slice(7)) || !isInt(size) || intVal(size) < 0)
        throw new StepFail(`datapackage.json has a malformed resource entry; each needs a path, a 'sha256:<64 hex digits>' hash and a size in bytes.`, [DP], true);
      if (listed.has(path)) throw new StepFail(`datapackage.json lists ${path} twice; the bundle is ambiguous.`, [DP, path]);
      if (path === DP || path === DPD) throw new StepFail(`datapackage.json lists ${path} as one of its own resources.`, [DP]);
      listed.set(path, [dg.slice(7), intVal(size)]);
    }
    if (!names.has(DPD)) throw new StepFail("The bundle has no datapackage-digest.json, the fingerprint of its table of contents.", [DPD]);
    const dig = await this.json(DPD);
    const want = hex(await sha256(pkgBytes));
    const got = isObj(dig) ? dig.hash : undefined;
    if (!isObj(dig) || dig.path !== DP || typeof got !== "string") throw new StepFail("datapackage-digest.json does not give the SHA-256 of datapackage.json.", [DPD]);
    if (got !== "sha256:" + want) throw new StepFail(`datapackage.json has SHA-256 ${want}, but datapackage-digest.json records ${got.slice(0, 80)}: the table of contents was changed after the bundle was written.`, [DP, DPD]);
    for (const n of names) if (!listed.has(n) && n !== DP && n !== DPD) throw new StepFail(`${n} is in the bundle but not listed in datapackage.json: it was added after the bundle was written.`, [n]);
    for (const p of listed.keys()) if (!names.has(p)) throw new StepFail(`datapackage.json lists ${p}, but the bundle has no such file: it was removed.`, [p]);
    let total = 0;
    for (const [p, [dg, size]] of listed) {
      const declared = this.byName.get(p).size;
      if (declared !== size) throw new StepFail(`${p} is ${declared} bytes long, but datapackage.json records ${size} bytes: the file was changed after the bundle was written.`, [p]);
      const [a, n] = await this.hash(p);
      if (n !== size || a !== dg) throw new StepFail(`${p} has SHA-256 ${a}, but datapackage.json records ${dg}: the file was changed after the bundle was written.`, [p]);
      total += size;
    }
    return `${names.size} files, ${total} bytes; each file matches the SHA-256 and size in datapackage.json, which matches datapackage-digest.json; no file is unlisted or missing.`;
  }
  async step2() {
    this.s.manifestBytes = await this.read(MAN, " (the seal that lists every preserved file)");
    const m = await this.json(MAN);
    if (!isObj(m) || m.format !== "evidence-manifest/1") throw new StepFail(`${MAN} is not an evidence manifest (format evidence-manifest/1).`, [MAN]);
    if (!isObj(m.log) || typeof m.log.origin !== "string") throw new StepFail(`${MAN} does not name the log it was sealed into.`, [MAN]);
    if ("tool" in m && !isObj(m.tool)) throw new StepFail(`${MAN} has a malformed 'tool' field.`, [MAN]);
    if (!Array.isArray(m.files) || !m.files.length) throw new StepFail(`${MAN} lists no sealed files.`, [MAN]);
    const sealed = new Map();
    for (const f of m.files) {
      const path = isObj(f) ? f.path : undefined, dg = isObj(f) ? f.sha256 : undefined, size = isObj(f) ? f.size : undefined;
      if (typeof path !== "string" || typeof dg !== "string" || !HEX64.test(dg) || !isInt(size) || intVal(size) < 0) throw new StepFail(`${MAN} has a malformed file entry (${short(f)}).`, [MAN]);
      if (sealed.has(path)) throw new StepFail(`${MAN} seals ${path} twice.`, [MAN]);
      if (POST_SEAL.has(path) || TOKEN_RE.test(path) || TSA_RE.test(path) || REFRESH_RE.test(path)) throw new StepFail(`${MAN} claims to seal ${path}, a file that can only be added after sealing.`, [MAN]);
      sealed.set(path, [dg, intVal(size)]);
    }
    this.s.manifest = m;
    for (const p of REQUIRED) if (!sealed.has(p)) throw new StepFail(`${MAN} does not seal ${p}, which every bundle must contain.`, [MAN]);
    for (const [p, [dg, size]] of sealed) {
      if (!this.byName.has(p)) throw new StepFail(`${p} was sealed at capture time (SHA-256 ${dg} in ${MAN}) but is missing from the bundle: the file was removed, or the manifest was altered.`, [p, MAN]);
      const [a, n] = await this.hash(p);
      if (n !== size || a !== dg) throw new StepFail(`${p} does not match its seal: its SHA-256 is ${a} (${n} bytes), but ${MAN} sealed ${dg} (${size} bytes). The file, or the manifest, was changed after sealing.`, [p, MAN]);
    }
    for (const n of this.byName.keys()) {
      if (sealed.has(n) || POST_SEAL.has(n) || TOKEN_RE.test(n) || TSA_RE.test(n) || REFRESH_RE.test(n)) continue;
      throw new StepFail(`${n} is not part of the sealed evidence: the manifest does not list it, and it is not one of the proof files added after sealing. It was added to the bundle later.`, [n]);
    }
    return `All ${sealed.size} sealed files match the SHA-256 and size recorded in ${MAN}; nothing else is in the bundle except the proof files added after sealing.`;
  }
  async step3() {
    const mh = hex(await sha256(this.s.manifestBytes));
    const entry = enc.encode("evidence-entry/v1\nmanifest-sha256 " + mh + "\n");
    this.s.leaf = await sha256(cat(Uint8Array.of(0), entry));
    return `The manifest's SHA-256 is ${mh}; the log entry is the two lines "evidence-entry/v1" and "manifest-sha256 <that SHA-256>"; its Merkle leaf hash is ${hex(this.s.leaf)}.`;
  }
  async step4() {
    const raw = await this.read(PROOF, " (the inclusion proof)");
    let proof;
    try {
      if (raw.length > (1 << 20) + 2 * 65536 + 64 * 48 + 64) throw new Error("the proof is too long");
      proof = parseProof(raw);
      if (!eq(raw, cat(enc.encode(rebuildProofHead(raw)), proof.noteBytes))) throw new Error("the proof is not in canonical form");
      const cpText = [proof.cp.origin, String(proof.cp.size), b64(proof.cp.root), ...proof.cp.ext].map(l => l + "\n").join("");
      if (cpText !== proof.note.text) throw new Error("the checkpoint text is not in canonical form");
    } catch (e) { throw new StepFail(`${PROOF} is damaged: ${e.message}.`, [PROOF]); }
    const note = await this.read(NOTE, " (the signed checkpoint that the time-stamps cover)");
    if (!eq(note, proof.noteBytes)) throw new StepFail(`${NOTE} differs from the checkpoint inside ${PROOF}; they must be the same bytes.`, [NOTE, PROOF]);
    const origin = this.s.manifest.log.origin, cp = proof.cp;
    if (origin !== cp.origin) throw new StepFail(`The manifest was sealed into the log '${origin}', but the proof's checkpoint is from the log '${cp.origin}'.`, [MAN, PROOF]);
    if (proof.index >= cp.size) throw new StepFail(`${PROOF} is for entry ${proof.index}, but its checkpoint covers only ${cp.size} entries.`, [PROOF]);
    let root;
    try { root = await rootFromInclusion(proof.index, cp.size, this.s.leaf, proof.hashes); } catch (e) { root = null; this.s.incErr = e.message; }
    if (!root || !eq(root, cp.root)) throw new StepFail(`The inclusion proof in ${PROOF} does not lead from this bundle's seal (${MAN}) to the checkpoint's root hash (${this.s.incErr || "expected " + hex(cp.root) + ", calculated " + hex(root)}). Either the manifest was changed after sealing, or the proof belongs to another entry.`, [PROOF, MAN]);
    this.s.proof = proof;
    return `The seal is entry ${proof.index} of the log '${cp.origin}', whose checkpoint covers ${cp.size} entries with root hash ${hex(cp.root)}; ${NOTE} is that checkpoint.`;
  }
  async step5() {
    const origin = this.s.proof.cp.origin;
    const raw = await this.read(VKEY, " (the log's public keys)");
    let text; try { text = new TextDecoder("utf-8", { fatal: true }).decode(raw); } catch (e) { throw new StepFail(`${VKEY} is not text.`, [VKEY]); }
    const lines = text.split("\n");
    if (lines.length !== 3 || lines[2] !== "") throw new StepFail(`${VKEY} must hold exactly two key lines (the log key, then its clock key).`, [VKEY]);
    let lk, ck;
    try { lk = await parseVkey(lines[0]); ck = await parseVkey(lines[1]); } catch (e) { throw new StepFail(`${VKEY} is damaged: ${e.message}`, [VKEY]); }
    if (`${lk.vkey}\n${ck.vkey}\n` !== text) throw new StepFail(`${VKEY} is not in canonical form.`, [VKEY]);
    if (lk.type !== 1 || lk.name !== origin) throw new StepFail(`The first key in ${VKEY} is not the signing key of the log '${origin}'.`, [VKEY]);
    if (ck.type !== 4 || ck.name !== origin + "/timestamp") throw new StepFail(`The second key in ${VKEY} is not the clock (timestamp cosignature) key of the log '${origin}'.`, [VKEY]);
    this.s.clockKey = ck; this.s.logKey = lk;
    const trusted = this.trusted.filter(k => k.type === 1 && k.name === origin);
    const note = this.s.proof.note;
    if (trusted.length) {
      let signers;
      try { signers = await openNote(note, trusted); } catch (e) {
        if (e.message.includes("no Ed25519")) throw e;
        throw new StepFail(`The checkpoint is not validly signed by the log key you trust for '${origin}' (${trusted.map(k => "sha256:" + k.fingerprint).join(", ")}): ${e.message} The bundle shows the key ${lk.vkey} (fingerprint sha256:${lk.fingerprint}). Either the key you were given is not this log's key, or the checkpoint was not signed by the log.`, [PROOF, VKEY]);
      }
      if (signers[0].vkey !== lk.vkey) throw new StepFail(`${VKEY} shows the key ${lk.vkey}, but the checkpoint was signed by the trusted key ${signers[0].vkey}: the key file in the bundle was altered.`, [VKEY]);
      this.s.anchored = true;
      this.s.logDetail = `Entry of the log '${origin}', signed with a key you trust.`;
      const source = this.policy.logs.some(k => k.vkey === signers[0].vkey) ? "your trust policy lists" : "you gave";
      return `The checkpoint is signed by the log key ${lk.vkey} (fingerprint sha256:${lk.fingerprint}), which ${source}; ${VKEY} shows the same key.` + await this.refreshed([signers[0]]);
    }
    try { await openNote(note, [lk]); } catch (e) {
      if (e.message.includes("no Ed25519")) throw e;
      throw new StepFail(`The checkpoint is not validly signed by the key shown in ${VKEY} (${lk.vkey}): ${e.message}`, [PROOF, VKEY]);
    }
    this.s.anchored = false;
    this.s.logDetail = `Entry of the log '${origin}', signed with the key shown in the bundle (sha256:${lk.fingerprint}), which you have not confirmed.`;
    this.toConfirm.push({ what: "Log key", identity: lk.vkey, fingerprint: "sha256:" + lk.fingerprint, how: `Ask the operator of the log '${origin}' for its verification-keys.txt (the log key and the clock key), through a channel you trust, never from this bundle; compare, then paste them here or add a 'log' line to your trust policy.` });
    const others = [...new Set(this.keys.filter(k => k.type === 1).map(k => k.name))].sort();
    const why = this.policy.logs.length ? `Your trust policy does not list the log '${origin}'` : others.length ? `The log keys you gave are for other logs (${others.join(", ")}), not for '${origin}'` : "No trusted log key was given";
    return `${why}. The checkpoint is validly signed by the key shown in ${VKEY}, ${lk.vkey} (fingerprint sha256:${lk.fingerprint}), but a key found inside a bundle proves nothing by itself: NOT ANCHORED IN TRUST.` + await this.refreshed([lk]);
  }
  // Checkpoints added later by 'evidence refresh' (step5_log_signature.refreshed, bundle/refresh.check_refresh).
  async refreshed(keys) {
    const cosigners = [], seen = new Set();
    for (const k of [...this.keys.filter(k => k.type === 4), ...this.policy.witnesses.map(w => w.verifier), this.s.clockKey]) if (!seen.has(k.vkey)) { seen.add(k.vkey); cosigners.push(k); }
    let checks;
    try { checks = await checkRefresh(this, keys, cosigners); } catch (e) {
      if (e instanceof StepFail || !(e instanceof RefreshError)) throw e;
      throw new StepFail(`A refreshed checkpoint added to the bundle later does not check out: ${e.message}`, [PROOF]);
    }
    this.s.refreshes = checks;
    if (!checks.length) return "";
    const newest = checks.reduce((a, b) => (b.size > a.size ? b : a));
    const tokens = checks.reduce((n, c) => n + c.tokens.length, 0);
    return ` The bundle also carries ${checks.length} newer checkpoint(s) of the same log, added later by 'evidence refresh' (newest: ${entriesText(newest.size)}); each is signed by the same key and proven append-only consistent with the checkpoint above, so it contains this entry too. Their cosignatures count in step 6 and their ${tokens} RFC 3161 time-stamp(s) in step 7.`;
  }
  async step6() {
    const origin = this.s.proof.cp.origin, clockName = origin + "/timestamp", note = this.s.proof.note;
    const pol = this.policy, bundleClock = this.s.clockKey;
    const trustedClock = this.keys.filter(k => k.type === 4 && k.name === clockName).concat(pol.witnesses.map(w => w.verifier).filter(v => v.name === clockName));
    const keys = trustedClock.length ? trustedClock : [bundleClock];
    let cos;
    try { cos = await cosignatures(note, keys); } catch (e) { throw new StepFail(`The log's clock cosignature on the checkpoint does not verify: ${e.message}`, [PROOF]); }
    if (!cos.size) throw new StepFail(`The checkpoint carries no time signed by ${trustedClock.length ? "the clock key you trust" : "the clock key shown in " + VKEY} (${keys[0].vkey}); every checkpoint of this log must carry one.`, [PROOF, VKEY]);
    const [key, ts] = cos.entries().next().value;
    this.s.clockTime = ts;
    if (trustedClock.length) {
      if (key.vkey !== bundleClock.vkey) throw new StepFail(`${VKEY} shows the clock key ${bundleClock.vkey}, but the checkpoint's time was signed by the trusted key ${key.vkey}: the key file in the bundle was altered.`, [VKEY]);
      this.s.clock = { grade: "VERIFIED", detail: `The log's clock signed the checkpoint at ${isoTime(ts)} (a key you trust).` };
    } else {
      this.s.clock = { grade: "NOT ANCHORED IN TRUST", detail: `The log's clock signed the checkpoint at ${isoTime(ts)}, with the clock key shown in the bundle (sha256:${key.fingerprint}), which you have not confirmed.` };
      this.toConfirm.push({ what: "Log clock key", identity: key.vkey, fingerprint: "sha256:" + key.fingerprint, how: `The operator of the log '${origin}' publishes it with the log key in the log's verification-keys.txt; obtain that file from the operator (never from this bundle), compare, then paste it here, or add the key to your trust policy as a 'witness' line.` });
    }
    this.s.clockKeyUsed = key;
    return await this.witnesses(note, key);
  }
  // The witnesses' and the user's cosigners' part of step 6 (step6_cosignatures._witnesses).
  async witnesses(note, key) {
    const origin = this.s.proof.cp.origin, clockName = origin + "/timestamp", pol = this.policy;
    const parts = [this.s.clock.detail], refreshes = this.s.refreshes || [];
    const known = new Set([`${this.s.logKey.name} ${this.s.logKey.id}`, `${key.name} ${key.id}`]);
    const userCosigners = this.keys.filter(k => k.type === 4 && k.name !== clockName);
    let grade, detail;
    if (pol.given) {
      const wkeys = pol.witnesses.map(w => w.verifier);
      const found = await earliestCosignatures(note, refreshes, wkeys, "witness cosignature");
      for (const k of wkeys) known.add(`${k.name} ${k.id}`);
      const independent = pol.witnesses.filter(w => w.verifier.name !== clockName);
      for (const w of independent) parts.push(`Witness ${w.name}: ` + cosignedText(found.get(w.verifier.vkey)));
      const q = evaluateQuorum(pol, pol.witnesses.filter(w => found.has(w.verifier.vkey)).map(w => w.name));
      const counted = refreshes.length ? ` Cosignatures on the bundle's checkpoint and on its ${refreshes.length} refreshed checkpoint(s) were counted.` : "";
      if (!q.ok) throw new StepFail(`${q.explanation}${counted} Your trust policy requires these witnesses to have seen the checkpoint (or a later one that contains it).`, [PROOF]);
      parts.push(q.explanation + counted);
      const cosigned = independent.filter(w => found.has(w.verifier.vkey));
      if (cosigned.length) { grade = "VERIFIED"; detail = "Cosigned by " + cosigned.map(w => `${w.name} ${cosignedText(found.get(w.verifier.vkey), true)}`).join("; ") + `. ${q.explanation}${counted}`; }
      else { grade = "NONE"; detail = `No independent witness you trust cosigned the checkpoint. ${q.explanation}`; }
    } else { grade = "NONE"; detail = "No trust policy was given, so no witness is required or checked."; }
    if (userCosigners.length) {
      const uf = await earliestCosignatures(note, refreshes, userCosigners, "cosignature");
      for (const k of userCosigners) { known.add(`${k.name} ${k.id}`); parts.push(`Cosigner ${k.name} (a key you gave): ` + cosignedText(uf.get(k.vkey))); }
      if (uf.size && grade === "NONE") { grade = "VERIFIED"; detail = "Cosigned by " + userCosigners.filter(k => uf.has(k.vkey)).map(k => `${k.name} ${cosignedText(uf.get(k.vkey), true)}`).join("; "); }
    }
    const unknown = note.sigs.filter(s => !known.has(`${s.name} ${s.id}`));
    if (unknown.length) {
      const listed = unknown.map(s => `${s.name} (key ID ${s.id.toString(16).padStart(8, "0")})`).join(", ");
      parts.push(`Not checked (keys not given to this check): ${listed}.`); detail += ` Also present, not checked: ${listed}.`;
    }
    this.s.witnesses = { grade, detail };
    return parts.join(" ");
  }
}
// checkpoint.cosignatures: the keys (cosignature/v1) whose line verifies, with its time, in the
// order of keys; a line by a key that does not verify fails closed.
async function cosignatures(note, keys) {
  const out = new Map(), seen = new Set();
  for (const k of keys) {
    if (k.type !== 4 || seen.has(k.vkey)) continue; seen.add(k.vkey);
    for (const sg of note.sigs) {
      if (sg.name !== k.name || sg.id !== k.id) continue;
      let ok = sg.sig.length === 72, ts = 0n;
      if (ok) { ts = new DataView(sg.sig.buffer, sg.sig.byteOffset, 8).getBigUint64(0); ok = ts <= 2n ** 63n - 1n; }
      if (ok) ok = await ed25519Verify(k.pub, sg.sig.subarray(8), cat(enc.encode(`cosignature/v1\ntime ${ts}\n`), note.textBytes));
      if (!ok) throw new Error(`the cosignature by ${k.name} (key ID ${k.id.toString(16).padStart(8, "0")}) does not verify`);
      out.set(k, Number(ts));
    }
  }
  return out;
}
// For each key (by vkey), its earliest cosignature over a tree holding the entry: [time, where].
async function earliestCosignatures(note, refreshes, keys, what) {
  const found = new Map();
  try { for (const [k, t] of await cosignatures(note, keys)) found.set(k.vkey, [t, ""]); } catch (e) { throw new StepFail(`A ${what} on the checkpoint does not verify: ${e.message}`, [PROOF]); }
  const wanted = new Set(keys.map(k => k.vkey));
  for (const r of refreshes) for (const [vk, t] of r.cosignatures) if (wanted.has(vk) && (!found.has(vk) || t < found.get(vk)[0])) found.set(vk, [t, `refresh ${r.k}, a later checkpoint of ${entriesText(r.size)} (${r.notePath})`]);
  return found;
}
const entriesText = n => `${n} ${n === 1 ? "entry" : "entries"}`;
function isoTime(ts) { return ts >= 0 && ts <= 253402300799 ? new Date(ts * 1000).toISOString().replace(/\.\d+Z$/, "Z") : `${ts} seconds after 1970-01-01 (not a possible date)`; }
function cosignedText(found, short = false) {
  if (!found) return "no cosignature.";
  const [ts, where] = found;
  if (!where) return short ? `at ${isoTime(ts)}` : `cosigned at ${isoTime(ts)}.`;
  return short ? `at ${isoTime(ts)} (on ${where.split(",")[0]})` : `cosigned at ${isoTime(ts)}, on ${where}, which contains this entry.`;
}
class NotImplemented extends Error {}
class RefreshError extends Error {}
const REFRESH_FILE_RE = /^evidence\/refresh-([1-9][0-9]{0,2})\.(note|consistency|([1-9][0-9]{0,2})\.tsr)$/;
async function refreshRead(run, name, limit) {
  const e = run.byName.get(name);
  if (e.size > limit) throw new RefreshError(`${name} is larger than ${limit} bytes`);
  try { return await readMember(run.b, e); } catch (err) { throw new RefreshError(`${name} cannot be read: ${err.message}`); }
}
function parseConsistency(data, where) {
  if (data.length > 64 * 1024) throw new RefreshError(`${where} is too large to be a consistency proof`);
  if (data.length && data[data.length - 1] !== 10) throw new RefreshError(`${where} does not end with a newline`);
  if (data.some(b => b > 127)) throw new RefreshError(`${where} is not ASCII text`);
  const lines = data.length ? new TextDecoder().decode(data).split("\n").slice(0, -1) : [];
  const hashes = lines.map((line, n) => {
    let raw; try { raw = b64dec(line, "x"); } catch (e) { if (/canonical/.test(e.message)) raw = null; else throw new RefreshError(`${where}, line ${n + 1}: not base64`); }
    if (!raw || raw.length !== 32) throw new RefreshError(`${where}, line ${n + 1}: not the canonical base64 of a 32-byte hash`);
    return raw;
  });
  if (hashes.length > 128) throw new RefreshError(`${where} holds ${hashes.length} hashes; no consistency proof is that long`);
  return hashes;
}
const EMPTY_ROOT_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// merkle.verify_consistency (RFC 9162 2.1.4.2): null if (newSize, newRoot) extends (oldSize, oldRoot), else why.
async function consistencyProblem(oldSize, newSize, oldRoot, newRoot, proof) {
  if (oldSize > newSize) return `the newer tree (${entriesText(newSize)}) is smaller than the older one (${entriesText(oldSize)}): the log went backwards`;
  if (oldSize === 0) { if (proof.length) return "a consistency proof from the empty tree must be empty"; if (hex(oldRoot) !== EMPTY_ROOT_HEX) return "a tree of size 0 must have the empty-tree root"; return null; }
  if (oldSize === newSize) { if (proof.length) return "a consistency proof between equal sizes must be empty"; return eq(oldRoot, newRoot) ? null : `two different roots for the same tree size ${oldSize}: the log forked (${hex(oldRoot)} vs ${hex(newRoot)})`; }
  if (!proof.length) return "the consistency proof is empty";
  const path = [...proof];
  const pow2 = n => n > 0 && (Math.log2(n) % 1 === 0);
  if (pow2(oldSize)) path.unshift(oldRoot);
  let fn = oldSize - 1, sn = newSize - 1;
  const half = n => Math.floor(n / 2);
  while (fn % 2 === 1) { fn = half(fn); sn = half(sn); }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return "the consistency proof is longer than the tree sizes allow";
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr); sr = await nodeHash(c, sr);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else sr = await nodeHash(sr, c);
    fn = half(fn); sn = half(sn);
  }
  if (sn !== 0) return "the consistency proof is shorter than the tree sizes need";
  if (!eq(fr, oldRoot)) return `the consistency proof does not reproduce the older root: expected ${hex(oldRoot)}, calculated ${hex(fr)}`;
  if (!eq(sr, newRoot)) return `the consistency proof does not reproduce the newer root: expected ${hex(newRoot)}, calculated ${hex(sr)}`;
  return null;
}
async function checkRefresh(run, trustedKeys, cosigners) {
  const found = new Map();
  for (const name of run.byName.keys()) {
    const m = REFRESH_FILE_RE.exec(name); if (!m) continue;
    const k = +m[1]; if (!found.has(k)) found.set(k, { tokens: new Map() });
    const slot = found.get(k); if (m[3]) slot.tokens.set(+m[3], name); else slot[m[2]] = name;
  }
  const groups = [];
  [...found.keys()].sort((a, b) => a - b).forEach((k, i) => {
    const slot = found.get(k);
    if (k !== i + 1) throw new RefreshError(`the refreshed checkpoints are numbered with a gap (refresh-${i + 1} is missing)`);
    for (const part of ["note", "consistency"]) if (!slot[part]) throw new RefreshError(`evidence/refresh-${k}.${part} is missing; a refresh needs both files`);
    const js = [...slot.tokens.keys()].sort((a, b) => a - b);
    if (js.some((j, n) => j !== n + 1)) throw new RefreshError(`the time-stamps of refresh ${k} are numbered with a gap`);
    groups.push({ k, note: slot.note, consistency: slot.consistency, tokens: js.map(j => slot.tokens.get(j)) });
  });
  const b = run.s.proof.cp, keys = trustedKeys.filter(k => k.type === 1), out = [], roots = new Map([[b.size, b.root]]);
  for (const g of groups) {
    const raw = await refreshRead(run, g.note, 1 << 20);
    let note, cp;
    try { note = parseNote(raw); cp = parseCheckpoint(note.text); } catch (e) { throw new RefreshError(`${g.note} is not a signed checkpoint: ${e.message}`); }
    if (cp.origin !== b.origin) throw new RefreshError(`${g.note} is a checkpoint of the log '${cp.origin}', not of '${b.origin}'`);
    let logKey;
    try { [logKey] = await openNote(note, keys); } catch (e) { if (e.message.includes("no Ed25519")) throw e; throw new RefreshError(`${g.note} is not signed by the log's key: ${e.message}`); }
    if (cp.size < b.size) throw new RefreshError(`${g.note} is a checkpoint of ${entriesText(cp.size)}, fewer than the bundle's ${b.size}: a log never shrinks; this one rolled back`);
    const proof = parseConsistency(await refreshRead(run, g.consistency, 64 * 1024), g.consistency);
    const why = await consistencyProblem(b.size, cp.size, b.root, cp.root, proof);
    if (why) throw new RefreshError(`${g.consistency} does not prove that the log's tree of ${entriesText(cp.size)} (${g.note}) extends the bundle's tree of ${entriesText(b.size)}: ${why}. Either file was altered, or the log rewrote history.`);
    if (roots.has(cp.size) && !eq(roots.get(cp.size), cp.root)) throw new RefreshError(`${g.note} signs a different tree of ${entriesText(cp.size)} than another checkpoint in the bundle: the log showed two different histories (a fork)`);
    roots.set(cp.size, cp.root);
    let cos; try { cos = await cosignatures(note, cosigners); } catch (e) { throw new RefreshError(`${g.note}: ${e.message}`); }
    for (const t of g.tokens) await refreshRead(run, t, 1 << 20);
    out.push({ k: g.k, notePath: g.note, note: raw, size: cp.size, logKey, cosignatures: [...cos].map(([k, t]) => [k.vkey, t]), tokens: g.tokens });
  }
  return out;
}
Run.prototype.step7 = async function () { return await step7(this); };
Run.prototype.step8 = async function () { throw new NotImplemented("This page does not check step 8 (the capture records: times, the web archive, its index, pages.jsonl, report.html and VERIFY.txt) yet, so the bundle is not fully checked."); };
function rebuildProofHead(raw) {
  const s = new TextDecoder().decode(raw); const head = s.slice(0, s.indexOf("\n\n"));
  const p = parseProof(raw);
  const lines = head.split("\n"); const extra = lines[1] && lines[1].startsWith("extra ") ? [lines[1]] : [];
  if (extra.length) { const d = b64dec(extra[0].slice(6), "extra"); extra[0] = "extra " + b64(d); }
  return ["c2sp.org/tlog-proof@v1", ...extra, "index " + p.index, ...p.hashes.map(b64)].map(l => l + "\n").join("") + "\n";
}
async function vkeyLines(lines) {
  const out = [];
  for (const l of lines) for (const t of String(l).split("\n")) if (t.trim() && !t.trim().startsWith("#")) out.push(await parseVkey(t));
  return out;
}
const NOT_RUN = "Not checked: an earlier step failed.";
const NOT_IN_PAGE = "Not checked: this verifier page does not implement this step yet. Use 'evidence verify' for a complete verification.";
// grading.claims: the five claim lines, each graded on its own.
function gradeClaims(steps, run, stopped) {
  const failed = (steps.find(s => !s.ok) || {}).number ?? null, ran = new Set(steps.filter(s => s.ok).map(s => s.number));
  const notChecked = detail => ["NOT CHECKED", detail];
  const later = n => stopped && stopped.number <= n ? NOT_IN_PAGE : NOT_RUN;
  const gradeFor = (set, ok, okDetail, n) => set.includes(failed) && ok == null ? ["FAILED", `Failed at step ${failed}.`] : ok != null ? [ok, okDetail] : notChecked(later(n));
  let integrity;
  if ([1, 2, 8].includes(failed)) integrity = ["FAILED", `Failed at step ${failed}.`];
  else if ([1, 2, 3, 8].every(n => ran.has(n))) integrity = ["VERIFIED", "Every preserved file is byte for byte the file sealed at capture time, and the records agree."];
  else if (ran.has(1) && ran.has(2)) integrity = notChecked(stopped && stopped.number <= 8 ? "The files match their seal; the cross-checks of step 8 are not implemented in this page." : "The files match their seal; the cross-checks of step 8 did not run.");
  else integrity = notChecked(NOT_RUN);
  const logGrade = ran.has(5) ? (run.s.anchored ? "VERIFIED" : "NOT ANCHORED IN TRUST") : null;
  const inclusion = gradeFor([4, 5], logGrade, run.s.logDetail || "", 5);
  const clock = gradeFor([6], run.s.clock ? run.s.clock.grade : null, run.s.clock ? run.s.clock.detail : "", 6);
  const witnesses = gradeFor([6], run.s.witnesses && ran.has(6) ? run.s.witnesses.grade : null, run.s.witnesses ? run.s.witnesses.detail : "", 6);
  let tsa;
  if (ran.has(7)) {
    const tokens = run.s.tokens || [];
    if (!tokens.length) tsa = ["NONE", "The bundle carries no independent time-stamp; its time rests on the log alone. If a time-stamping authority was down when it was sealed, 'evidence refresh' can add one now."];
    else {
      const good = tokens.filter(t => t.grade === "VERIFIED" && t.time != null).sort((a, b) => a.time - b.time || (a.name < b.name ? -1 : 1));
      let detail = tokens.map(t => `${t.name}: ${t.text}`).join(" ");
      if (good.length) detail = `The entry existed no later than ${utcText(good[0].time)} (${good[0].name}, the earliest time-stamp from an authority you pin). ${detail}`;
      tsa = [good.length ? "VERIFIED" : "NOT ANCHORED IN TRUST", detail];
    }
  } else tsa = gradeFor([7], null, "", 7);
  const STATUS = { "VERIFIED": "verified", "NOT ANCHORED IN TRUST": "not_anchored", "FAILED": "failed", "NOT CHECKED": "not_checked", "NONE": "none" };
  return [["integrity", "Integrity of the preserved files", integrity], ["log_inclusion", "Recorded in the log", inclusion], ["signed_time", "Signed time (the log's clock)", clock], ["independent_time", "Independent time (RFC 3161)", tsa], ["witnesses", "Witnesses", witnesses]]
    .map(([key, name, [grade, detail]]) => ({ key, name, grade, status: STATUS[grade], detail }));
}
// window.evidenceVerify(bytes, {logKeys, tsaRoots, policy}): the JSON of 'evidence verify --json'
// for the steps this page implements. A malformed key, policy or certificate rejects the promise
// (the CLI's usage error); problems with the bundle never do.
async function evidenceVerify(bytes, trust) {
  const t0 = performance.now();
  bytes = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  trust = trust || {};
  const run = new Run(bytes, trust); run.toConfirm = [];
  run.keys = await vkeyLines(trust.logKeys || []);
  run.policy = String(trust.policy || "").trim() ? await parseTrustPolicy(String(trust.policy)) : NO_POLICY;
  run.trusted = [...run.policy.logs, ...run.keys];
  run.tsaCerts = [];
  for (const p of trust.tsaRoots || []) if (String(p).trim()) run.tsaCerts.push(...parsePem(String(p)));
  const steps = []; let unusable = null, stopped = null;
  const fns = [run.step1, run.step2, run.step3, run.step4, run.step5, run.step6, run.step7, run.step8];
  for (let n = 1; n <= fns.length; n++) {
    try {
      const detail = await fns[n - 1].call(run);
      steps.push({ number: n, title: TITLES[n], ok: true, status: "pass", detail, files: [] });
    } catch (e) {
      if (e instanceof NotImplemented) { stopped = { number: n, why: e.message }; break; }
      if (e instanceof StepFail) {
        if (e.unusable) unusable = e;
        steps.push({ number: n, title: TITLES[n], ok: false, status: "fail", detail: e.message, files: e.files });
      } else steps.push({ number: n, title: TITLES[n], ok: false, status: "fail", detail: `Internal error of the verifier page in this step (${e.name}: ${e.message}). This is a defect of the page, not a finding about the bundle.`, files: [], internal: true });
      break;
    }
  }
  const failed = steps.find(s => !s.ok) || null;
  const lastImpl = stopped ? stopped.number - 1 : 8;
  let verdict, exit, result, summary, claims = [];
  if (unusable) { verdict = "UNUSABLE INPUT"; exit = 2; result = "unusable"; summary = `This file cannot be checked as an evidence bundle: ${unusable.message}`; }
  else {
    claims = gradeClaims(steps, run, stopped);
    const unanchored = claims.filter(c => c.grade === "NOT ANCHORED IN TRUST").map(c => c.name).join("; ");
    if (failed) { verdict = "FAILED"; exit = 1; result = "failed"; summary = `Verification FAILED at step ${failed.number}, ${failed.title.toLowerCase()}${failed.files.length ? " (file: " + failed.files.join(", ") + ")" : ""}: ${failed.detail}`; }
    else if (stopped) { verdict = "NOT FULLY CHECKED BY THIS PAGE"; exit = null; result = "incomplete"; summary = `Steps 1 to ${lastImpl} passed. Step${lastImpl + 1 < 8 ? "s" : ""} ${lastImpl + 1}${lastImpl + 1 < 8 ? " to 8 are" : " is"} not implemented in this verifier page yet, so this is NOT a verification: run 'evidence verify' for the verdict.`; }
    else if (unanchored) { verdict = "VERIFIED BUT NOT ANCHORED IN TRUST"; exit = 3; result = "not_anchored"; summary = `The bundle is internally consistent, but some signatures were checked only with keys or certificates found inside the bundle itself (${unanchored}), which anyone could have made. Confirm the fingerprints below with their owners, then verify again trusting them.`; }
    else { verdict = "VERIFIED"; exit = 0; result = "verified"; summary = "Every check passed against keys you trust."; }
  }
  const notRun = Object.entries(TITLES).map(([n, t]) => ({ number: +n, title: t })).filter(s => s.number > steps.length);
  return {
    format: "evidence-verify-report/2", page: true, verdict, result, exit_code: exit, summary,
    complete: result !== "incomplete", implemented_steps: lastImpl, not_implemented: notRun.filter(s => s.number > lastImpl && !failed && !unusable).map(s => s.number),
    failed_step: failed ? failed.number : null, steps, not_run: notRun, claims,
    to_confirm: verdict === "FAILED" ? [] : run.toConfirm, notes: stopped ? [stopped.why] : [], elapsed_ms: Math.round(performance.now() - t0),
  };
}
window.evidenceVerify = evidenceVerify;

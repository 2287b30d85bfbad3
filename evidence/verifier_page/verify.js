// The numbered steps of evidence/verify.py, as far as this page implements them, and the report.
"use strict";
const IMPLEMENTED_UP_TO = 6;
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
  async read(name, hint = "") {
    const e = this.byName.get(name);
    if (!e) throw new StepFail(`The bundle has no ${name}${hint}.`, [name]);
    if (e.size > 64 * 2 ** 20) throw new StepFail(`${name} cannot be read from the bundle: ${name} is larger than ${64 * 2 ** 20} bytes`, [name]);
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
    this.s.clockKey = ck;
    if ([...this.byName.keys()].some(n => REFRESH_RE.test(n))) throw new NotImplemented("The bundle carries refreshed checkpoints ('evidence refresh'); this page does not check refreshes yet, so step 5 is not complete.");
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
      return `The checkpoint is signed by the log key ${lk.vkey} (fingerprint sha256:${lk.fingerprint}), which you gave; ${VKEY} shows the same key.`;
    }
    try { await openNote(note, [lk]); } catch (e) {
      if (e.message.includes("no Ed25519")) throw e;
      throw new StepFail(`The checkpoint is not validly signed by the key shown in ${VKEY} (${lk.vkey}): ${e.message}`, [PROOF, VKEY]);
    }
    this.s.anchored = false;
    this.toConfirm.push({ what: "Log key", identity: lk.vkey, fingerprint: "sha256:" + lk.fingerprint, how: `Ask the operator of the log '${origin}' for its verification keys through a channel you trust, never from this bundle; compare, then paste them here.` });
    return `No trusted log key was given. The checkpoint is validly signed by the key shown in ${VKEY}, ${lk.vkey} (fingerprint sha256:${lk.fingerprint}), but a key found inside a bundle proves nothing by itself: NOT ANCHORED IN TRUST.`;
  }
  async step6() {
    const origin = this.s.proof.cp.origin, clockName = origin + "/timestamp", note = this.s.proof.note;
    const pol = this.policy;
    if (pol.witnesses.some(w => w.name !== clockName) || (pol.given && pol.quorum !== "none"))
      throw new NotImplemented("Your trust policy names independent witnesses or a quorum; this page does not evaluate witness quorums yet, so step 6 is not checked.");
    if (this.trusted.some(k => k.type === 4 && k.name !== clockName))
      throw new NotImplemented("You gave cosigner keys other than the log's clock; this page does not check those yet, so step 6 is not checked.");
    const bundleClock = this.s.clockKey;
    const trustedClock = this.trusted.filter(k => k.type === 4 && k.name === clockName).concat(pol.witnesses);
    const keys = trustedClock.length ? trustedClock : [bundleClock];
    let found = null;
    for (const k of keys) {
      for (const sg of note.sigs) {
        if (sg.name !== k.name || sg.id !== k.id) continue;
        let ok = sg.sig.length === 72;
        let ts = 0n;
        if (ok) { ts = new DataView(sg.sig.buffer, sg.sig.byteOffset, 8).getBigUint64(0); ok = ts <= 2n ** 63n - 1n; }
        if (ok) ok = await ed25519Verify(k.pub, sg.sig.subarray(8), cat(enc.encode(`cosignature/v1\ntime ${ts}\n`), note.textBytes));
        if (!ok) throw new StepFail(`The log's clock cosignature on the checkpoint does not verify: the cosignature by ${k.name} (key ID ${k.id.toString(16).padStart(8, "0")}) does not verify`, [PROOF]);
        if (!found || found.key !== k) found = found || { key: k, ts };
        if (found.key === k) found.ts = ts;
      }
    }
    if (!found) throw new StepFail(`The checkpoint carries no time signed by ${trustedClock.length ? "the clock key you trust" : "the clock key shown in " + VKEY} (${keys[0].vkey}); every checkpoint of this log must carry one.`, [PROOF, VKEY]);
    const when = new Date(Number(found.ts) * 1000);
    const iso = Number.isFinite(when.getTime()) && found.ts < 253402300800n ? when.toISOString().replace(/\.\d+Z$/, "Z") : `${found.ts} seconds after 1970-01-01 (not a possible date)`;
    if (trustedClock.length) {
      if (found.key.vkey !== bundleClock.vkey) throw new StepFail(`${VKEY} shows the clock key ${bundleClock.vkey}, but the checkpoint's time was signed by the trusted key ${found.key.vkey}: the key file in the bundle was altered.`, [VKEY]);
      this.s.clock = { grade: "VERIFIED", status: "verified", detail: `The log's clock signed the checkpoint at ${iso} (a key you trust).` };
    } else {
      this.s.clock = { grade: "NOT ANCHORED IN TRUST", status: "not_anchored", detail: `The log's clock signed the checkpoint at ${iso}, with the clock key shown in the bundle (sha256:${found.key.fingerprint}), which you have not confirmed.` };
      this.toConfirm.push({ what: "Log clock key", identity: found.key.vkey, fingerprint: "sha256:" + found.key.fingerprint, how: `Obtain the log's verification keys from the operator of '${origin}' (never from this bundle), compare, then paste them here.` });
    }
    this.s.witnesses = { grade: "NONE", status: "none", detail: pol.given ? "No independent witness you trust cosigned the checkpoint (your policy names none)." : "No trust policy was given, so no witness is required or checked." };
    return this.s.clock.detail;
  }
}
class NotImplemented extends Error {}
Run.prototype.step7 = async function () {
  const n = await step7(this);
  throw new NotImplemented(n === null
    ? "The bundle carries no RFC 3161 time-stamp; this page does not grade independent time yet, so step 7 is not checked."
    : `This page checked that the ${n} RFC 3161 time-stamp(s) are numbered without gaps, that none is a copy of another and that each one it could read covers ${NOTE}; it does not check their signatures and chains to a TSA root yet, so step 7 is not checked.`);
};
function rebuildProofHead(raw) {
  const s = new TextDecoder().decode(raw); const head = s.slice(0, s.indexOf("\n\n"));
  const p = parseProof(raw);
  const lines = head.split("\n"); const extra = lines[1] && lines[1].startsWith("extra ") ? [lines[1]] : [];
  if (extra.length) { const d = b64dec(extra[0].slice(6), "extra"); extra[0] = "extra " + b64(d); }
  return ["c2sp.org/tlog-proof@v1", ...extra, "index " + p.index, ...p.hashes.map(b64)].map(l => l + "\n").join("") + "\n";
}
async function parsePolicy(text) {
  const pol = { given: !!String(text || "").trim(), witnesses: [], quorum: null };
  for (const l of String(text || "").split("\n")) {
    const w = l.trim().split(/\s+/);
    if (w[0] === "witness" && w.length >= 3) pol.witnesses.push(await parseVkey(w[w.length - 1]));
    else if (w[0] === "quorum") pol.quorum = w.slice(1).join(" ");
  }
  return pol;
}
async function trustedKeys(trust) {
  const lines = [...(trust.logKeys || [])];
  for (const l of String(trust.policy || "").split("\n")) { const m = /^\s*log\s+(\S+)/.exec(l); if (m) lines.push(m[1]); }
  const out = [];
  for (const l of lines) for (const t of String(l).split("\n")) if (t.trim() && !t.trim().startsWith("#")) out.push(await parseVkey(t));
  return out;
}
async function evidenceVerify(bytes, trust) {
  const t0 = performance.now();
  bytes = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  trust = trust || {};
  const run = new Run(bytes, trust); run.toConfirm = [];
  run.trusted = await trustedKeys(trust);
  run.policy = await parsePolicy(trust.policy);
  const steps = []; let unusable = null, stopped = null;
  const fns = [run.step1, run.step2, run.step3, run.step4, run.step5, run.step6, run.step7];
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
  const ran = new Set(steps.filter(s => s.ok).map(s => s.number));
  const notChecked = (why) => ({ grade: "NOT CHECKED", status: "not_checked", detail: why });
  const lastImpl = stopped ? stopped.number - 1 : IMPLEMENTED_UP_TO;
  const notImpl = "Not checked: this verifier page does not implement this step yet. Use 'evidence verify' for a complete verification.";
  let verdict, exit, result, summary;
  const claims = [];
  if (unusable) { verdict = "UNUSABLE INPUT"; exit = 2; result = "unusable"; summary = `This file cannot be checked as an evidence bundle: ${unusable.message}`; }
  else {
    const mk = (key, name, g) => claims.push({ key, name, grade: g.grade, status: g.status, detail: g.detail });
    const failAt = (set) => failed && set.includes(failed.number);
    mk("integrity", "Integrity of the preserved files", failAt([1, 2]) ? { grade: "FAILED", status: "failed", detail: `Failed at step ${failed.number}.` } : notChecked(ran.has(2) ? "The files match their seal; the cross-checks of step 8 are not implemented in this page." : "Not checked: an earlier step failed."));
    mk("log_inclusion", "Recorded in the log", failAt([4, 5]) ? { grade: "FAILED", status: "failed", detail: `Failed at step ${failed.number}.` } :
      ran.has(5) ? (run.s.anchored ? { grade: "VERIFIED", status: "verified", detail: "Entry of the log, signed with a key you trust." } : { grade: "NOT ANCHORED IN TRUST", status: "not_anchored", detail: "Signed with the key shown in the bundle, which you have not confirmed." }) : notChecked(failed ? "Not checked: an earlier step failed." : notImpl));
    const step6 = (g) => failAt([6]) ? { grade: "FAILED", status: "failed", detail: "Failed at step 6." } : ran.has(6) ? g : notChecked(failed ? "Not checked: an earlier step failed." : notImpl);
    mk("signed_time", "Signed time (the log's clock)", step6(run.s.clock));
    mk("independent_time", "Independent time (RFC 3161)", failAt([7]) ? { grade: "FAILED", status: "failed", detail: "Failed at step 7." } : notChecked(failed ? "Not checked: an earlier step failed." : notImpl));
    mk("witnesses", "Witnesses", step6(run.s.witnesses));
    if (failed) { verdict = "FAILED"; exit = 1; result = "failed"; summary = `Verification FAILED at step ${failed.number}, ${failed.title.toLowerCase()}${failed.files.length ? " (file: " + failed.files.join(", ") + ")" : ""}: ${failed.detail}`; }
    else { verdict = "NOT FULLY CHECKED BY THIS PAGE"; exit = null; result = "incomplete"; summary = `Steps 1 to ${lastImpl} passed. Steps ${lastImpl + 1} to 8 are not implemented in this verifier page yet, so this is NOT a verification: run 'evidence verify' for the verdict.`; }
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

// A pasted lookup answer (GET /lookup/<manifest-sha256> of the log server; docs/verifying.md,
// "Checking the seal against the operator's log"): each entry's tlog-proof is checked against the
// dropped bundle's manifest digest and the log keys the user trusts. Nothing is fetched.
"use strict";
const MAX_LOOKUP_BYTES = 4 << 20, MAX_LOOKUP_ENTRIES = 1000;
// window.evidenceLookup(bundleBytes, trust, answerText): {confirmed, anchored, summary, entries}.
async function evidenceLookup(bytes, trust, answer) {
  bytes = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  trust = trust || {};
  const text = typeof answer === "string" ? answer : new TextDecoder().decode(answer);
  const no = why => ({ confirmed: false, anchored: false, summary: why, entries: [] });
  let manifest;
  try {
    const entries = parseZip(bytes), e = entries.find(x => x.name === MAN);
    if (!e) return no(`The bundle has no ${MAN}, so there is no seal to look up.`);
    if (e.size > 64 * 2 ** 20) return no(`${MAN} is too large.`);
    manifest = await readMember(bytes, e);
  } catch (err) { return no(`The bundle cannot be read (${err.message}); verify it first.`); }
  const digest = hex(await sha256(manifest));
  const raw = enc.encode(text);
  if (raw.length > MAX_LOOKUP_BYTES) return no(`The lookup answer is larger than ${MAX_LOOKUP_BYTES} bytes; this page reads no more.`);
  let a; try { a = strictJSON(raw); } catch (err) { return no(`The lookup answer is not valid JSON (${err.message}).`); }
  if (!isObj(a) || typeof a.manifest_sha256 !== "string" || typeof a.origin !== "string" || !Array.isArray(a.entries))
    return no('The lookup answer is not of the form {"manifest_sha256": hex, "origin": text, "entries": [{"index": n, "proof": tlog-proof text}]}.');
  if (a.manifest_sha256 !== digest) return no(`The lookup answer is about the manifest SHA-256 ${String(a.manifest_sha256).slice(0, 80)}, but this bundle's manifest has SHA-256 ${digest}: it answers a question about another bundle.`);
  if (a.entries.length > MAX_LOOKUP_ENTRIES) return no(`The lookup answer lists more than ${MAX_LOOKUP_ENTRIES} entries; this page reads no more.`);
  const policy = String(trust.policy || "").trim() ? await parseTrustPolicy(String(trust.policy)) : NO_POLICY;
  const keys = [...policy.logs, ...await vkeyLines(trust.logKeys || [])].filter(k => k.type === 1 && k.name === a.origin);
  const leaf = await sha256(cat(Uint8Array.of(0), enc.encode("evidence-entry/v1\nmanifest-sha256 " + digest + "\n")));
  const out = [];
  for (const item of a.entries) {
    const r = { index: isObj(item) && isInt(item.index) ? intVal(item.index) : null, ok: false, detail: "" };
    out.push(r);
    try {
      if (r.index === null || typeof item.proof !== "string") throw new Error("the entry needs an integer 'index' and a 'proof' (tlog-proof text)");
      const p = parseProof(enc.encode(item.proof));
      if (p.index !== r.index) throw new Error(`its proof is for entry ${p.index}, not ${r.index}`);
      if (p.cp.origin !== a.origin) throw new Error(`its checkpoint is from the log '${p.cp.origin}', not '${a.origin}'`);
      const root = await rootFromInclusion(p.index, p.cp.size, leaf, p.hashes);
      if (!eq(root, p.cp.root)) throw new Error("its inclusion proof does not lead from this bundle's seal to the checkpoint's root hash");
      r.tree_size = p.cp.size; r.root_hash = hex(p.cp.root);
      if (!keys.length) { r.detail = `entry ${r.index} is included in a checkpoint of ${p.cp.size} entries, but no log key you trust for '${a.origin}' was given, so its signature is not checked`; continue; }
      await openNote(p.note, keys);
      r.ok = true; r.detail = `entry ${r.index} is included in the checkpoint of ${p.cp.size} entries (root ${hex(p.cp.root)}), signed by the log key you trust`;
    } catch (err) { r.detail = `entry ${r.index ?? "?"}: ${err.message}`; }
  }
  const good = out.filter(r => r.ok);
  let summary;
  if (!a.entries.length) summary = `The operator's log answers that it holds NO entry with this bundle's manifest SHA-256 ${digest}. The log does not confirm this seal.`;
  else if (!keys.length) summary = `The answer lists ${out.length} entr${out.length === 1 ? "y" : "ies"}, but without the log's key (from the operator, never from the bundle) this page cannot tell whether the log signed them: NOT CONFIRMED.`;
  else if (good.length) summary = `CONFIRMED: the operator's log '${a.origin}' holds this bundle's seal (manifest SHA-256 ${digest}) as entr${good.length === 1 ? "y" : "ies"} ${good.map(r => r.index).join(", ")}, each proven into a checkpoint signed with the log key you trust.`;
  else summary = `NOT CONFIRMED: none of the ${out.length} entries in the answer checks out against this bundle's seal and the log key you trust (${out.map(r => r.detail).join("; ")}).`;
  return { confirmed: good.length > 0, anchored: keys.length > 0, manifest_sha256: digest, origin: a.origin, summary, entries: out };
}
window.evidenceLookup = evidenceLookup;

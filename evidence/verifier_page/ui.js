// The drop zone: a bundle, the user's keys and roots, and the numbered steps in plain words.
"use strict";
(function () {
  const $ = id => document.getElementById(id);
  let bytes = null, fname = "";
  function show(r) {
    const out = $("out"); out.textContent = "";
    const h = document.createElement("h2"); h.textContent = "Verdict: " + r.verdict; h.className = r.result; out.append(h);
    const p = document.createElement("p"); p.textContent = r.summary; out.append(p);
    const ol = document.createElement("ol");
    for (const s of r.steps) { const li = document.createElement("li"); li.value = s.number; li.className = s.status; li.textContent = `[${s.status.toUpperCase()}] ${s.title}: ${s.detail}`; ol.append(li); }
    for (const s of r.not_run) { const li = document.createElement("li"); li.value = s.number; li.className = "notrun"; li.textContent = `[${r.not_implemented.includes(s.number) ? "NOT IMPLEMENTED IN THIS PAGE" : "not run"}] ${s.title}`; ol.append(li); }
    out.append(ol);
    if (r.claims.length) { const t = document.createElement("table"); for (const c of r.claims) { const tr = t.insertRow(); tr.insertCell().textContent = c.name; tr.insertCell().textContent = c.grade; tr.insertCell().textContent = c.detail; } out.append(t); }
    for (const c of r.to_confirm) { const d = document.createElement("p"); d.textContent = `Confirm with its owner (never from the bundle): ${c.what} ${c.identity}, fingerprint ${c.fingerprint}`; out.append(d); }
    const pre = document.createElement("pre"); pre.textContent = JSON.stringify(r, null, 2); out.append(pre);
  }
  async function go() {
    if (!bytes) return;
    $("out").textContent = "Verifying " + fname + " ...";
    const trust = { logKeys: $("keys").value.split("\n").filter(l => l.trim()), tsaRoots: $("roots").value.trim() ? [$("roots").value] : [], policy: $("policy").value };
    try { show(await window.evidenceVerify(bytes, trust)); } catch (e) { $("out").textContent = "Error: " + e.message; }
  }
  async function lookup() {
    const out = $("lookupout");
    if (!bytes) { out.textContent = "Drop the bundle first."; return; }
    const trust = { logKeys: $("keys").value.split("\n").filter(l => l.trim()), policy: $("policy").value };
    try {
      const r = await window.evidenceLookup(bytes, trust, $("lookup").value);
      out.textContent = "";
      const h = document.createElement("h3"); h.textContent = r.summary; h.className = r.confirmed ? "pass" : "fail"; out.append(h);
      const ul = document.createElement("ul");
      for (const e of r.entries) { const li = document.createElement("li"); li.className = e.ok ? "pass" : "fail"; li.textContent = e.detail; ul.append(li); }
      out.append(ul);
    } catch (e) { out.textContent = "Error: " + e.message; }
  }
  function load(f) { fname = f.name; f.arrayBuffer().then(b => { bytes = new Uint8Array(b); go(); }); }
  window.addEventListener("DOMContentLoaded", () => {
    const dz = $("drop");
    dz.addEventListener("dragover", e => { e.preventDefault(); dz.classList.add("over"); });
    dz.addEventListener("dragleave", () => dz.classList.remove("over"));
    dz.addEventListener("drop", e => { e.preventDefault(); dz.classList.remove("over"); if (e.dataTransfer.files[0]) load(e.dataTransfer.files[0]); });
    $("file").addEventListener("change", e => { if (e.target.files[0]) load(e.target.files[0]); });
    $("again").addEventListener("click", go);
    $("checklookup").addEventListener("click", lookup);
  });
})();

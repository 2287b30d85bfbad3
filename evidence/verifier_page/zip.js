// Strict ZIP container reader: the rules of docs/bundle-format.md section 6 (evidence/container.py).
"use strict";
class Unusable extends Error {}
class StepFail extends Error { constructor(msg, files, unusable) { super(msg); this.files = files || []; this.unusable = !!unusable; } }
const MAX_MEMBERS = 10000, MAX_MEMBER_BYTES = 2 ** 30, MAX_TOTAL = 8 * 2 ** 30, MAX_NAME = 255;
const MAX_RATIO = 200, RATIO_FLOOR = 2 ** 20, ZIP64_LIMIT = 2 ** 31 - 1, COUNT_LIMIT = 0xffff;
const SEG = "[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?";
const NAME_RE = new RegExp("^" + SEG + "(?:/" + SEG + ")*$");
const RESERVED = new Set(["con", "prn", "aux", "nul"].concat([...Array(10).keys()].flatMap(i => ["com" + i, "lpt" + i])));
function validName(n) {
  return n.length <= MAX_NAME && NAME_RE.test(n) && n.split("/").every(s => !RESERVED.has(s.split(".")[0].toLowerCase()));
}
function refuse(what, ambiguous = true) {
  return new Unusable("the file is not a ZIP container this tool accepts: " + what + "." +
    (ambiguous ? " Different ZIP programs could show different contents for it, so it is refused." : ""));
}
function u16(b, o) { return b[o] | (b[o + 1] << 8); }
function u32(b, o) { return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000; }
function u64(b, o) { return u32(b, o) + u32(b, o + 4) * 0x100000000; }
function sig(b, o, s) { return b[o] === 0x50 && b[o + 1] === 0x4b && b[o + 2] === s[0] && b[o + 3] === s[1]; }
function nameConflicts(names) {
  const folded = new Map();
  for (const n of names) {
    const k = n.toLowerCase();
    if (folded.has(k)) {
      const o = folded.get(k);
      return o === n ? `the file '${n}' appears twice` : `the files '${o}' and '${n}' differ only in upper and lower case (one would overwrite the other)`;
    }
    folded.set(k, n);
  }
  for (const n of names) {
    const parts = n.toLowerCase().split("/");
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join("/");
      if (folded.has(p)) return `'${folded.get(p)}' is a file, but '${n}' uses it as a folder`;
    }
  }
  return null;
}
function parseZip(b) {
  const size = b.length;
  if (size < 22) throw refuse(`it is only ${size} bytes long, too short to be a ZIP file`, false);
  const tailLen = Math.min(size, 22 + 0xffff), tailAt = size - tailLen, eocd = size - 22;
  if (!sig(b, eocd, [5, 6])) {
    let found = -1;
    for (let p = size - 4; p >= tailAt; p--) if (sig(b, p, [5, 6])) { found = p; break; }
    if (found < 0) throw refuse("it has no ZIP end record (it is not a ZIP file, or it was cut short)", false);
    throw refuse(`${size - found - 22} bytes follow its end record (a comment or appended data)`);
  }
  const disk = u16(b, eocd + 4), cdDisk = u16(b, eocd + 6), nDisk = u16(b, eocd + 8), nTotal = u16(b, eocd + 10);
  const cdSize32 = u32(b, eocd + 12), cdOff32 = u32(b, eocd + 16), comment = u16(b, eocd + 20);
  if (comment !== 0) throw refuse(`its end record declares a ${comment}-byte comment`);
  if (disk !== 0 || cdDisk !== 0 || nDisk !== nTotal) throw refuse("its end record describes a multi-part (spanned) archive");
  for (let p = tailAt; p < size - 22; p++) {
    if (sig(b, p, [5, 6]) && p + 22 + u16(b, p + 20) === size) throw refuse(`it holds a second end record, at offset ${p}`);
  }
  let count = nTotal, cdSize = cdSize32, cdOff = cdOff32, cdEnd = eocd;
  const has64 = size >= 42 && sig(b, size - 42, [6, 7]);
  if (has64) {
    const l = size - 42, locDisk = u32(b, l + 4), recAt = u64(b, l + 8), disks = u32(b, l + 16);
    const want = size - 22 - 20 - 56;
    if (locDisk !== 0 || disks !== 1 || recAt !== want || want < 0)
      throw refuse(`its ZIP64 locator points to offset ${recAt}, not to a ZIP64 end record directly before it (at ${want})`);
    const r = recAt;
    if (!sig(b, r, [6, 6]) || u64(b, r + 4) !== 44 || u16(b, r + 12) !== 45 || u16(b, r + 14) !== 45)
      throw refuse("its ZIP64 end record is malformed or carries extra data");
    const rn = u64(b, r + 24), rt = u64(b, r + 32), rs = u64(b, r + 40), ro = u64(b, r + 48);
    if (u32(b, r + 16) !== 0 || u32(b, r + 20) !== 0 || rn !== rt) throw refuse("its ZIP64 end record describes a multi-part (spanned) archive");
    if (!(rt > COUNT_LIMIT || ro > ZIP64_LIMIT || rs > ZIP64_LIMIT)) throw refuse("it has a ZIP64 end record although every value fits the classic end record");
    if (nTotal !== Math.min(rt, COUNT_LIMIT) || cdSize32 !== Math.min(rs, 0xffffffff) || cdOff32 !== Math.min(ro, 0xffffffff))
      throw refuse("its ZIP64 end record and its classic end record disagree");
    count = rt; cdSize = rs; cdOff = ro; cdEnd = recAt;
  } else if (cdOff32 > ZIP64_LIMIT || cdSize32 > ZIP64_LIMIT) {
    throw refuse("its end record holds a ZIP64 placeholder value but there is no ZIP64 end record");
  }
  if (count === 0) throw refuse("it has no files at all", false);
  if (count > MAX_MEMBERS) throw refuse(`it declares ${count} files; at most ${MAX_MEMBERS} are accepted`);
  if (!(count * 46 <= cdSize && cdSize <= count * (46 + 255 + 12))) throw refuse(`its central directory is ${cdSize} bytes long, impossible for ${count} files`);
  if (cdOff + cdSize !== cdEnd) throw refuse(`its central directory (${cdSize} bytes at offset ${cdOff}) does not end where the end record starts (offset ${cdEnd}): there are bytes that belong to no file, or a second directory`);
  if (cdOff < count * 30) throw refuse("its central directory starts before there is room for its files");
  const entries = []; let pos = cdOff, expected = 0, total = 0;
  for (let i = 0; i < count; i++) {
    if (pos + 46 > cdEnd) throw refuse(`its central directory ends inside entry ${i + 1} of ${count}`);
    let where = `entry ${i + 1} of the central directory`;
    if (!sig(b, pos, [1, 2])) throw refuse(`${where} has no central directory signature`);
    const madeBy = u16(b, pos + 4), needed = u16(b, pos + 6), flags = u16(b, pos + 8), method = u16(b, pos + 10);
    const hdr = b.subarray(pos + 8, pos + 28);
    const crc = u32(b, pos + 16), csize = u32(b, pos + 20), usize = u32(b, pos + 24);
    const nameLen = u16(b, pos + 28), extraLen = u16(b, pos + 30), commentLen = u16(b, pos + 32);
    const diskStart = u16(b, pos + 34), internal = u16(b, pos + 36), external = u32(b, pos + 38), off32 = u32(b, pos + 42);
    const rawName = b.subarray(pos + 46, Math.min(pos + 46 + nameLen, cdEnd));
    const extra = b.subarray(pos + 46 + nameLen, Math.min(pos + 46 + nameLen + extraLen, cdEnd));
    pos += 46 + nameLen + extraLen + commentLen;
    if (pos > cdEnd) throw refuse(`${where} runs past the end of the central directory`);
    let name = rawName.every(c => c < 0x80) ? String.fromCharCode(...rawName) : "";
    if (!validName(name)) throw refuse(`${where} has the name ${JSON.stringify(String.fromCharCode(...rawName.subarray(0, 80)))}, which is not a plain file name (only ASCII letters, digits, '.', '_', '-' and '/' between names are allowed; no folder entries, no '..', no leading '/', no device names such as CON or NUL)`);
    where = `${name} (${where})`;
    if (flags & 1) throw refuse(`${where} is encrypted`);
    if (flags & 8) throw refuse(`${where} uses a data descriptor (sizes written after the data)`);
    if (flags !== 0) throw refuse(`${where} has general purpose flags; bundles never set any`);
    if (method !== 0 && method !== 8) throw refuse(`${where} uses compression method ${method}; only stored (0) and deflate (8) are accepted`);
    if (commentLen) throw refuse(`${where} has a file comment`);
    if (diskStart !== 0 || internal !== 0) throw refuse(`${where} has a disk number or internal attributes other than 0`);
    const mode = Math.floor(external / 65536), fmt = mode & 0o170000;
    if ((external & 0xffff) || (fmt !== 0 && fmt !== 0o100000) || (mode & ~(fmt | 0o777)))
      throw refuse(`${where} is not a plain file (a link, folder or device)`);
    let offset, want;
    if (extraLen) {
      if (extraLen !== 12 || off32 !== 0xffffffff) throw refuse(`${where} carries ${extraLen} bytes of extra fields that bundles never have`);
      offset = u64(extra, 4);
      if (u16(extra, 0) !== 1 || u16(extra, 2) !== 8 || offset <= ZIP64_LIMIT) throw refuse(`${where} carries an extra field other than the ZIP64 offset bundles use when needed`);
      want = [0x032d, 45];
    } else {
      offset = off32;
      if (offset > ZIP64_LIMIT) throw refuse(`${where} has an offset that needs a ZIP64 field but has none`);
      want = [0x0314, 20];
    }
    if (madeBy !== want[0] || needed !== want[1]) throw refuse(`${where} declares ZIP versions other than bundles have`);
    if (usize > MAX_MEMBER_BYTES) throw refuse(`${where} declares ${usize} bytes, more than the ${MAX_MEMBER_BYTES} accepted (a real capture is far smaller)`);
    if (method === 0 && csize !== usize) throw refuse(`${where} is stored but its compressed size ${csize} differs from its size ${usize}`);
    if (method === 8) {
      if (csize < 2) throw refuse(`${where} is deflated into ${csize} bytes, too few for a deflate stream`);
      if (usize > RATIO_FLOOR && usize > MAX_RATIO * csize) throw refuse(`${where} would expand ${Math.floor(usize / csize)} times when decompressed (a zip bomb?)`);
    }
    if (offset !== expected) throw refuse(`${where} starts at offset ${offset}, but the previous file ends at ${expected}: the files must follow each other with nothing before, between or over them`);
    const dataOffset = offset + 30 + nameLen;
    expected = dataOffset + csize; total += usize;
    entries.push({ name, method, crc, csize, size: usize, offset, dataOffset, hdr: Array.from(hdr) });
  }
  if (pos !== cdEnd) throw refuse(`its central directory has ${cdEnd - pos} bytes after its last entry`);
  if (expected !== cdOff) throw refuse(`its last file ends at offset ${expected}, but the central directory starts at ${cdOff}: there are bytes that belong to no file`);
  if (total > MAX_TOTAL) throw refuse(`its files declare ${total} bytes in all, more than the ${MAX_TOTAL} accepted`);
  const clash = nameConflicts(entries.map(e => e.name));
  if (clash) throw refuse(clash);
  for (const e of entries) {
    const o = e.offset, where = `the local header of ${e.name}`;
    if (o + 30 + e.name.length > size || !sig(b, o, [3, 4])) throw refuse(`${where} is missing (no local header signature at offset ${o})`);
    if (u16(b, o + 4) !== 20) throw refuse(`${where} declares version ${u16(b, o + 4)} needed to extract; bundles have 20`);
    const lh = b.subarray(o + 6, o + 26);
    if (lh.some((v, i) => v !== e.hdr[i])) throw refuse(`${where} disagrees with the central directory`);
    const nl = u16(b, o + 26), xl = u16(b, o + 28);
    if (nl !== e.name.length || String.fromCharCode(...b.subarray(o + 30, o + 30 + nl)) !== e.name) throw refuse(`${where} names another file`);
    if (xl) throw refuse(`${where} carries ${xl} bytes of extra fields; bundles have none there`);
  }
  return entries;
}
const CRC_TABLE = (() => { const t = new Uint32Array(256); for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; t[n] = c >>> 0; } return t; })();
function crc32(b) { let c = 0xffffffff; for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; }
// A member's bytes, with size, end of stream and CRC-32 checked; throws Error(what) naming no member.
async function readMember(b, e) {
  const raw = b.subarray(e.dataOffset, e.dataOffset + e.csize);
  let out;
  if (e.method === 0) out = raw;
  else {
    const ds = new DecompressionStream("deflate-raw");
    const w = ds.writable.getWriter();
    w.write(raw).catch(() => {}); w.close().catch(() => {});
    const r = ds.readable.getReader(); const chunks = []; let n = 0;
    try {
      for (;;) {
        const { done, value } = await r.read();
        if (done) break;
        n += value.length;
        if (n > e.size) { r.cancel().catch(() => {}); throw new Error(`it holds more than the ${e.size} bytes declared`); }
        chunks.push(value);
      }
    } catch (err) {
      if (/more than/.test(err.message)) throw err;
      throw new Error(n < e.size ? "its compressed data is corrupt or cut short" : "bytes follow the end of its compressed data");
    }
    if (n !== e.size) throw new Error(`its compressed data ends after ${n} of the ${e.size} bytes declared`);
    out = new Uint8Array(n); let p = 0; for (const c of chunks) { out.set(c, p); p += c.length; }
  }
  const got = crc32(out);
  if (got !== e.crc) throw new Error(`its CRC-32 is ${got.toString(16).padStart(8, "0")} but the ZIP directory records ${e.crc.toString(16).padStart(8, "0")} (its bytes were changed)`);
  return out;
}

// Checking the ledger in the browser, trusting nothing the server computed: RFC 6962 / RFC 9162 Merkle
// inclusion proofs (SHA-256 with WebCrypto), C2SP checkpoints (c2sp.org/tlog-checkpoint) in signed notes
// (c2sp.org/signed-note) and their Ed25519 signatures, and C2SP verifier keys. The same rules as the Python
// side, byte for byte: src/custos/ledger/merkle.py, checkpoint.py and keys.py. No dependencies.
//
// Every check throws a VerifyError whose `step` names what failed ("key", "note", "signature",
// "checkpoint", "proof", "root"), and whose message says how; nothing answers "valid" for input it cannot
// check (a hash that is not 32 bytes, a leaf index outside the tree, a proof of the wrong length).
"use strict";

export class VerifyError extends Error {
  constructor(step, message) {
    super(message);
    this.name = "VerifyError";
    this.step = step;
  }
}

const enc = new TextEncoder();
const utf8 = (s) => (typeof s === "string" ? enc.encode(s) : new Uint8Array(s));

// Bytes ----------------------------------------------------------------------------------------------------

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

export function b64encode(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

// Standard base64 in its one canonical spelling (padding, no spaces, zero unused bits), or null: a second
// spelling of the same bytes would let a changed signature line pass for the original (keys.b64decode_strict).
export function b64decodeStrict(s) {
  if (typeof s !== "string" || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  let raw;
  try { raw = atob(s); } catch (e) { return null; }
  const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
  return b64encode(bytes) === s ? bytes : null;
}

// Hashing (RFC 6962 §2.1) ----------------------------------------------------------------------------------

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(bytes)));
}

// The leaf hash of an entry: SHA-256(0x00 || data), `data` the entry's bytes (a string is taken as UTF-8).
export const leafHash = (data) => sha256(concat(Uint8Array.of(0), utf8(data)));
export const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

function checkHash(h, what) {
  if (!(h instanceof Uint8Array) || h.length !== 32) {
    throw new VerifyError("proof", `${what} is not a SHA-256 hash (${h && h.length !== undefined ? h.length : "no"} bytes, not 32)`);
  }
}

// A tree size or leaf index: a non-negative integer up to 2^64 - 1, as a number, a BigInt or decimal text
// (text keeps sizes beyond 2^53 exact).
function u64(v, what) {
  let n;
  try { n = BigInt(v); } catch (e) { throw new VerifyError("proof", `${what} ${v} is not an integer`); }
  if (typeof v === "number" && !Number.isSafeInteger(v)) throw new VerifyError("proof", `${what} ${v} is not exact`);
  if (n < 0n || n >= 1n << 64n) throw new VerifyError("proof", `${what} ${v} is outside 0..2^64-1`);
  return n;
}

// The root that `proof` leads to from leaf `index` (hash `leaf`) of a tree of `size` leaves, following
// RFC 9162 §2.1.3.2 step by step; throws if the proof is too long or too short for that tree.
export async function rootFromInclusionProof(index, size, leaf, proof) {
  const fnStart = u64(index, "leaf index"), n = u64(size, "tree size");
  checkHash(leaf, "the leaf hash");
  proof.forEach((p, i) => checkHash(p, `inclusion proof hash ${i}`));
  if (fnStart >= n) throw new VerifyError("proof", `leaf index ${fnStart} is outside a tree of size ${n}`);
  let fn = fnStart, sn = n - 1n, r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new VerifyError("proof", `the inclusion proof is longer than a tree of size ${n} allows`);
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n) throw new VerifyError("proof", `the inclusion proof is shorter than a tree of size ${n} needs`);
  return r;
}

// RFC 9162 §2.1.3.2: resolves if `leaf` is leaf `index` of the tree of `size` whose root is `root`.
export async function verifyInclusion(index, size, leaf, proof, root) {
  checkHash(root, "the root hash");
  const r = await rootFromInclusionProof(index, size, leaf, proof);
  if (!equal(r, root)) {
    throw new VerifyError("root", `leaf ${index} leads to root ${b64encode(r)}, not to the root ${b64encode(root)} of the tree of size ${size}`);
  }
}

// Verifier keys (c2sp.org/signed-note) ---------------------------------------------------------------------

const ED25519 = 0x01;  // the signed-note signature type byte

export function validKeyName(name) {
  return typeof name === "string" && name.length > 0 && !/[\s+\x00-\x1f\x7f]/u.test(name);
}

// The 4-byte key ID (the "key hash"): SHA-256(name || 0x0A || 0x01 || public key)[:4].
export async function keyId(name, publicKey) {
  return (await sha256(concat(enc.encode(name), Uint8Array.of(0x0a, ED25519), publicKey))).slice(0, 4);
}

// `<name>+<hex key ID>+<base64(0x01 || 32-byte public key)>`, its key ID recomputed: {name, keyId, publicKey, text}.
export async function parseVerifierKey(vkey) {
  const text = String(vkey).trim();
  const a = text.indexOf("+"), b = a < 0 ? -1 : text.indexOf("+", a + 1);  // the base64 key may hold '+'
  if (b < 0) throw new VerifyError("key", `the verifier key ${JSON.stringify(text)} is not <name>+<key hash>+<key>`);
  const name = text.slice(0, a), hexId = text.slice(a + 1, b), raw = b64decodeStrict(text.slice(b + 1));
  if (!validKeyName(name)) throw new VerifyError("key", `the verifier key's name ${JSON.stringify(name)} is not a valid key name`);
  if (raw === null || raw.length !== 33 || raw[0] !== ED25519) {
    throw new VerifyError("key", "the verifier key does not hold an Ed25519 public key");
  }
  const publicKey = raw.slice(1), id = await keyId(name, publicKey);
  if (hexId !== hex(id)) {
    throw new VerifyError("key", `the verifier key names key hash ${hexId}, but its key's hash is ${hex(id)}`);
  }
  return {name, keyId: id, publicKey, text};
}

// Signed notes ---------------------------------------------------------------------------------------------

const SIG_PREFIX = "\u2014 ";  // em dash, space
const CONTROL = /[\x00-\x09\x0b-\x1f]/;
const MAX_SIGNATURES = 100;

function noteText(note) {
  if (typeof note === "string") return note;
  try { return new TextDecoder("utf-8", {fatal: true}).decode(note); } catch (e) {
    throw new VerifyError("note", "the signed note is not valid UTF-8");
  }
}

// The text (final newline included) and the signatures [{name, keyId, signature}] of a signed note,
// checked for form only: nothing here is verified, see openNote.
export function splitNote(note) {
  const text = noteText(note);
  if (CONTROL.test(text)) throw new VerifyError("note", "the signed note contains control characters other than newline");
  const split = text.lastIndexOf("\n\n");
  if (split < 0 || !text.endsWith("\n")) {
    throw new VerifyError("note", "not a signed note: no blank line before the signatures, or no final newline");
  }
  const body = text.slice(0, split + 1), lines = text.slice(split + 2, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new VerifyError("note", `a signed note with ${lines.length} signatures`);
  const sigs = lines.map((line, i) => {
    const n = i + 1;
    if (!line.startsWith(SIG_PREFIX)) throw new VerifyError("note", `signature line ${n} does not start with an em dash and a space`);
    const parts = line.slice(SIG_PREFIX.length).split(" ");
    const raw = parts.length === 2 ? b64decodeStrict(parts[1]) : null;
    if (raw === null || !validKeyName(parts[0]) || raw.length < 5) {
      throw new VerifyError("note", `signature line ${n} is not '— <key name> <base64 key hash and signature>'`);
    }
    return {name: parts[0], keyId: raw.slice(0, 4), signature: raw.slice(4)};
  });
  return {body, sigs};
}

export async function ed25519Verify(publicKey, signature, message) {
  let key;
  try {
    key = await crypto.subtle.importKey("raw", publicKey, {name: "Ed25519"}, false, ["verify"]);
  } catch (e) {
    throw new VerifyError("key", `this browser cannot use the Ed25519 key (${e.name}: ${e.message})`);
  }
  if (signature.length !== 64) return false;
  try { return await crypto.subtle.verify({name: "Ed25519"}, key, signature, message); } catch (e) { return false; }
}

// The body of `note` (text, final newline included) once the signature of `vkey` (parsed) on it checks out.
// Signatures by other keys are ignored (signed-note's MUST); a bad one by ours refuses the whole note.
export async function openNote(note, vkey) {
  const {body, sigs} = splitNote(note);
  const bytes = enc.encode(body), who = `${vkey.name}+${hex(vkey.keyId)}`;
  let verified = false;
  for (const [i, s] of sigs.entries()) {
    if (s.name !== vkey.name || !equal(s.keyId, vkey.keyId)) continue;  // another signer: not ours to judge
    if (!(await ed25519Verify(vkey.publicKey, s.signature, bytes))) {
      throw new VerifyError("signature", `signature line ${i + 1} by ${who} does not verify`);
    }
    verified = true;
  }
  if (!verified) throw new VerifyError("signature", `the note carries no signature by ${who}`);
  return body;
}

// Checkpoints (c2sp.org/tlog-checkpoint) -------------------------------------------------------------------

// A checkpoint body: {origin, size (BigInt), root (32 bytes), extensions}. It proves nothing by itself.
export function parseCheckpoint(body) {
  if (!body.endsWith("\n")) throw new VerifyError("checkpoint", "a checkpoint body must end with a newline");
  const lines = body.slice(0, -1).split("\n");
  if (lines.length < 3) throw new VerifyError("checkpoint", `a checkpoint body has at least 3 lines, not ${lines.length}`);
  const [origin, size, rootText, ...extensions] = lines;
  if (!origin) throw new VerifyError("checkpoint", "the checkpoint origin is empty");
  if (!/^(0|[1-9][0-9]*)$/.test(size) || BigInt(size) >= 1n << 64n) {
    throw new VerifyError("checkpoint", `checkpoint tree size ${JSON.stringify(size)} is not a decimal without leading zeros`);
  }
  const root = b64decodeStrict(rootText);
  if (root === null || root.length !== 32) {
    throw new VerifyError("checkpoint", `checkpoint root hash ${JSON.stringify(rootText)} is not 32 bytes in canonical base64`);
  }
  if (extensions.includes("")) throw new VerifyError("checkpoint", "a checkpoint extension line is empty");
  return {origin, size: BigInt(size), root, extensions};
}

// The checkpoint in the signed note `note` (text or bytes), signed by `vkey` (text or parsed), and of
// `origin` if given.
export async function verifyCheckpoint(note, vkey, {origin} = {}) {
  const key = typeof vkey === "string" ? await parseVerifierKey(vkey) : vkey;
  const cp = parseCheckpoint(await openNote(note, key));
  if (origin !== undefined && cp.origin !== origin) {
    throw new VerifyError("checkpoint", `the checkpoint is of origin ${JSON.stringify(cp.origin)}, not ${JSON.stringify(origin)}`);
  }
  return cp;
}

// A ledger entry as GET /api/v1/ledger/entries/{seq} gives it, proved against a verified checkpoint `cp`:
// the leaf hash recomputed from the entry's bytes, the root recomputed from the proof, both compared with
// what was signed. Returns {fields, leaf}; throws VerifyError("entry" | "leaf" | "proof" | "root", ...).
export async function proveEntry(entry, cp) {
  if (BigInt(entry.tree_size) !== cp.size) {
    throw new VerifyError("proof", `the proof is for a tree of ${entry.tree_size} entries, the signed tree has ${cp.size}`);
  }
  const leaf = await leafHash(entry.data);
  const proof = (entry.inclusion_proof || []).map((p, i) => {
    const raw = b64decodeStrict(p);
    if (raw === null) throw new VerifyError("proof", `inclusion proof hash ${i} is not canonical base64`);
    return raw;
  });
  // The decisive check is the proof from the leaf hash computed here; the ledger's own leaf hash only names
  // the failure better (the entry's data was changed after it was entered, or its leaf hash column was).
  const stored = b64decodeStrict(entry.leaf_hash || "");
  const changed = () => new VerifyError("leaf", `entry ${entry.seq}'s bytes hash to ${b64encode(leaf)}, but the ledger holds leaf hash ${entry.leaf_hash}: the entry was changed after it was entered`);
  try {
    await verifyInclusion(entry.seq, cp.size, leaf, proof, cp.root);
  } catch (e) {
    throw e.step === "root" && (stored === null || !equal(stored, leaf)) ? changed() : e;
  }
  if (stored === null || !equal(stored, leaf)) throw changed();
  let fields;
  try { fields = JSON.parse(entry.data); } catch (e) { throw new VerifyError("entry", `entry ${entry.seq} is not JSON`); }
  if (fields === null || typeof fields !== "object" || fields.seq !== entry.seq) {
    throw new VerifyError("entry", `the entry's data is not that of ledger entry ${entry.seq}`);
  }
  return {fields, leaf};
}

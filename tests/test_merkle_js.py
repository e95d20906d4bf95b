"""The console's ledger checks (src/custos/web/static/merkle.js) in Debian's Chromium, against the same
things the Python side is held to: the RFC 6962 / RFC 9162 inclusion vectors of transparency-dev
(tests/vectors/merkle, a copy of /work/shared/vectors/merkle), our own proofs of every leaf of trees up to
33 leaves and their broken variants, C2SP checkpoints signed by custos.ledger with every single byte of
the note changed, and entries of a real ledger proved against the Publisher's signed tree head."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import custos.web
from custos.catalog.db import Database
from custos.ledger import log
from custos.ledger.checkpoint import Checkpoint, CheckpointError, parse_signed, sign_note
from custos.ledger.keys import SigningKey
from custos.ledger.merkle import inclusion_proof, leaf_hash, node_hash, root_hash

from browser import chromium, serve
from deployment import make_deployment

STATIC = Path(custos.web.__file__).with_name("static")
VECTORS = Path(__file__).parent / "vectors" / "merkle"
INCLUSION = sorted((VECTORS / "inclusion").rglob("*.json"))

# Calls merkle.js and answers {ok, value} or {ok: false, step, message}; bytes travel as base64.
CALL = """async ([fn, args]) => {
  const d = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const M = window.M;
  try {
    return {ok: true, value: await ({
      inclusion: (i, n, leaf, proof, root) => M.verifyInclusion(i, n, d(leaf), proof.map(d), d(root)).then(() => null),
      leafHash: async (data) => M.b64encode(await M.leafHash(data)),
      leafHashBytes: async (data) => M.b64encode(await M.leafHash(d(data))),
      nodeHash: async (l, r) => M.b64encode(await M.nodeHash(d(l), d(r))),
      keyId: async (vkey) => M.hex((await M.parseVerifierKey(vkey)).keyId),
      checkpoint: async (note, vkey, origin) => {
        const cp = await M.verifyCheckpoint(d(note), vkey, origin === null ? {} : {origin});
        return {origin: cp.origin, size: String(cp.size), root: M.b64encode(cp.root), extensions: cp.extensions};
      },
      entry: async (entry, note, vkey) => {
        const cp = await M.verifyCheckpoint(d(note), vkey);
        return (await M.proveEntry(entry, cp)).fields;
      },
    })[fn](...args)};
  } catch (e) {
    return {ok: false, step: e.step || null, message: `${e.name}: ${e.message}`, verifyError: e instanceof M.VerifyError};
  }
}"""

# Many calls in one round trip: [[fn, args], ...] -> [result, ...].
CALL_MANY = f"""async (calls) => {{
  const call = {CALL};
  const out = [];
  for (const c of calls) out.push(await call(c));
  return out;
}}"""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def index_page(_: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><meta charset='utf-8'><title>merkle.js</title>")


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    """One browser for the module, on a page of the same origin as /static/merkle.js (a secure context)."""
    app = Starlette(routes=[Route("/", index_page), Mount("/static", StaticFiles(directory=STATIC))])
    with serve(app) as url, chromium() as browser:
        p = browser.new_page()
        p.goto(url)
        p.evaluate("async () => { window.M = await import('/static/merkle.js'); }")
        yield p


def call(page: Any, fn: str, *args: Any) -> dict[str, Any]:
    return page.evaluate(CALL, [fn, list(args)])  # type: ignore[no-any-return]


def call_many(page: Any, calls: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
    return page.evaluate(CALL_MANY, [[fn, args] for fn, args in calls])  # type: ignore[no-any-return]


# Merkle proofs ------------------------------------------------------------------------------------------------


def test_the_vectors_are_all_there() -> None:
    assert len(INCLUSION) > 50
    assert (VECTORS / "LICENSE").is_file()


@pytest.mark.parametrize("path", INCLUSION, ids=lambda p: str(p.relative_to(VECTORS)))
def test_inclusion_vectors(page: Any, path: Path) -> None:
    v = json.loads(path.read_text())
    # Sizes and indices as decimal text: one vector's index is 2^64 - 1, beyond a JavaScript number.
    r = call(page, "inclusion", str(v["leafIdx"]), str(v["treeSize"]), v["leafHash"], v["proof"] or [], v["root"])
    if v["wantErr"]:
        assert not r["ok"] and r["verifyError"], r
    else:
        assert r == {"ok": True, "value": None}


def test_hashes_agree_with_the_ledger_byte_for_byte(page: Any) -> None:
    data = '{"kind":"access","purpose":"检查 of the gate ✓","seq":7}'
    assert call(page, "leafHash", data)["value"] == b64(leaf_hash(data.encode()))  # a string is hashed as UTF-8
    raw = bytes(range(256))
    assert call(page, "leafHashBytes", b64(raw))["value"] == b64(leaf_hash(raw))
    assert call(page, "leafHashBytes", "")["value"] == b64(leaf_hash(b""))
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert call(page, "nodeHash", b64(a), b64(b))["value"] == b64(node_hash(a, b))


def flip(h: bytes, i: int = 0) -> bytes:
    return h[:i] + bytes([h[i] ^ 0x01]) + h[i + 1 :]


def test_our_proofs_verify_and_every_broken_one_fails(page: Any) -> None:
    """Every leaf of every tree of 1..33 leaves proves; a wrong index, wrong root, wrong leaf, truncated or
    extended proof, or a flipped byte in any proof hash does not."""
    good: list[tuple[str, list[Any]]] = []
    bad: list[tuple[str, tuple[str, list[Any]]]] = []
    for n in range(1, 34):
        leaves = [leaf_hash(f"entry {i}".encode()) for i in range(n)]
        root = root_hash(leaves)
        for i in range(n):
            proof = [b64(p) for p in inclusion_proof(leaves, i)]
            args = {"i": i, "n": n, "leaf": b64(leaves[i]), "proof": proof, "root": b64(root)}
            good.append(("inclusion", list(args.values())))
            variants: list[tuple[str, dict[str, Any]]] = [
                ("wrong index", {"i": i ^ 1 if (i ^ 1) < n else i + 1}),
                ("index outside the tree", {"i": n}),
                ("wrong root", {"root": b64(flip(root, 31))}),
                ("wrong leaf", {"leaf": b64(flip(leaves[i], 5))}),
                ("extended proof", {"proof": [*proof, b64(root)]}),
            ]
            if n > 1:
                variants += [
                    ("another leaf", {"leaf": b64(leaves[(i + 1) % n])}),
                    ("truncated proof", {"proof": proof[:-1]}),
                    ("proof without its first hash", {"proof": proof[1:]}),
                    ("a proof hash of 31 bytes", {"proof": [b64(base64.b64decode(proof[0])[:31]), *proof[1:]]}),
                ]
                for j, p in enumerate(proof):
                    flipped = b64(flip(base64.b64decode(p), j % 32))
                    variants.append((f"flipped byte in proof[{j}]", {"proof": [*proof[:j], flipped, *proof[j + 1 :]]}))
            for what, change in variants:
                bad.append((f"n={n} i={i}: {what}", ("inclusion", list({**args, **change}.values()))))
    results = call_many(page, good)
    assert all(r == {"ok": True, "value": None} for r in results), [r for r in results if not r["ok"]][:3]
    results = call_many(page, [c for _, c in bad])
    wrongly_valid = [what for (what, _), r in zip(bad, results, strict=True) if r["ok"] or not r["verifyError"]]
    assert not wrongly_valid and len(bad) > 2000, wrongly_valid[:10]


def test_failures_name_their_step(page: Any) -> None:
    leaves = [leaf_hash(f"entry {i}".encode()) for i in range(5)]
    root, proof = root_hash(leaves), [b64(p) for p in inclusion_proof(leaves, 2)]
    assert call(page, "inclusion", 2, 5, b64(leaves[2]), proof, b64(flip(root)))["step"] == "root"
    assert "shorter" in call(page, "inclusion", 2, 5, b64(leaves[2]), proof[:-1], b64(root))["message"]
    assert "longer" in call(page, "inclusion", 2, 5, b64(leaves[2]), [*proof, proof[0]], b64(root))["message"]
    assert "outside a tree of size 5" in call(page, "inclusion", 5, 5, b64(leaves[2]), proof, b64(root))["message"]
    assert "not a SHA-256 hash" in call(page, "inclusion", 2, 5, b64(leaves[2][:31]), proof, b64(root))["message"]


# Signed tree heads ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey("custos/riverside-school", Ed25519PrivateKey.generate())


def signed(key: SigningKey, size: int = 1234) -> tuple[Checkpoint, str]:
    cp = Checkpoint(key.name, size, leaf_hash(b"a root"))
    return cp, cp.sign(key)


def test_key_hash_as_the_ledger_makes_it(page: Any, key: SigningKey) -> None:
    vkey = key.verifier_key()
    assert call(page, "keyId", vkey) == {"ok": True, "value": key.key_id.hex()}
    name, hex_id, pub = vkey.split("+", 2)
    wrong_id = f"{name}+{flip(key.key_id).hex()}+{pub}"
    r = call(page, "keyId", wrong_id)
    assert not r["ok"] and r["step"] == "key" and key.key_id.hex() in r["message"]
    assert call(page, "keyId", f"{name}+{hex_id}+{pub[:-2]}")["step"] == "key"  # not base64 of 33 bytes
    assert call(page, "keyId", f"other+{hex_id}+{pub}")["step"] == "key"  # the key hash covers the name


def test_a_checkpoint_signed_by_the_ledger_verifies(page: Any, key: SigningKey) -> None:
    cp, note = signed(key)
    r = call(page, "checkpoint", b64(note.encode()), key.verifier_key(), key.name)
    assert r == {"ok": True, "value": {"origin": key.name, "size": "1234", "root": b64(cp.root), "extensions": []}}
    # A tree size beyond 2^53 stays exact; extension lines are kept.
    big = Checkpoint(key.name, 2**64 - 1, cp.root, ("ext one",))
    r = call(page, "checkpoint", b64(big.sign(key).encode()), key.verifier_key(), None)
    assert r["value"]["size"] == str(2**64 - 1) and r["value"]["extensions"] == ["ext one"]


def test_every_changed_byte_of_a_signed_checkpoint_fails_here_as_in_python(page: Any, key: SigningKey) -> None:
    _, note = signed(key)
    raw = note.encode()
    changed = [raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :] for i in range(len(raw))]
    results = call_many(page, [("checkpoint", [b64(c), key.verifier_key(), None]) for c in changed])
    accepted = [i for i, r in enumerate(results) if r["ok"] or not r["verifyError"]]
    assert not accepted, [(i, chr(raw[i])) for i in accepted]
    for c in changed:  # and the Python side refuses each one too
        with pytest.raises(CheckpointError):
            parse_signed(c, key.verifier())
    steps = {r["step"] for r in results}
    assert steps <= {"note", "signature", "checkpoint"} and "signature" in steps


def test_checkpoint_failures(page: Any, key: SigningKey) -> None:
    cp, note = signed(key)
    other = SigningKey(key.name, Ed25519PrivateKey.generate())
    vkey = key.verifier_key()

    def check(note_text: str, vk: str = vkey, origin: str | None = None) -> dict[str, Any]:
        return call(page, "checkpoint", b64(note_text.encode()), vk, origin)

    # Another key of the same name: its key hash differs, so the note has no signature by it.
    r = check(note, other.verifier_key())
    assert r["step"] == "signature" and "no signature by" in r["message"]
    # Our key name and key hash on a signature that is not ours for this body.
    forged = sign_note(Checkpoint(key.name, 1235, cp.root).body(), key).split("\n\n")[1]
    r = check(note.split("\n\n")[0] + "\n\n" + forged)
    assert r["step"] == "signature" and "does not verify" in r["message"]
    # A witness's signature is ignored (signed-note's MUST), ours still counts: as custos.ledger does.
    witness = SigningKey("witness.example", Ed25519PrivateKey.generate())
    cosigned = note + sign_note(cp.body(), witness).split("\n\n")[1]
    assert parse_signed(cosigned, key.verifier()) == cp
    assert check(cosigned)["ok"]
    assert check(note, vkey, "custos/elsewhere")["step"] == "checkpoint"
    body, sig = note.split("\n\n")
    name, value = sig.removeprefix("\u2014 ").rstrip("\n").split(" ")
    assert check(f"{body}\n\n\u2014 {name} {value.rstrip('=')}\n")["step"] == "note"  # base64 not canonical
    assert check(f"{body}\n\n- {name} {value}\n")["step"] == "note"  # a hyphen is not an em dash
    assert check(note.rstrip("\n"))["step"] == "note"
    bad_body = sign_note(b"custos/riverside-school\n01\n" + base64.b64encode(cp.root) + b"\n", key)
    assert check(bad_body)["step"] == "checkpoint"  # a size with a leading zero


# A real ledger ------------------------------------------------------------------------------------------------


def test_entries_of_a_real_ledger_prove_against_the_publishers_tree_head(
    page: Any, tmp_path: Path, sqlite_db: Database
) -> None:
    dep = make_deployment(tmp_path, sqlite_db, None)  # units, people, their logins: a few dozen entries
    with dep.db.session() as s:
        log.append(s, "note", {"text": '检查 ✓ \u2028 \\ " </script>'}, at=dt.datetime.now(dt.UTC))
    assert dep.ctx.publisher is not None
    th = dep.ctx.publisher.publish(force=True)
    assert th is not None
    note, vkey = th.checkpoint, dep.ctx.publisher.key.verifier_key()
    with dep.db.session() as s:
        entries = list(log.entries(s))
        proofs = {e.seq: log.prove_inclusion(s, e.seq, th.size) for e in entries}
    assert len(entries) == th.size > 20

    def api_entry(e: log.Entry, data: bytes | None = None) -> dict[str, Any]:
        """As GET /api/v1/ledger/entries/{seq} gives it."""
        return {
            "seq": e.seq,
            "kind": e.kind,
            "data": (data or e.data).decode(),
            "leaf_hash": b64(e.leaf_hash),
            "tree_size": th.size,
            "root_hash": b64(bytes.fromhex(th.root)),
            "inclusion_proof": [b64(p) for p in proofs[e.seq]],
        }

    results = call_many(page, [("entry", [api_entry(e), b64(note.encode()), vkey]) for e in entries])
    assert [r["value"] for r in results] == [e.fields() for e in entries]
    last = entries[-1]
    # Its data changed by one character: the leaf hash recomputed here no longer matches, nor leads to the root.
    r = call(
        page, "entry", api_entry(last, last.data.replace("检查".encode(), "检验".encode())), b64(note.encode()), vkey
    )
    assert r["step"] == "leaf" and "changed after it was entered" in r["message"]
    # Data and leaf hash changed together: the proof leads elsewhere than the signed root.
    forged = last.data.replace(b"note", b"nope")
    r = call(page, "entry", {**api_entry(last, forged), "leaf_hash": b64(leaf_hash(forged))}, b64(note.encode()), vkey)
    assert r["step"] == "root"
    # A proof for another tree than the signed one, and an entry passed off as another.
    r = call(page, "entry", {**api_entry(last), "tree_size": th.size - 1}, b64(note.encode()), vkey)
    assert r["step"] == "proof"
    r = call(page, "entry", {**api_entry(entries[0]), "seq": 1}, b64(note.encode()), vkey)
    assert not r["ok"]

"""Signed tree heads: the key file, C2SP checkpoints in signed notes, and the witness file.

The note vectors are those of golang.org/x/mod/sumdb/note's tests (key "PeterNeumann"), so our notes are
byte for byte what Go's reference implementation writes and reads."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custos.errors import CustosError, Kind
from custos.ledger import keys as keys_module
from custos.ledger.checkpoint import Checkpoint, CheckpointError, open_note, parse_signed, sign_note
from custos.ledger.keys import SigningKey, VerifierKey, load_or_create_key
from custos.ledger.merkle import EMPTY_ROOT, leaf_hash, root_hash
from custos.ledger.witness import TornRecordError, Witness, WitnessError

# golang.org/x/mod/sumdb/note note_test.go (BSD-3-Clause)
PETER_SKEY_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

ORIGIN = "custos.example/site-1"


def peter() -> SigningKey:
    return SigningKey("PeterNeumann", Ed25519PrivateKey.from_private_bytes(PETER_SKEY_SEED))


def new_key(name: str = ORIGIN) -> SigningKey:
    return SigningKey(name, Ed25519PrivateKey.generate())


def tree(size: int) -> Checkpoint:
    return Checkpoint(ORIGIN, size, root_hash([leaf_hash(b"%d" % i) for i in range(size)]))


# --- the key file ---


def test_key_file_is_created_0600_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "ledger.key"
    key = load_or_create_key(path, ORIGIN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert os.listdir(path.parent) == ["ledger.key"]  # no temporary file left behind
    again = load_or_create_key(path, ORIGIN)
    assert again.public_bytes == key.public_bytes and again.key_id == key.key_id
    sig = again.sign(b"hello")
    assert key.verifier().verify(b"hello", sig) and not key.verifier().verify(b"hellO", sig)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o601])
def test_key_file_others_can_access_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "ledger.key"
    load_or_create_key(path, ORIGIN)
    before = path.read_bytes()
    path.chmod(mode)
    with pytest.raises(CustosError, match=str(path)) as exc:
        load_or_create_key(path, ORIGIN)
    assert exc.value.kind is Kind.FAILED_PRECONDITION and f"{mode:04o}" in exc.value.message
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage\n",
        os.urandom(32),
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"password"),
        ),
    ],
    ids=["empty", "text", "random", "ecdsa", "encrypted"],
)
def test_key_file_that_is_not_an_ed25519_key_is_refused_and_kept(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "ledger.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content)
    os.close(fd)
    with pytest.raises(CustosError, match=str(path)):
        load_or_create_key(path, ORIGIN)
    assert path.read_bytes() == content


def test_key_file_is_never_overwritten_by_a_racing_creator(tmp_path: Path) -> None:
    path = tmp_path / "ledger.key"
    key = load_or_create_key(path, ORIGIN)
    before = path.read_bytes()
    keys_module._create(path)  # what a second process does if it found no key a moment ago
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ledger.key"]
    assert load_or_create_key(path, ORIGIN).public_bytes == key.public_bytes


def test_key_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ledger.key").mkdir(mode=0o700)
    with pytest.raises(CustosError, match="not a regular file"):
        load_or_create_key(tmp_path / "ledger.key", ORIGIN)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "new\nline", "nbsp\u00a0"])
def test_invalid_key_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(CustosError) as exc:
        load_or_create_key(tmp_path / "ledger.key", name)
    assert exc.value.kind is Kind.INVALID_ARGUMENT
    assert not (tmp_path / "ledger.key").exists()


def test_key_id_is_the_signed_note_one() -> None:
    key = new_key()
    expected = hashlib.sha256(ORIGIN.encode() + b"\n" + b"\x01" + key.public_bytes).digest()[:4]
    assert key.key_id == expected and len(key.public_bytes) == 32
    encoded = base64.b64encode(b"\x01" + key.public_bytes).decode()
    assert key.verifier_key() == f"{ORIGIN}+{expected.hex()}+{encoded}"
    assert VerifierKey.parse(key.verifier_key()) == key.verifier()
    # Go's vector: the same seed gives the same key ID and verifier key.
    assert peter().key_id.hex() == "c74f20a3"
    assert peter().verifier_key() == PETER_VKEY
    assert str(VerifierKey.parse(ENOCH_VKEY)) == ENOCH_VKEY


def test_verifier_keys_round_trip_whatever_their_base64_holds() -> None:
    keys = [SigningKey(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32)) for i in range(64)]
    assert any("+" in k.verifier_key().split("+", 2)[2] for k in keys)
    for k in keys:
        assert VerifierKey.parse(k.verifier_key()) == k.verifier()


def test_mangled_verifier_keys_are_refused() -> None:
    """As Go's TestNewVerifier: every proper substring and every single changed byte is refused."""
    bad = {PETER_VKEY[i:j] for i in range(len(PETER_VKEY)) for j in range(i + 1, len(PETER_VKEY) + 1)}
    bad.discard(PETER_VKEY)
    bad |= {PETER_VKEY[:i] + chr(ord(c) + 1) + PETER_VKEY[i + 1 :] for i, c in enumerate(PETER_VKEY)}
    bad |= {
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",  # wrong length key
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # unknown algorithm
        PETER_VKEY.replace("c74f20a3", "C74F20A3"),
    }
    for vkey in bad:
        with pytest.raises(CustosError):
            VerifierKey.parse(vkey)


# --- signed notes: Go's vectors ---


def test_signing_matches_go() -> None:
    assert sign_note(TEXT.encode(), peter()) == TEXT + "\n" + PETER_SIG


def test_opening_matches_go() -> None:
    note = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(note, VerifierKey.parse(PETER_VKEY)) == TEXT.encode()
    assert open_note(note, VerifierKey.parse(ENOCH_VKEY)) == TEXT.encode()  # the other signer is ignored
    assert open_note(note.encode(), VerifierKey.parse(ENOCH_VKEY)) == TEXT.encode()
    with pytest.raises(CheckpointError, match="no signature by"):
        open_note(note, new_key("PeterNeumann").verifier())  # same name, another key ID


def test_bad_notes_from_go_are_refused() -> None:
    v = VerifierKey.parse(PETER_VKEY)
    with pytest.raises(CheckpointError, match="does not verify"):
        open_note(TEXT + "\n" + PETER_SIG[:58] + "ABCD" + PETER_SIG[58:], v)
    bad = [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT
        + "\n"
        + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG * 101,
    ]
    for note in bad:
        with pytest.raises(CheckpointError):
            open_note(note, v)
    with pytest.raises(CheckpointError, match="UTF-8"):
        open_note(b"\xff" + TEXT.encode() + b"\n" + PETER_SIG.encode(), v)


# --- checkpoints ---


def test_checkpoint_round_trip() -> None:
    key = new_key()
    cp = tree(12345)
    note = cp.sign(key)
    assert cp.body() == f"{ORIGIN}\n12345\n{base64.b64encode(cp.root).decode()}\n".encode()
    assert note.startswith(cp.body().decode() + "\n— " + ORIGIN + " ")
    assert parse_signed(note, key.verifier()) == cp
    assert Checkpoint.parse_signed(note.encode(), key.verifier(), origin=ORIGIN) == cp
    # Read by a verifier built only from the published verifier key string.
    assert parse_signed(note, VerifierKey.parse(key.verifier_key())) == cp


def test_checkpoint_with_extensions_and_empty_tree_round_trip() -> None:
    key = new_key()
    for cp in [Checkpoint(ORIGIN, 0, EMPTY_ROOT), Checkpoint(ORIGIN, 7, tree(7).root, ("ext one", "— two"))]:
        assert parse_signed(cp.sign(key), key.verifier()) == cp


def test_checkpoint_signed_in_go_format_by_peter() -> None:
    cp = Checkpoint("PeterNeumann", 3, tree(3).root)
    assert parse_signed(cp.sign(peter()), VerifierKey.parse(PETER_VKEY)) == cp


def test_any_changed_or_missing_character_is_refused() -> None:
    key = new_key()
    note = tree(12345).sign(key)
    v = key.verifier()
    for i, c in enumerate(note):
        for changed in (note[:i] + ("B" if c == "A" else "A") + note[i + 1 :], note[:i] + note[i + 1 :]):
            with pytest.raises(CheckpointError):
                parse_signed(changed, v)


def test_changed_fields_are_refused() -> None:
    key = new_key()
    cp = tree(12345)
    note = cp.sign(key)
    root = base64.b64encode(cp.root).decode()
    other_root = base64.b64encode(tree(12344).root).decode()
    body, sig_line = note.split("\n\n")
    sig = base64.b64decode(sig_line.split(" ")[2].strip())
    flipped = base64.b64encode(sig[:-1] + bytes([sig[-1] ^ 1])).decode()
    for changed in [
        note.replace(ORIGIN, "custos.example/site-2", 1),
        note.replace("\n12345\n", "\n12346\n"),
        note.replace("\n12345\n", "\n012345\n"),
        note.replace(root, other_root),
        f"{body}\n\n— {ORIGIN} {flipped}\n",
    ]:
        assert changed != note
        with pytest.raises(CheckpointError):
            parse_signed(changed, key.verifier())
    with pytest.raises(CheckpointError, match="origin"):
        parse_signed(note, key.verifier(), origin="custos.example/site-2")


def test_signature_by_another_key_is_refused() -> None:
    key, impostor = new_key(), new_key()
    note = tree(5).sign(impostor)
    with pytest.raises(CheckpointError, match="no signature by"):
        parse_signed(note, key.verifier())
    # The impostor's signature under our key ID: checked, and refused as a bad signature.
    raw = base64.b64decode(note.split(" ")[-1])
    forged = note.rsplit(" ", 1)[0] + " " + base64.b64encode(key.key_id + raw[4:]).decode() + "\n"
    with pytest.raises(CheckpointError, match="does not verify"):
        parse_signed(forged, key.verifier())


def test_unknown_cosignatures_are_ignored() -> None:
    key, witness = new_key(), new_key("witness.example/w1")
    cp = tree(9)
    ours = cp.sign(key)
    theirs = cp.sign(witness).split("\n\n")[1]
    both = ours + theirs
    assert parse_signed(both, key.verifier()) == cp == parse_signed(both, witness.verifier())
    assert parse_signed(cp.body().decode() + "\n" + theirs + ours.split("\n\n")[1], key.verifier()) == cp


@pytest.mark.parametrize(
    "body, error",
    [
        (f"{ORIGIN}\n012\n{base64.b64encode(EMPTY_ROOT).decode()}\n", "leading zeros"),
        (f"{ORIGIN}\n-1\n{base64.b64encode(EMPTY_ROOT).decode()}\n", "decimal"),
        (f"{ORIGIN}\n+1\n{base64.b64encode(EMPTY_ROOT).decode()}\n", "decimal"),
        (f"{ORIGIN}\n 1\n{base64.b64encode(EMPTY_ROOT).decode()}\n", "decimal"),
        (f"{ORIGIN}\n1.0\n{base64.b64encode(EMPTY_ROOT).decode()}\n", "decimal"),
        (f"{ORIGIN}\n{1 << 64}\n{base64.b64encode(EMPTY_ROOT).decode()}\n", "tree size"),
        (f"{ORIGIN}\n1\n{base64.b64encode(EMPTY_ROOT[:31]).decode()}\n", "32 bytes"),
        (f"{ORIGIN}\n1\n{base64.b64encode(EMPTY_ROOT).decode().rstrip('=')}\n", "32 bytes"),
        (f"{ORIGIN}\n1\n{base64.b64encode(EMPTY_ROOT).decode()[:-2]}9=\n", "canonical"),
        (f"\n1\n{base64.b64encode(EMPTY_ROOT).decode()}\n", "origin is empty"),
        (f"{ORIGIN}\n1\n", "at least 3 lines"),
        (f"{ORIGIN}\n1\n{base64.b64encode(EMPTY_ROOT).decode()}\n\nextension\n", "extension line is empty"),
    ],
)
def test_malformed_bodies_are_refused_even_when_signed(body: str, error: str) -> None:
    key = new_key()
    with pytest.raises(CheckpointError, match=error):
        parse_signed(sign_note(body.encode(), key), key.verifier())


def test_checkpoint_body_without_final_newline_is_refused() -> None:
    with pytest.raises(CheckpointError, match="newline"):
        Checkpoint.from_body(tree(1).body()[:-1])


def test_invalid_checkpoints_cannot_be_made() -> None:
    for args in [("", 1, EMPTY_ROOT), ("a\nb", 1, EMPTY_ROOT), (ORIGIN, -1, EMPTY_ROOT), (ORIGIN, 1, b"x" * 31)]:
        with pytest.raises(CheckpointError):
            Checkpoint(*args)
    with pytest.raises(CheckpointError):
        Checkpoint(ORIGIN, 1, EMPTY_ROOT, ("",))


# --- the witness file ---


def frame(note: str) -> bytes:
    data = note.encode()
    return b"checkpoint %d\n" % len(data) + data + b"\n"


@pytest.fixture
def key() -> SigningKey:
    return new_key()


def test_witness_append_and_read_across_reopen(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "elsewhere" / "witness" / "tree-heads"
    assert Witness(path).read(key.verifier()) == [] and Witness(path).latest(key.verifier()) is None
    heads = [tree(0), tree(1), tree(1), tree(5), tree(64)]
    w = Witness(path)
    for i, cp in enumerate(heads):
        w.append(cp.sign(key), key.verifier() if i % 2 else None)
    again = Witness(path)
    assert again.read(key.verifier()) == heads
    assert again.latest(key.verifier()) == tree(64)
    assert path.read_bytes() == b"".join(frame(cp.sign(key)) for cp in heads)  # Ed25519 is deterministic
    again.append(tree(70).sign(key))
    assert Witness(path).latest(key.verifier()) == tree(70)
    assert Witness(path).discard_torn_tail() == 0


def test_witness_file_is_readable_text(tmp_path: Path, key: SigningKey) -> None:
    w = Witness(tmp_path / "w")
    w.append(tree(3).sign(key))
    text = (tmp_path / "w").read_text()
    assert text.startswith(f"checkpoint {len(tree(3).sign(key).encode())}\n{ORIGIN}\n3\n")
    assert text.endswith("\n\n")


@pytest.mark.parametrize("cut", [1, 5, 11, 13, "header", "half", "no final newline"])
def test_torn_last_record_is_reported_not_skipped(tmp_path: Path, key: SigningKey, cut: int | str) -> None:
    path = tmp_path / "w"
    w = Witness(path)
    w.append(tree(1).sign(key))
    w.append(tree(2).sign(key))
    whole = path.stat().st_size
    record = frame(tree(3).sign(key))
    header = record.index(b"\n") + 1
    n = {"header": header, "half": header + 40, "no final newline": len(record) - 1}.get(cut, cut)
    assert isinstance(n, int)
    with path.open("ab") as f:
        f.write(record[:n])
    with pytest.raises(TornRecordError) as exc:
        Witness(path).read(key.verifier())
    assert exc.value.record == 3 and exc.value.offset == whole
    assert exc.value.checkpoints == [tree(1), tree(2)]
    with pytest.raises(TornRecordError):
        Witness(path).latest(key.verifier())
    with pytest.raises(TornRecordError):
        w.append(tree(3).sign(key))  # never writes after a torn record
    assert Witness(path).discard_torn_tail() == n
    assert path.stat().st_size == whole
    w.append(tree(3).sign(key))
    assert Witness(path).read(key.verifier()) == [tree(1), tree(2), tree(3)]


@pytest.mark.parametrize("tail", ["zeros", "header then zeros", "record with a zeroed page"])
def test_never_written_blocks_at_the_end_are_a_torn_record(tmp_path: Path, key: SigningKey, tail: str) -> None:
    path = tmp_path / "w"
    Witness(path).append(tree(1).sign(key))
    record = frame(tree(2).sign(key))
    header = record.index(b"\n") + 1
    data = {
        "zeros": b"\0" * 4096,
        "header then zeros": record[:header] + b"\0" * (len(record) - header),
        "record with a zeroed page": record[:header] + b"\0" * 20 + record[header + 20 :],
    }[tail]
    with path.open("ab") as f:
        f.write(data)
    with pytest.raises(TornRecordError) as exc:
        Witness(path).read(key.verifier())
    assert exc.value.record == 2 and exc.value.checkpoints == [tree(1)]


def test_size_decrease_is_detected(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "w"
    path.write_bytes(b"".join(frame(cp.sign(key)) for cp in [tree(1), tree(5), tree(4), tree(6)]))
    with pytest.raises(WitnessError, match="smaller than the 5") as exc:
        Witness(path).read(key.verifier())
    assert exc.value.record == 3 and not isinstance(exc.value, TornRecordError)


def test_two_roots_for_one_size_or_another_origin_are_detected(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "w"
    forked = Checkpoint(ORIGIN, 5, leaf_hash(b"other"))
    path.write_bytes(frame(tree(5).sign(key)) + frame(forked.sign(key)))
    with pytest.raises(WitnessError, match="another root") as exc:
        Witness(path).read(key.verifier())
    assert exc.value.record == 2
    path.write_bytes(frame(tree(5).sign(key)) + frame(Checkpoint("custos.example/site-2", 6, tree(6).root).sign(key)))
    with pytest.raises(WitnessError, match="origin") as exc:
        Witness(path).read(key.verifier())
    assert exc.value.record == 2


def test_append_refuses_what_cannot_follow(tmp_path: Path, key: SigningKey) -> None:
    w = Witness(tmp_path / "w")
    w.append(tree(5).sign(key))
    for cp in [tree(4), Checkpoint(ORIGIN, 5, leaf_hash(b"other")), Checkpoint("custos.example/x", 6, EMPTY_ROOT)]:
        with pytest.raises(WitnessError, match="refusing"):
            Witness(tmp_path / "w").append(cp.sign(key))
        with pytest.raises(WitnessError, match="refusing"):
            w.append(cp.sign(key))
    with pytest.raises(WitnessError, match="not a signed checkpoint"):
        w.append(tree(6).sign(new_key()), key.verifier())
    for junk in ["", "hello\n", tree(6).body().decode(), tree(6).sign(key) + "\0"]:
        with pytest.raises(WitnessError, match="not a signed checkpoint"):
            w.append(junk)
    assert Witness(tmp_path / "w").read(key.verifier()) == [tree(5)]


def test_wrong_signature_in_the_middle_is_named(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "w"
    impostor = new_key()
    good = [frame(cp.sign(key)) for cp in [tree(1), tree(2), tree(3)]]
    path.write_bytes(good[0] + frame(tree(2).sign(impostor)) + good[2])
    with pytest.raises(WitnessError, match=r"record 2 .*no signature by") as exc:
        Witness(path).read(key.verifier())
    assert exc.value.record == 2
    tampered = frame(tree(2).sign(key).replace("\n2\n", "\n7\n"))
    path.write_bytes(good[0] + tampered + good[2])
    with pytest.raises(WitnessError, match=r"record 2 .*does not verify") as exc:
        Witness(path).read(key.verifier())
    assert exc.value.record == 2
    # A wrong signature on the last record is not a torn record: it was written whole.
    path.write_bytes(good[0] + good[1] + frame(tree(3).sign(impostor)))
    with pytest.raises(WitnessError) as exc:
        Witness(path).read(key.verifier())
    assert exc.value.record == 3 and not isinstance(exc.value, TornRecordError)


@pytest.mark.parametrize(
    "garble",
    [
        lambda r: b"garbage\n" + r,
        lambda r: r.replace(b"checkpoint ", b"checkpoint 0"),
        lambda r: r.replace(b"checkpoint ", b"Checkpoint "),
        lambda r: r[:-1] + b"x",
        lambda r: r[:-1],
        lambda r: r.replace(b"\n\n", b"\n\0", 1),
    ],
    ids=["junk line", "leading zero", "capital", "no blank line", "short", "NUL"],
)
def test_garbled_record_in_the_middle_is_named(tmp_path: Path, key: SigningKey, garble) -> None:
    path = tmp_path / "w"
    records = [frame(cp.sign(key)) for cp in [tree(1), tree(2), tree(3)]]
    path.write_bytes(records[0] + garble(records[1]) + records[2])
    with pytest.raises(WitnessError) as exc:
        Witness(path).read(key.verifier())
    assert exc.value.record == 2 and not isinstance(exc.value, TornRecordError)
    with pytest.raises(WitnessError):
        Witness(path).discard_torn_tail()  # only a torn tail is ever cut
    with pytest.raises(WitnessError):
        Witness(path).append(tree(4).sign(key))


def test_garbage_at_the_end_is_not_a_torn_record(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "w"
    path.write_bytes(frame(tree(1).sign(key)) + b"not a record")
    with pytest.raises(WitnessError) as exc:
        Witness(path).read(key.verifier())
    assert exc.value.record == 2 and not isinstance(exc.value, TornRecordError)
    assert path.read_bytes().endswith(b"not a record")

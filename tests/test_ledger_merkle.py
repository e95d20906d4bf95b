"""RFC 6962 Merkle hashing and proofs: the transparency-dev vectors (tests/vectors/merkle, Apache-2.0)
replayed file by file, and round trips of our own proofs for every leaf and size up to 64."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from custos.ledger.merkle import (
    EMPTY_ROOT,
    ProofError,
    consistency_proof,
    inclusion_proof,
    inclusion_proofs,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent / "vectors" / "merkle"
INCLUSION = sorted((VECTORS / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((VECTORS / "consistency").rglob("*.json"))


def b64(v: str | None) -> bytes | None:
    return None if v is None else base64.b64decode(v)


def test_the_vectors_are_all_there() -> None:
    assert len(INCLUSION) > 50 and len(CONSISTENCY) > 30
    assert (VECTORS / "LICENSE").is_file()


@pytest.mark.parametrize("path", INCLUSION, ids=lambda p: str(p.relative_to(VECTORS)))
def test_inclusion_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    proof = [b64(p) for p in v["proof"] or []]
    args = (v["leafIdx"], v["treeSize"], b64(v["leafHash"]) or b"", proof, b64(v["root"]) or b"")
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)  # type: ignore[arg-type]
    else:
        verify_inclusion(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", CONSISTENCY, ids=lambda p: str(p.relative_to(VECTORS)))
def test_consistency_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    proof = [b64(p) for p in v["proof"] or []]
    args = (v["size1"], v["size2"], b64(v["root1"]) or b"", b64(v["root2"]) or b"", proof)
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)  # type: ignore[arg-type]
    else:
        verify_consistency(*args)  # type: ignore[arg-type]


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"record {i}".encode()) for i in range(n)]


def test_the_empty_tree_is_not_a_starting_point_for_consistency() -> None:
    with pytest.raises(ValueError, match="proves nothing"):
        consistency_proof(leaves(3), 0)
    with pytest.raises(ProofError, match="proves nothing"):
        verify_consistency(0, 3, EMPTY_ROOT, root_hash(leaves(3)), [])


def test_known_roots() -> None:
    assert root_hash([]) == EMPTY_ROOT
    assert root_hash([leaf_hash(b"")]).hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    a, b, c = leaves(3)
    from custos.ledger.merkle import node_hash

    assert root_hash([a, b, c]) == node_hash(node_hash(a, b), c)


def test_every_inclusion_proof_up_to_64_leaves_verifies_and_a_flipped_bit_fails() -> None:
    for n in range(1, 65):
        ls = leaves(n)
        root = root_hash(ls)
        for i in range(n):
            proof = inclusion_proof(ls, i)
            verify_inclusion(i, n, ls[i], proof, root)
            if proof:
                bad = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                with pytest.raises(ProofError):
                    verify_inclusion(i, n, ls[i], bad, root)
            with pytest.raises(ProofError):
                verify_inclusion(i, n, leaf_hash(b"forged"), proof, root)


def test_every_consistency_proof_up_to_64_leaves_verifies_and_a_rewritten_history_fails() -> None:
    for n in range(1, 65):
        ls = leaves(n)
        root2 = root_hash(ls)
        for m in range(1, n + 1):
            root1 = root_hash(ls[:m])
            proof = consistency_proof(ls, m)
            verify_consistency(m, n, root1, root2, proof)
            if m < n:
                rewritten = root_hash([leaf_hash(b"edited"), *ls[1:m]])
                with pytest.raises(ProofError):
                    verify_consistency(m, n, rewritten, root2, proof)


def test_batch_inclusion_proofs_equal_rfc_6962_paths_for_every_leaf_up_to_130() -> None:
    """The levelled construction (pair neighbours, lift a lone last node) gives RFC 6962's PATH exactly."""
    for n in range(1, 131):
        leaves = [leaf_hash(str(i).encode()) for i in range(n)]
        root = root_hash(leaves)
        batch = inclusion_proofs(leaves, list(range(n)))
        for i in range(n):
            assert batch[i] == inclusion_proof(leaves, i), (n, i)
            verify_inclusion(i, n, leaves[i], batch[i], root)
    with pytest.raises(ValueError):
        inclusion_proofs([leaf_hash(b"x")], [1])

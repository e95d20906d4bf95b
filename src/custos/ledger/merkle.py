"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification, as pure functions.

Domain separation: a leaf is SHA-256(0x00 || data), an interior node SHA-256(0x01 || left || right),
the empty tree SHA-256(""). Verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step and raise
ProofError naming what did not match; they never answer "valid" for a proof they cannot check
(a leaf index outside the tree, a first tree larger than the second or empty, a hash that is not
32 bytes), as the transparency-dev vectors in tests/vectors/merkle require. The generators follow RFC 6962
§2.1.1 and §2.1.2 and are for logs small enough to hold their leaf hashes in memory; the ledger will
keep interior nodes in its store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not prove what it was offered for; the message says what failed."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 6962 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes (not leaf data)."""
    if not leaves:
        return EMPTY_ROOT
    # Fold complete subtrees left to right, as a stack of (size, hash) with sizes strictly decreasing.
    stack: list[tuple[int, bytes]] = []
    for h in leaves:
        size = 1
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            h = node_hash(left, h)
            size += left_size
        stack.append((size, h))
    h = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        h = node_hash(left, h)
    return h


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1 for leaf `index` of the tree over `leaves` (leaf hashes)."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index {index} is outside a tree of {len(leaves)} leaves")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), root_hash(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), root_hash(leaves[:k])]


def inclusion_proofs(leaves: Sequence[bytes], indices: Sequence[int]) -> dict[int, list[bytes]]:
    """PATH(m, D[n]) for many leaves at once: the tree's levels are built once (O(n)), each path then read
    off them (O(log n)). The RFC 6962 tree is the one that pairs neighbours level by level and lifts a
    lone last node unchanged, so a leaf's path is its sibling at each level where it has one."""
    n = len(leaves)
    for i in indices:
        if not 0 <= i < n:
            raise ValueError(f"leaf index {i} is outside a tree of {n} leaves")
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        up = [node_hash(below[j], below[j + 1]) for j in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            up.append(below[-1])
        levels.append(up)
    out: dict[int, list[bytes]] = {}
    for index in indices:
        path, i = [], index
        for level in levels[:-1]:
            sibling = i ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            i //= 2
        out[index] = path
    return out


def consistency_proof(leaves: Sequence[bytes], size1: int) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 §2.1.2: the tree of the first `size1` leaves is a prefix of this one."""
    if not 1 <= size1 <= len(leaves):
        raise ValueError(f"first tree size {size1} is outside 1..{len(leaves)} (the empty tree proves nothing)")
    if size1 == len(leaves):
        return []
    return _subproof(leaves, size1, True)


def _subproof(leaves: Sequence[bytes], m: int, whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [root_hash(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves[:k], m, whole), root_hash(leaves[k:])]
    return [*_subproof(leaves[k:], m - k, False), root_hash(leaves[:k])]


def _check_hashes(*hashes: bytes) -> None:
    for h in hashes:
        if len(h) != 32:
            raise ProofError(f"a SHA-256 hash has 32 bytes, not {len(h)}")


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2. Raises ProofError unless `leaf` is leaf `index` of the tree of `size` with `root`."""
    _check_hashes(leaf, root, *proof)
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError(f"inclusion proof is longer than a tree of size {size} allows")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof is shorter than a tree of size {size} needs")
    if r != root:
        raise ProofError(f"leaf {index} does not lead to the root of the tree of size {size}")


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2. Raises ProofError unless the tree (size1, root1) is a prefix of (size2, root2)."""
    _check_hashes(*proof)
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing; size1 must be at least 1")
    if size1 > size2:
        raise ProofError(f"first tree size {size1} is larger than the second, {size2}")
    if size1 == size2:
        if proof:
            raise ProofError("a proof between two trees of the same size must be empty")
        if root1 != root2:
            raise ProofError(f"two trees of size {size1} have different roots")
        return
    if not proof:
        raise ProofError(f"empty consistency proof between sizes {size1} and {size2}")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # an exact power of two: the first tree's root is a node of the second
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof is longer than sizes {size1} and {size2} allow")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"consistency proof is shorter than sizes {size1} and {size2} need")
    if fr != root1:
        raise ProofError(f"the proof does not lead to the root of the first tree (size {size1})")
    if sr != root2:
        raise ProofError(f"the proof does not lead to the root of the second tree (size {size2})")

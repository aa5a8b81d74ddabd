"""RFC 9162 Merkle tree: roots against the recursive definition, inclusion proofs, tampering."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsar.audit.merkle import EMPTY_ROOT, MerkleTree, leaf_hash, node_hash, prefix_roots, root_of, verify_consistency, verify_inclusion


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1, literally."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hash(leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def leaves(n: int) -> list[bytes]:
    return [f"event-{i}".encode() for i in range(n)]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 100])
def test_roots_match_the_rfc_definition(n: int) -> None:
    data = leaves(n)
    hashes = [leaf_hash(d) for d in data]
    assert MerkleTree(hashes).root == mth(data) == root_of(hashes)


def test_the_empty_tree_hashes_the_empty_string() -> None:
    assert root_of([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_a_known_vector() -> None:
    # two leaves "a", "b": SHA-256(0x01 || SHA-256(0x00 a) || SHA-256(0x00 b))
    expected = hashlib.sha256(b"\x01" + hashlib.sha256(b"\x00a").digest() + hashlib.sha256(b"\x00b").digest()).hexdigest()
    assert root_of([leaf_hash(b"a"), leaf_hash(b"b")]).hex() == expected


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 300), data=st.data())
def test_every_inclusion_proof_verifies_and_no_other_position_does(n: int, data: st.DataObject) -> None:
    hashes = [leaf_hash(d) for d in leaves(n)]
    tree = MerkleTree(hashes)
    i = data.draw(st.integers(0, n - 1))
    path = tree.inclusion_proof(i)
    assert len(path) <= max(1, n - 1).bit_length()
    assert verify_inclusion(hashes[i], i, n, path, tree.root)
    if n > 1:
        j = data.draw(st.integers(0, n - 1).filter(lambda j: j != i))
        assert not verify_inclusion(hashes[i], j, n, path, tree.root)
        assert not verify_inclusion(hashes[j], i, n, path, tree.root)


def test_tampering_with_proof_root_or_size_fails() -> None:
    hashes = [leaf_hash(d) for d in leaves(13)]
    tree = MerkleTree(hashes)
    path = tree.inclusion_proof(6)
    assert verify_inclusion(hashes[6], 6, 13, path, tree.root)
    flipped = bytearray(path[1])
    flipped[0] ^= 1
    assert not verify_inclusion(hashes[6], 6, 13, [path[0], bytes(flipped), *path[2:]], tree.root)
    assert not verify_inclusion(hashes[6], 6, 13, path[:-1], tree.root)
    assert not verify_inclusion(hashes[6], 6, 13, path, root_of(hashes[:12]))
    assert not verify_inclusion(hashes[6], 13, 13, path, tree.root)
    with pytest.raises(IndexError):
        tree.inclusion_proof(13)


def test_every_consistency_proof_verifies_and_prefix_roots_match() -> None:
    """RFC 9162 2.1.4 for every pair of sizes up to 40: the proof verifies against the roots
    of the literal definition, and one pass gives every prefix root."""
    hashes = [leaf_hash(x) for x in leaves(40)]
    for n in range(1, 41):
        tree = MerkleTree(hashes[:n])
        roots = prefix_roots(hashes[:n], range(n + 1))
        assert roots[0] == EMPTY_ROOT
        assert tree.root_at(0) == EMPTY_ROOT
        for m in range(1, n + 1):
            first = mth(leaves(m))
            assert roots[m] == first == tree.root_at(m)
            proof = tree.consistency_proof(m)
            assert verify_consistency(m, n, first, tree.root, proof), (m, n)
            assert len(proof) <= 2 * n.bit_length()


def test_a_consistency_proof_fails_for_a_rewritten_prefix_or_a_tampered_proof() -> None:
    hashes = [leaf_hash(x) for x in leaves(13)]
    tree = MerkleTree(hashes)
    proof = tree.consistency_proof(6)
    first = root_of(hashes[:6])
    assert verify_consistency(6, 13, first, tree.root, proof)
    # the later tree rewrote event 2: the earlier root is no longer its prefix
    rewritten = MerkleTree([*hashes[:2], leaf_hash(b"forged"), *hashes[3:]])
    assert not verify_consistency(6, 13, first, rewritten.root, rewritten.consistency_proof(6))
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes(32)
        assert not verify_consistency(6, 13, first, tree.root, bad)
    assert not verify_consistency(6, 13, first, tree.root, proof[:-1])
    assert not verify_consistency(6, 13, first, tree.root, [*proof, bytes(32)])
    assert not verify_consistency(0, 13, EMPTY_ROOT, tree.root, [])
    assert not verify_consistency(14, 13, first, tree.root, proof)
    assert verify_consistency(13, 13, tree.root, tree.root, [])
    assert not verify_consistency(13, 13, tree.root, tree.root, [bytes(32)])
    with pytest.raises(IndexError):
        tree.consistency_proof(14)
    with pytest.raises(IndexError):
        tree.root_at(14)

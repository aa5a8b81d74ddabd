"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, inclusion proofs and their
verification (pure, standard library).

Leaves are the audit events' canonical bytes (:func:`dsar.audit.chain.leaf_bytes`): a leaf
hashes as ``SHA-256(0x00 || leaf)``, an interior node as ``SHA-256(0x01 || left || right)``,
and the tree over ``n`` leaves splits at the largest power of two below ``n`` (RFC 9162 2.1.1).
A signed tree head over the first ``n`` events commits to every one of them; an inclusion proof
shows one event is among them with ``log2(n)`` hashes (RFC 9162 2.1.3); a consistency proof
shows an earlier tree head's ``m`` events are the first ``m`` of the later one, unchanged
(RFC 9162 2.1.4): the log only grew.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleTree:
    """All levels of the tree over the given leaf hashes. Pairing left to right and carrying an
    odd last node up unchanged gives exactly RFC 9162's MTH for any size."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.size = len(leaf_hashes)
        self._levels: list[list[bytes]] = [list(leaf_hashes)]
        level = self._levels[0]
        while len(level) > 1:
            up = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                up.append(level[-1])
            self._levels.append(up)
            level = up

    @property
    def root(self) -> bytes:
        return self._levels[-1][0] if self.size else EMPTY_ROOT

    def inclusion_proof(self, index: int) -> list[bytes]:
        """The audit path of leaf ``index`` (RFC 9162 2.1.3.1), bottom-up."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} is not in a tree of {self.size}")
        path: list[bytes] = []
        i = index
        for level in self._levels[:-1]:
            sibling = i ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            i //= 2
        return path

    def root_at(self, size: int) -> bytes:
        """The root of the tree of the first ``size`` leaves (an earlier tree head), from the
        levels already built: ``log2(size)`` node hashes, no pass over the leaves."""
        if not 0 <= size <= self.size:
            raise IndexError(f"no tree of {size} inside a tree of {self.size}")
        return self._subtree_root(0, size) if size else EMPTY_ROOT

    def _subtree_root(self, lo: int, hi: int) -> bytes:
        """MTH of leaves ``lo`` to ``hi`` (``lo`` a multiple of the largest power of two below
        ``hi - lo``: a node of this tree, or the first leaves of it)."""
        width = hi - lo
        if width & (width - 1) == 0 and lo % width == 0:
            return self._levels[width.bit_length() - 1][lo // width]
        k = 1 << ((width - 1).bit_length() - 1)  # largest power of two below width
        return node_hash(self._subtree_root(lo, lo + k), self._subtree_root(lo + k, hi))

    def consistency_proof(self, first_size: int) -> list[bytes]:
        """RFC 9162 2.1.4.1 PROOF(m, D[n]): the nodes that prove the tree of the first
        ``first_size`` leaves is a prefix of this one."""
        if not 0 < first_size <= self.size:
            raise IndexError(f"no consistency proof from {first_size} to a tree of {self.size}")
        proof: list[bytes] = []

        def subproof(m: int, lo: int, hi: int, whole: bool) -> None:
            if m == hi - lo:
                if not whole:
                    proof.append(self._subtree_root(lo, hi))
                return
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            if m <= k:
                subproof(m, lo, lo + k, whole)
                proof.append(self._subtree_root(lo + k, hi))
            else:
                subproof(m - k, lo + k, hi, False)
                proof.append(self._subtree_root(lo, lo + k))

        subproof(first_size, 0, self.size, True)
        return proof


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 MTH without keeping the levels (a stack of at most log2(n) subtree roots)."""
    size = len(leaf_hashes)
    return prefix_roots(leaf_hashes, (size,))[size]


def prefix_roots(leaf_hashes: Iterable[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """The RFC 9162 roots of the first ``m`` leaves for each ``m`` in ``sizes``, in one pass:
    a stack of the complete subtrees so far (at most log2(n)), folded right to left at each
    wanted size."""
    wanted = set(sizes)
    roots = {0: EMPTY_ROOT} if 0 in wanted else {}
    stack: list[tuple[int, bytes]] = []
    count = 0
    for h in leaf_hashes:
        height, node = 0, h
        while stack and stack[-1][0] == height:
            _, left = stack.pop()
            node, height = node_hash(left, node), height + 1
        stack.append((height, node))
        count += 1
        if count in wanted:
            folded = stack[-1][1]
            for _, left in reversed(stack[:-1]):
                folded = node_hash(left, folded)
            roots[count] = folded
    return roots


def verify_consistency(first_size: int, second_size: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: does ``proof`` show the tree of ``first_size`` leaves with root
    ``first_root`` is the prefix of the tree of ``second_size`` leaves with root ``second_root``?"""
    if not 0 < first_size <= second_size:
        return False
    if first_size == second_size:
        return not proof and first_root == second_root
    path = list(proof)
    if first_size & (first_size - 1) == 0:
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first_size - 1, second_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def verify_inclusion(leaf: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2: does ``path`` prove the leaf hash ``leaf`` is at ``index`` in the tree
    of ``tree_size`` leaves whose root is ``root``?"""
    if not 0 <= index < tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root

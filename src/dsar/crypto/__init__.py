"""Cryptography for dsar: the only package that imports ``cryptography``."""

from dsar.crypto.fields import BlindIndex, digests_equal, keyed_digest, open_sealed, seal
from dsar.crypto.keys import KeyProvider, KmsKeyProvider, LocalKeyProvider, new_data_key

__all__ = [
    "BlindIndex",
    "KeyProvider",
    "KmsKeyProvider",
    "LocalKeyProvider",
    "digests_equal",
    "keyed_digest",
    "new_data_key",
    "open_sealed",
    "seal",
]

"""ML-Git's content identifiers: CIDv1, codec dag-pb, sha2-256 multihash, base58btc.

ML-Git 2.9.9 (``MultihashFS``) cuts a file into 256 KiB chunks, keys each chunk by the CID of
its bytes, and keys the file by the CID of a JSON descriptor listing the chunks. This module is
that scheme and nothing else. Hand-written (it is 30 lines): py-cid/multiformats are ~20x slower
per call, which matters at one call per chunk.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .errors import DescriptorError, InvalidKey

BLOCK_SIZE = 256 * 1024
_PREFIX = bytes([0x01, 0x70, 0x12, 0x20])  # CIDv1, dag-pb, sha2-256, 32-byte digest
_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58encode(raw: bytes) -> str:
    n = int.from_bytes(raw, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_ALPHABET[r])
    pad = len(raw) - len(raw.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def cid_from_digest(digest: bytes) -> str:
    return "z" + _b58encode(_PREFIX + digest)


def cid_of(data: bytes) -> str:
    """The CID ML-Git gives these bytes (a chunk or a descriptor)."""
    return cid_from_digest(hashlib.sha256(data).digest())


#: every CIDv1/dag-pb/sha2-256 in base58btc is "z" + 48 characters starting "dj7W" (fixed prefix bytes)
_CID_RE = re.compile(r"zdj7W[1-9A-HJ-NP-Za-km-z]{44}\Z")


def is_cid(text: str) -> bool:
    """True when ``text`` is a well-formed ML-Git CID (safe to use as a file name or key)."""
    return isinstance(text, str) and _CID_RE.match(text) is not None


#: each base58btc character's value, indexed by its byte (the characters of a CID are ASCII)
_VALUES = bytes(_ALPHABET.index(chr(b)) if chr(b) in _ALPHABET else 0 for b in range(256))
_PREFIX_INT = int.from_bytes(_PREFIX, "big") << 256


def cid_matches(key: str, data: bytes | bytearray) -> bool:
    """``cid_of(data) == key``, checked the other way round: ``key``'s number (base58 decoded, half the
    cost of encoding the digest) against the prefix and the SHA-256 of ``data``. Exact: a CID's 48
    characters after "z" start with "d" (no leading zero digit), so one number has one spelling."""
    if not is_cid(key):
        return False
    n = 0
    for d in key[1:].encode().translate(_VALUES):
        n = n * 58 + d
    return n == _PREFIX_INT | int.from_bytes(hashlib.sha256(data).digest(), "big")


def require_cid(key: object, where: str) -> str:
    """``key`` when it is a CID, else ``InvalidKey``: checked before a key is used as a path or a storage key."""
    if not is_cid(key):  # type: ignore[arg-type]
        shown = repr(key)[:80] if isinstance(key, str) else type(key).__name__
        raise InvalidKey(f"{where}: expected an object key (a CID, zdj7W...), found {shown}")
    return key  # type: ignore[return-value]


#: the largest chunk a descriptor may name: ML-Git cuts 256 KiB chunks; room for other block sizes
MAX_CHUNK = 4 * BLOCK_SIZE


def descriptor_bytes(links: list[tuple[str, int]]) -> bytes:
    """The JSON descriptor of a file, byte for byte as ML-Git writes it."""
    return json.dumps({"Links": [{"Hash": h, "Size": s} for h, s in links]}).encode()


def parse_descriptor(data: bytes, where: str = "descriptor") -> list[tuple[str, int]]:
    """The chunks ``[(CID, size), ...]`` of a descriptor, every link checked (a CID, 1..MAX_CHUNK bytes)
    before any of them is used: a descriptor comes from an untrusted bucket."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DescriptorError(
            f"{where}: expected a JSON descriptor {{'Links': [...]}}, found malformed JSON"
        ) from exc
    links = doc.get("Links") if isinstance(doc, dict) else None
    if not isinstance(links, list):
        raise DescriptorError(
            f"{where}: expected a JSON descriptor {{'Links': [...]}}, found {type(doc).__name__}"
        )
    out = []
    for i, link in enumerate(links):
        if not isinstance(link, dict):
            raise DescriptorError(
                f"{where}: link {i}: expected {{'Hash': CID, 'Size': n}}, found {type(link).__name__}"
            )
        key = require_cid(link.get("Hash"), f"{where}: link {i}")
        size = link.get("Size")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_CHUNK:
            raise DescriptorError(
                f"{where}: link {i} ({key}): expected a size of 1..{MAX_CHUNK} bytes, found {str(size)[:40]}"
            )
        out.append((key, size))
    return out


@dataclass(frozen=True)
class Chunk:
    cid: str
    data: bytes


@dataclass(frozen=True)
class FileObjects:
    """A file cut the ML-Git way: its key, its descriptor and its chunks' keys."""

    cid: str
    descriptor: bytes
    chunks: tuple[str, ...]
    size: int


def iter_chunks(fh: BinaryIO, block_size: int = BLOCK_SIZE) -> Iterator[Chunk]:
    while True:
        data = fh.read(block_size)
        if not data:
            return
        yield Chunk(cid_of(data), data)


def hash_file(path: str | os.PathLike[str], sink=None, block_size: int = BLOCK_SIZE) -> FileObjects:
    """Cut and hash a file, streaming; ``sink(chunk)`` receives every chunk (to store it)."""
    links: list[tuple[str, int]] = []
    size = 0
    with open(path, "rb") as fh:
        for chunk in iter_chunks(fh, block_size):
            links.append((chunk.cid, len(chunk.data)))
            size += len(chunk.data)
            if sink is not None:
                sink(chunk)
    desc = descriptor_bytes(links)
    return FileObjects(cid_of(desc), desc, tuple(h for h, _ in links), size)

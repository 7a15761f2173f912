"""Xet storage for the tests' fake hub: real xorbs and shards, and the CAS's read API over them.

The objects are made by hf-xet itself: an upload to a local CAS directory (``XetSession().new_upload_commit(
endpoint="local://<dir>")``, hf-xet's ``data.local_cas_scheme``) does the real content-defined chunking,
compression and hashing and writes ``<dir>/xet/xorbs/xorbs/default.<xorb hash>`` (serialized xorbs) and
``<dir>/xet/xorbs/shards/<hash>.mdb`` (shards). This module only reads them back, following the Xet
specification (https://huggingface.co/docs/xet, from hub-docs ``docs/xet/``):

- ``shard.md``: a 48-byte header, then the file info section: per file a ``FileDataSequenceHeader`` (file
  hash, u32 flags, u32 entry count, padding: 48 bytes), its ``FileDataSequenceEntry`` terms (xorb hash,
  u32 flags, u32 unpacked bytes, u32 first chunk, u32 end chunk, exclusive), then one verification entry
  per term if flag ``1 << 31`` and one metadata entry (the file's sha256) if flag ``1 << 30``; a bookend
  of 0xFF bytes ends the section. Every record is 48 bytes, little-endian.
- ``xorb.md``: chunks one after another, each an 8-byte header (version u8, compressed size u24, scheme
  u8: 0 none, 1 LZ4, 2 byte-grouping + LZ4, uncompressed size u24) and its data.
- ``api.md``: a hash as a string is its four 8-byte words, each printed as a little-endian u64 in hex;
  ``GET /v1/reconstructions/{file hash}`` (Bearer token, optional ``Range: bytes=a-b`` of the file) answers
  ``{offset_into_first_range, terms: [{hash, unpacked_length, range{start,end}}], fetch_info: {xorb hash:
  [{range, url, url_range{start,end}}]}}`` where ``url_range`` is the inclusive byte range of the chunks in
  the serialized xorb; 416 when the range starts past the end.

The content is produced once per process and kept in memory (a test model's files are small).
"""

from __future__ import annotations

import hashlib
import struct
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

_RECORD = 48
_WITH_VERIFICATION = 1 << 31
_WITH_METADATA = 1 << 30
_BOOKEND = b"\xff" * 32
CHUNK_HEADER = 8


def hash_string(raw: bytes) -> str:
    """api.md "Converting Hashes to Strings": each 8-byte word as a little-endian u64, in hex."""
    return "".join(f"{struct.unpack('<Q', raw[i : i + 8])[0]:016x}" for i in range(0, 32, 8))


@dataclass(frozen=True)
class Term:
    xorb: str
    unpacked: int
    chunk_start: int
    chunk_end: int  # exclusive


@dataclass
class XetFile:
    file_hash: str
    sha256: str | None  # from the shard's metadata extension
    terms: tuple[Term, ...]
    xorbs: dict[str, bytes]
    _offsets: dict[str, list[int]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(t.unpacked for t in self.terms)

    def chunk_offset(self, xorb: str, chunk: int) -> int:
        """Byte offset of a chunk (or of the end, for chunk == count) in the serialized xorb."""
        offsets = self._offsets.get(xorb)
        if offsets is None:
            data, offsets, at = self.xorbs[xorb], [0], 0
            while at < len(data):
                at += CHUNK_HEADER + int.from_bytes(data[at + 1 : at + 4], "little")
                offsets.append(at)
            self._offsets[xorb] = offsets
        return offsets[chunk]

    def reconstruction(self, first: int, last: int, url: str) -> dict[str, object]:
        """The V1 reconstruction of bytes first..last (inclusive) of the file; xorbs at ``url + hash``."""
        terms: list[dict[str, object]] = []
        fetch: dict[str, list[dict[str, object]]] = {}
        position, start_of_first = 0, None
        for term in self.terms:
            if position + term.unpacked > first and position <= last:
                if start_of_first is None:
                    start_of_first = position
                chunks = {"start": term.chunk_start, "end": term.chunk_end}
                terms.append({"hash": term.xorb, "unpacked_length": term.unpacked, "range": chunks})
                fetch.setdefault(term.xorb, []).append(
                    {
                        "range": chunks,
                        "url": url + term.xorb,
                        "url_range": {
                            "start": self.chunk_offset(term.xorb, term.chunk_start),
                            "end": self.chunk_offset(term.xorb, term.chunk_end) - 1,
                        },
                    }
                )
            position += term.unpacked
        return {"offset_into_first_range": first - (start_of_first or 0), "terms": terms, "fetch_info": fetch}


def parse_shard(data: bytes) -> dict[str, XetFile]:
    """The file info section of a shard: file hash -> its terms (xorbs not loaded)."""
    files: dict[str, XetFile] = {}
    at = _RECORD
    while True:
        raw_hash = data[at : at + 32]
        flags, count = struct.unpack("<II", data[at + 32 : at + 40])
        at += _RECORD
        if raw_hash == _BOOKEND:
            return files
        terms = []
        for _ in range(count):
            _flags, unpacked, start, end = struct.unpack("<IIII", data[at + 32 : at + 48])
            terms.append(Term(hash_string(data[at : at + 32]), unpacked, start, end))
            at += _RECORD
        if flags & _WITH_VERIFICATION:
            at += _RECORD * count
        sha256 = None
        if flags & _WITH_METADATA:
            sha256 = hash_string(data[at : at + 32])  # stored like the Xet hashes
            at += _RECORD
        files[hash_string(raw_hash)] = XetFile(hash_string(raw_hash), sha256, tuple(terms), {})


_cache: dict[str, XetFile] = {}
_cache_lock = threading.Lock()


def xet_file(content: bytes) -> XetFile:
    """The Xet form of ``content``, made by hf-xet's own upload to a local CAS (once per process)."""
    key = hashlib.sha256(content).hexdigest()
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _upload(content)
        return _cache[key]


def _upload(content: bytes) -> XetFile:
    import hf_xet

    with tempfile.TemporaryDirectory(prefix="fake-xet-") as tmp:
        source = Path(tmp) / "content"
        source.write_bytes(content)
        cas = Path(tmp) / "cas"
        # One directory per file, so no xorb is shared between files (faults are per file).
        with hf_xet.XetSession().new_upload_commit(endpoint=f"local://{cas}") as commit:
            upload = commit.start_upload_file(str(source))
        file_hash = upload.result().xet_info.hash
        found: dict[str, XetFile] = {}
        for shard in (cas / "xet" / "xorbs" / "shards").glob("*.mdb"):
            found.update(parse_shard(shard.read_bytes()))
        xet = found[file_hash]
        for path in (cas / "xet" / "xorbs" / "xorbs").glob("default.*"):
            if path.suffix != ".tagset":
                xet.xorbs[path.name.split(".", 1)[1]] = path.read_bytes()
    if xet.sha256 not in (None, hashlib.sha256(content).hexdigest()) or xet.size != len(content):
        raise AssertionError("hf-xet's local CAS layout is not what fake_xet.py reads")
    return xet


def flip_payload_byte(body: bytes) -> bytes:
    """Bit rot in a xorb range: one byte of the first chunk's data flipped. Only an uncompressed chunk
    (scheme 0, what random weights get) still decodes, so hf-xet writes it out without noticing."""
    if len(body) <= CHUNK_HEADER or body[4] != 0:
        raise AssertionError("flip_payload_byte needs a range starting with an uncompressed chunk")
    at = CHUNK_HEADER + int.from_bytes(body[1:4], "little") // 2
    return body[:at] + bytes([body[at] ^ 0xFF]) + body[at + 1 :]

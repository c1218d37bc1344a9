"""Readers for the three source formats. Each yields parsed edges and counts what it skips.

A reader yields ``(relation, start_uri, end_uri, etc_json)`` tuples where relation is the
canonical CamelCase name and ``etc_json`` is the JSON text stored in conceptnet-lite's
``edge.etc``. Everything skipped is recorded in a :class:`LineLog` by reason, with sampled
line numbers, so the ingest report can say exactly what was dropped and where.
"""

from __future__ import annotations

import csv
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from mmrakit.errors import InputError
from .normalize import normalize_concept
from .ontology import relation_name

Format = Literal["conceptnet-csv", "kgtk", "pack"]
ParsedEdge = tuple[str, str, str, str]
SAMPLES_PER_REASON = 10

# /c/<lang>/<text>[/<pos>[/<sense source>/<sense>]]: lang is 2-3 letters (+ optional subtag).
CONCEPT_RE = re.compile(r"^/c/[a-z]{2,3}(?:-[A-Za-z0-9]+)?/[^/\s]+(?:/[^\s]*)?$")
URL_RE = re.compile(r"^https?://\S+$")
# KGTK/CSKG merged node ids: "/c/en/club+vg:club+rg:club" -> split before each prefixed id.
KGTK_SPLIT_RE = re.compile(r"\+(?=/c/|[A-Za-z]{1,6}:)")


@dataclass
class LineLog:
    """What a reader skipped: malformed lines (by reason) and lines filtered out on purpose."""

    lines: int = 0
    malformed: dict[str, int] = field(default_factory=dict)
    filtered: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[int]] = field(default_factory=dict)

    def bad(self, reason: str, lineno: int) -> None:
        self.malformed[reason] = self.malformed.get(reason, 0) + 1
        sample = self.samples.setdefault(reason, [])
        if len(sample) < SAMPLES_PER_REASON:
            sample.append(lineno)

    def skip(self, reason: str, n: int = 1) -> None:
        if n:
            self.filtered[reason] = self.filtered.get(reason, 0) + n


def detect_format(path: Path) -> Format:
    name = path.name.lower().removesuffix(".gz")
    with open_binary(path) as fh:
        head = fh.readline()
    if head.startswith(b"node1\t") or head.startswith(b"id\tnode1\t"):
        return "kgtk"
    if head.startswith(b"/a/[") and head.count(b"\t") == 4:
        return "conceptnet-csv"
    if name.endswith(".csv") and head.count(b"\t") == 4:
        return "conceptnet-csv"
    return "pack"


class GzipStream:
    """Minimal read-only gzip stream over zlib (multi-member aware): about twice as fast as
    :mod:`gzip` for big sequential reads, which is most of the cost of filtering a dump."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "rb")
        self._z = zlib.decompressobj(wbits=47)

    def read(self, size: int = -1) -> bytes:
        while True:
            block = self._fh.read(1 << 18)
            if not block:
                if not self._z.eof:
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
                return b""
            try:
                out = self._z.decompress(block)
                while self._z.eof and self._z.unused_data:  # concatenated gzip members
                    rest = self._z.unused_data
                    self._z = zlib.decompressobj(wbits=47)
                    out += self._z.decompress(rest)
            except zlib.error as exc:
                raise OSError(f"corrupt gzip data: {exc}") from None
            if out:
                return out

    def readline(self) -> bytes:
        head = self.read()
        return head.split(b"\n", 1)[0] + b"\n" if head else b""

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "GzipStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_binary(path: Path) -> BinaryIO:
    """The source as a binary stream (transparently gunzipped); never modifies or deletes it."""
    try:
        with open(path, "rb") as probe:
            magic = probe.read(2)
        if magic == b"\x1f\x8b":
            return GzipStream(path)  # type: ignore[return-value]
        return open(path, "rb", buffering=1 << 20)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})", hint="check the path and its permissions") from None


def lang_prefixes(languages: list[str]) -> tuple[bytes, ...] | None:
    return tuple(f"/c/{lang}/".encode() for lang in languages) if languages else None


def iter_chunks(fh: BinaryIO, size: int = 1 << 22) -> Iterator[list[bytes]]:
    """Lines in big batches: one C-level split per 4 MiB instead of one Python call per line."""
    rest = b""
    while block := fh.read(size):
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        yield lines
    if rest:
        yield [rest]


def read_conceptnet_csv(fh: BinaryIO, log: LineLog, languages: list[str], keep_external_urls: bool) -> Iterator[ParsedEdge]:
    """The official 5-column assertions dump. Lines dropped by the language filter are only
    checked for their column count (and URI shape), so filtering 90% of a 34M-line dump stays cheap."""
    prefixes = lang_prefixes(languages)
    rel_cache: dict[bytes, str | None] = {}
    external = b"/r/ExternalURL"
    concept_prefix = b"/c/"
    filtered_lang = filtered_url = 0
    lineno = 0
    concept_match = CONCEPT_RE.match
    loads = json.loads
    for lines in iter_chunks(fh):
        for raw in lines:
            lineno += 1
            parts = raw.split(b"\t")
            if len(parts) != 5:
                log.bad("empty" if not raw.strip() else "wrong_column_count", lineno)
                continue
            rel_b = parts[1]
            if rel_b == external:
                if not keep_external_urls:
                    filtered_url += 1
                    continue
                if prefixes is not None and not parts[2].startswith(prefixes):
                    filtered_lang += 1
                    continue
            elif prefixes is not None and not (parts[2].startswith(prefixes) and parts[3].startswith(prefixes)):
                if parts[2].startswith(concept_prefix) and parts[3].startswith(concept_prefix):
                    filtered_lang += 1
                else:
                    log.bad("bad_uri", lineno)
                continue
            try:
                start = parts[2].decode("utf-8")
                end = parts[3].decode("utf-8")
                meta_s = parts[4].decode("utf-8").rstrip("\r")
            except UnicodeDecodeError:
                log.bad("invalid_utf8", lineno)
                continue
            name = rel_cache.get(rel_b, "")
            if name == "":
                rel_s = rel_b.decode("utf-8", "replace")
                name = rel_cache[rel_b] = relation_name(rel_s) if rel_s.startswith("/r/") else None
            if name is None:
                log.bad("unknown_relation" if rel_b.startswith(b"/r/") else "bad_uri", lineno)
                continue
            if not concept_match(start) or not (concept_match(end) or (rel_b == external and URL_RE.match(end))):
                log.bad("bad_uri", lineno)
                continue
            try:
                meta = loads(meta_s)
            except ValueError:
                log.bad("bad_json", lineno)
                continue
            if meta.__class__ is not dict or not isinstance(meta.get("weight", 1.0), (int, float)):
                log.bad("bad_json", lineno)
                continue
            yield name, start, end, meta_s
    log.lines = lineno
    log.skip("language", filtered_lang)
    log.skip("external_url", filtered_url)


def _decoded_lines(fh: BinaryIO, log: LineLog) -> Iterator[tuple[int, str]]:
    lineno = 0
    for lines in iter_chunks(fh):
        for raw in lines:
            lineno += 1
            try:
                line = raw.decode("utf-8").rstrip("\r")
            except UnicodeDecodeError:
                log.bad("invalid_utf8", lineno)
                continue
            if not line.strip():
                log.bad("empty", lineno)
                continue
            yield lineno, line
    log.lines = lineno


def _keep(uri: str, languages: list[str]) -> bool:
    return not languages or uri.split("/", 3)[2] in languages


def _weight(text: str) -> float | None:
    if not text.strip():
        return 1.0
    try:
        w = float(text)
    except ValueError:
        return None
    return w if w == w and abs(w) != float("inf") else None


def read_kgtk(fh: BinaryIO, log: LineLog, languages: list[str], keep_external_urls: bool) -> Iterator[ParsedEdge]:
    """KGTK edge files (CSKG): ``node1 label node2 [datasource] [weight]`` with a header line.

    Merged node ids (``/c/en/club+vg:club+rg:club``) are split and their ConceptNet parts kept;
    nodes with no ConceptNet part (``rg:``/``at:``/``vg:``... only) and non-ConceptNet relations
    (``vg:InImage``, ``rdfs:subClassOf``, ``at:xWant``) are skipped with a count.
    """
    lines = _decoded_lines(fh, log)
    header_line = next(lines, None)
    if header_line is None:
        return
    header = header_line[1].split("\t")
    try:
        i1, il, i2 = header.index("node1"), header.index("label"), header.index("node2")
    except ValueError:
        raise InputError("KGTK file: the header must name node1, label and node2 columns",
                         hint=f"line 1 has: {header_line[1][:200]!r}") from None
    isrc = next((header.index(c) for c in ("datasource", "source", "dataset") if c in header), None)
    iw = header.index("weight") if "weight" in header else None
    for lineno, line in lines:
        cols = line.split("\t")
        if len(cols) < 3 or len(cols) > len(header):
            log.bad("wrong_column_count", lineno)
            continue
        label = cols[il]
        if not label.startswith("/r/"):
            log.skip("non_conceptnet_relation")
            continue
        name = relation_name(label)
        if name is None:
            log.bad("unknown_relation", lineno)
            continue
        if name == "ExternalURL" and not keep_external_urls:
            log.skip("external_url")
            continue
        starts = [p for p in KGTK_SPLIT_RE.split(cols[i1]) if p.startswith("/c/")]
        ends = [p for p in KGTK_SPLIT_RE.split(cols[i2]) if p.startswith("/c/")]
        if not starts or not ends:
            log.skip("non_conceptnet_node")
            continue
        if not all(CONCEPT_RE.match(u) for u in (*starts, *ends)):
            log.bad("bad_uri", lineno)
            continue
        weight = _weight(cols[iw]) if iw is not None and iw < len(cols) else 1.0
        if weight is None:
            log.bad("bad_weight", lineno)
            continue
        datasource = cols[isrc] if isrc is not None and isrc < len(cols) and cols[isrc] else "unknown"
        meta = json.dumps({"dataset": f"/d/cskg/{datasource.lower()}", "weight": weight,
                           "sources": [{"contributor": f"/s/resource/cskg/{datasource.lower()}"}]})
        kept = 0
        for s in starts:
            for e in ends:
                if _keep(s, languages) and _keep(e, languages):
                    kept += 1
                    yield name, s, e, meta
        if not kept:
            log.skip("language")


PACK_COLUMNS = ("start", "relation", "end", "weight", "surface_text", "source")


def read_pack(fh: BinaryIO, log: LineLog, languages: list[str], keep_external_urls: bool, *, dataset: str,
              delimiter: str = "\t", lang: str = "en") -> Iterator[ParsedEdge]:
    """A user's relation pack: ``start, relation, end[, weight[, surface text[, source]]]``, one edge per
    line, tab- or comma-separated, optional header. Concepts may be text ("dining table") or URIs;
    relations any spelling of a ConceptNet 5.7 relation. Edges carry the pack's own dataset id."""
    first = True
    for lineno, line in _decoded_lines(fh, log):
        if line.lstrip().startswith("#"):
            continue
        cols = next(csv.reader([line], delimiter=delimiter)) if delimiter == "," else line.split("\t")
        cols = [c.strip() for c in cols]
        if first:
            first = False
            if [c.lower().replace(" ", "_") for c in cols[:3]] == list(PACK_COLUMNS[:3]):
                continue
        if not 3 <= len(cols) <= 6:
            log.bad("wrong_column_count", lineno)
            continue
        start_t, rel_t, end_t = cols[:3]
        name = relation_name(rel_t)
        if name is None:
            log.bad("unknown_relation", lineno)
            continue
        try:
            start, end = normalize_concept(start_t, lang), normalize_concept(end_t, lang)
        except ValueError:
            log.bad("bad_uri", lineno)
            continue
        if not CONCEPT_RE.match(start) or not CONCEPT_RE.match(end):
            log.bad("bad_uri", lineno)
            continue
        weight = _weight(cols[3]) if len(cols) > 3 else 1.0
        if weight is None:
            log.bad("bad_weight", lineno)
            continue
        if not (_keep(start, languages) and _keep(end, languages)):
            log.skip("language")
            continue
        meta: dict = {"dataset": dataset, "license": "user-supplied", "weight": weight,
                      "sources": [{"contributor": cols[5] if len(cols) > 5 and cols[5] else dataset}]}
        if len(cols) > 4 and cols[4]:
            meta["surfaceText"] = cols[4]
        yield name, start, end, json.dumps(meta, ensure_ascii=False)


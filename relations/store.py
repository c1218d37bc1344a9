"""Read side of the relation store: neighbours, shared targets, k-hop reachability.

Concepts are addressed by their *base* URI (``/c/en/knife``): sense-tagged variants
(``/c/en/knife/n/wn/artifact``) are merged into it, which is what image grounding needs.
Edges come back as :class:`mmrakit.models.Edge` with base start/end URIs; the assertion
``uri`` keeps the original sense-tagged URIs. Symmetric relations are answered in both
directions. Duplicates (the same relation/start/end from several senses or sources) are merged,
keeping the highest weight.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mmrakit.errors import InputError, WorkspaceError
from mmrakit.models import Edge
from .normalize import candidate_uris, split_uri
from .ontology import RELATIONS, SNAKE_TO_NAME, relation

if TYPE_CHECKING:
    from mmrakit.workspace import Workspace

Direction = Literal["out", "in", "both"]

# One side of a concept's edges. The anchor is the asked concept (its label is known, so only
# the other end's label is joined); {flip} marks symmetric edges answered the other way round.
_EDGE_SQL = """
SELECT {{flip}}, {anchor_is_start}, e.relation_id, e.etc, e.source_id, a.sense_label,
       lo.text, lo.language_id, o.sense_label
FROM concept a
JOIN edge e ON e.{anchor_col} = a.id
JOIN concept o ON o.id = e.{other_col}
JOIN label lo ON lo.id = o.label_id
WHERE a.label_id = ?
"""
_OUT_SQL = _EDGE_SQL.format(anchor_is_start=1, anchor_col="start_id", other_col="end_id")
_IN_SQL = _EDGE_SQL.format(anchor_is_start=0, anchor_col="end_id", other_col="start_id")

_HOP_SQL = {
    "out": "SELECT DISTINCT ce.label_id FROM concept cs JOIN edge e ON e.start_id = cs.id "
           "JOIN concept ce ON ce.id = e.end_id WHERE cs.label_id = ?",
    "in": "SELECT DISTINCT cs.label_id FROM concept ce JOIN edge e ON e.end_id = ce.id "
          "JOIN concept cs ON cs.id = e.start_id WHERE ce.label_id = ?",
}


class RelationStore:
    """Queries over a conceptnet-lite-schema SQLite store built by ``mmrakit relations ingest``."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        if not self.db_path.is_file():
            raise InputError(f"{self.db_path}: no relation store there",
                             hint="build one with `mmrakit relations ingest SOURCE`")
        self._local = threading.local()
        self._load_tables()

    @classmethod
    def open(cls, ws: "Workspace") -> "RelationStore":
        """The workspace's store; WorkspaceError with a hint when nothing has been ingested yet."""
        path = ws.resolve(ws.settings.relations.db_file)
        hint = ("ingest a source first: `mmrakit relations ingest DUMP.csv.gz`, or the bundled English subset: "
                "`mmrakit relations ingest --bundled`")
        if not path.is_file():
            raise WorkspaceError(f"{ws.root}: no relations ingested yet ({path} does not exist)", hint=hint)
        store = cls(path)
        if store._conn.execute("SELECT 1 FROM edge LIMIT 1").fetchone() is None:
            raise WorkspaceError(f"{ws.root}: the relation store {path} holds no edges", hint=hint)
        return store

    # --- connection and small lookup tables --------------------------------------------------

    @property
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.db_path), timeout=30.0, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA cache_size=-65536")
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _load_tables(self) -> None:
        c = self._conn
        self._lang_name = {i: n for i, n in c.execute("SELECT id, name FROM language")}
        self._lang_id = {n: i for i, n in self._lang_name.items()}
        self._rel_name: dict[int, str] = {}
        for i, snake in c.execute("SELECT id, name FROM relation"):
            self._rel_name[i] = SNAKE_TO_NAME.get(snake, snake)
        self._rel_id = {n: i for i, n in self._rel_name.items()}
        self._sym_ids = [i for i, n in self._rel_name.items() if n in RELATIONS and RELATIONS[n].symmetric]
        self._has_source = "source_id" in {row[1] for row in c.execute('PRAGMA table_info("edge")')}
        try:
            self._source_name = {i: n for i, n in c.execute("SELECT id, name FROM mmrakit_source")}
        except sqlite3.OperationalError:  # a DB built by conceptnet-lite's own loader
            self._source_name = {}

    def _label_id(self, uri: str) -> int | None:
        lang, text, _ = split_uri(uri)
        lang_id = self._lang_id.get(lang)
        if lang_id is None:
            return None
        row = self._conn.execute("SELECT id FROM label WHERE text = ? AND language_id = ? LIMIT 1", (text, lang_id)).fetchone()
        return row[0] if row else None

    # --- concepts ------------------------------------------------------------------------------

    def resolve(self, concept: str, lang: str = "en") -> str | None:
        """The known base URI for text or a URI (trying singular, then as-written forms), else None."""
        found = self._resolve(concept, lang)
        return found[0] if found else None

    def _resolve(self, concept: str, lang: str) -> tuple[str, int] | None:
        try:
            candidates = candidate_uris(concept, lang)
        except ValueError:
            return None
        for uri in candidates:
            label_id = self._label_id(uri)
            if label_id is not None:
                return uri, label_id
        return None

    def is_known(self, concept: str, lang: str = "en") -> bool:
        return self.resolve(concept, lang) is not None

    def concepts(self, lang: str = "en") -> Iterator[str]:
        """Every known base concept URI in ``lang`` (streamed; used by entity grounding)."""
        lang_id = self._lang_id.get(lang)
        if lang_id is None:
            return
        cur = self._conn.execute("SELECT DISTINCT text FROM label WHERE language_id = ? ORDER BY text", (lang_id,))
        for (text,) in cur:
            yield f"/c/{lang}/{text}"

    # --- edges ---------------------------------------------------------------------------------

    def neighbours(
        self,
        concept: str,
        rel: str | None = None,
        direction: Direction = "out",
        limit: int | None = None,
        *,
        lang: str = "en",
    ) -> list[Edge]:
        """Edges touching ``concept`` (text or URI), strongest first.

        ``direction="out"``: the concept is the start; ``"in"``: the end; ``"both"``: either, as stored.
        Symmetric relations (Synonym, SimilarTo, LocatedNear, ...) are answered in both directions,
        oriented so the concept is on the asked side.
        """
        if direction not in ("out", "in", "both"):
            raise InputError(f"direction must be out, in or both, not {direction!r}")
        found = self._resolve(concept, lang)
        if found is None:
            return []
        anchor_uri, label_id = found
        rel_filter: int | None = None
        if rel is not None:
            spec = relation(rel)
            rel_filter = self._rel_id.get(spec.name)
            if rel_filter is None:
                return []
        # One statement: the asked side as stored (flip 0), plus, for out/in, symmetric edges
        # stored the other way round (flip 1), which are answered oriented to the asked side.
        parts: list[tuple[str, list]] = []
        if direction in ("out", "both"):
            parts.append(self._edge_sql(_OUT_SQL, 0, label_id, rel_filter))
        if direction in ("in", "both"):
            parts.append(self._edge_sql(_IN_SQL, 0, label_id, rel_filter))
        if direction == "out":
            parts.append(self._edge_sql(_IN_SQL, 1, label_id, rel_filter, symmetric_only=True))
        elif direction == "in":
            parts.append(self._edge_sql(_OUT_SQL, 1, label_id, rel_filter, symmetric_only=True))
        parts = [p for p in parts if p[0]]
        sql = " UNION ALL ".join(p[0] for p in parts)
        rows = self._conn.execute(sql, [a for p in parts for a in p[1]]).fetchall() if sql else []
        best: dict[tuple[str, str, str], Edge] = {}
        for row in rows:
            edge = self._to_edge(row, anchor_uri)
            key = (edge.relation, edge.start, edge.end)
            if key not in best or edge.weight > best[key].weight:
                best[key] = edge
        edges = sorted(best.values(), key=lambda e: (-e.weight, e.relation, e.start, e.end))
        return edges[:limit] if limit is not None else edges

    def _edge_sql(self, sql: str, flip: int, label_id: int, rel_id: int | None, *,
                  symmetric_only: bool = False) -> tuple[str, list]:
        """One SELECT of the union; ('', []) when it cannot match. ``+e.relation_id`` keeps SQLite
        from scanning the whole relation index instead of the concept's few edges."""
        sql = sql.replace("{flip}", str(flip), 1)
        if not self._has_source:  # a DB built by conceptnet-lite's own loader
            sql = sql.replace("e.source_id", "NULL", 1)
        args: list = [label_id]
        if rel_id is not None:
            if symmetric_only and rel_id not in self._sym_ids:
                return "", []
            sql += " AND +e.relation_id = ?"
            args.append(rel_id)
        elif symmetric_only:
            if not self._sym_ids:
                return "", []
            sql += f" AND +e.relation_id IN ({','.join('?' * len(self._sym_ids))})"
            args += self._sym_ids
        return sql, args

    def _uri(self, text: str, lang_id: int | None, sense: str) -> tuple[str, str]:
        """(full URI, base URI) of one stored concept; ExternalURL ends are stored as the URL itself."""
        if sense == "url" and lang_id is None:
            return text, text
        base = f"/c/{self._lang_name.get(lang_id, '?')}/{text}"
        return (f"{base}/{sense}" if sense else base), base

    def _to_edge(self, row: tuple, anchor_base: str) -> Edge:
        flip, anchor_is_start, rel_id, etc, source_id, a_sense, o_text, o_lang, o_sense = row
        name = self._rel_name.get(rel_id, str(rel_id))
        a_full = f"{anchor_base}/{a_sense}" if a_sense else anchor_base
        o_full, o_base = self._uri(o_text, o_lang, o_sense)
        if anchor_is_start:
            s_full, s_base, e_full, e_base = a_full, anchor_base, o_full, o_base
        else:
            s_full, s_base, e_full, e_base = o_full, o_base, a_full, anchor_base
        meta = json.loads(etc) if isinstance(etc, str) else {}
        start, end = (e_base, s_base) if flip else (s_base, e_base)
        return Edge(
            uri=f"/a/[/r/{name}/,{s_full}/,{e_full}/]",
            relation=name,
            start=start,
            end=end,
            weight=float(meta.get("weight", 1.0)),
            surface_text=meta.get("surfaceText"),
            dataset=meta.get("dataset"),
            license=meta.get("license"),
            source=self._source_name.get(source_id) if source_id is not None else None,
        )

    def has_edge(self, start: str, rel: str, end: str, *, lang: str = "en") -> bool:
        """True when ``start rel end`` holds (either direction for symmetric relations)."""
        target = self.resolve(end, lang)
        if target is None:
            return False
        return any(e.end == target for e in self.neighbours(start, rel, "out", lang=lang))

    def shared_targets(self, a: str, b: str, rel: str, direction: Direction = "out", *, lang: str = "en") -> list[tuple[str, Edge, Edge]]:
        """Concepts X with ``a rel X`` and ``b rel X`` (direction="in": ``X rel a`` and ``X rel b``).

        Returns (X, edge from a, edge from b), strongest pairs first; a and b themselves are excluded.
        """
        side = "end" if direction == "out" else "start"
        ua, ub = self.resolve(a, lang), self.resolve(b, lang)
        if ua is None or ub is None:
            return []
        ea = {getattr(e, side): e for e in reversed(self.neighbours(ua, rel, direction, lang=lang))}
        eb = {getattr(e, side): e for e in reversed(self.neighbours(ub, rel, direction, lang=lang))}
        shared = [(x, ea[x], eb[x]) for x in ea.keys() & eb.keys() if x not in (ua, ub)]
        shared.sort(key=lambda t: (-(t[1].weight + t[2].weight), t[0]))
        return shared

    def reachable(self, concept: str, k: int = 2, rels: Iterable[str] | None = None, *, lang: str = "en",
                  max_nodes: int = 100_000) -> dict[str, int]:
        """Base concept URIs reachable from ``concept`` in 1..k hops (outgoing, plus symmetric relations
        both ways) -> fewest hops. The start itself is not included. Stops growing at ``max_nodes``."""
        found = self._resolve(concept, lang)
        if found is None or k < 1:
            return {}
        rel_ids: list[int] | None = None
        if rels is not None:
            rel_ids = [self._rel_id[n] for n in (relation(r).name for r in rels) if n in self._rel_id]
            if not rel_ids:
                return {}
        allowed = rel_ids if rel_ids is not None else list(self._rel_name)
        sym_ids = [i for i in allowed if i in self._sym_ids]
        start_label = found[1]
        hops: dict[int, int] = {start_label: 0}
        frontier = [start_label]
        for depth in range(1, k + 1):
            nxt: list[int] = []
            for label_id in frontier:
                for found in self._hop(label_id, rel_ids, sym_ids):
                    if found not in hops:
                        hops[found] = depth
                        nxt.append(found)
                        if len(hops) > max_nodes:
                            break
            frontier = nxt
            if not frontier or len(hops) > max_nodes:
                break
        del hops[start_label]
        return self._label_uris(hops)

    def _hop(self, label_id: int, rel_ids: list[int] | None, sym_ids: list[int]) -> list[int]:
        out_sql, args = _HOP_SQL["out"], [label_id]
        if rel_ids is not None:
            out_sql += f" AND +e.relation_id IN ({','.join('?' * len(rel_ids))})"
            args += rel_ids
        found = [r[0] for r in self._conn.execute(out_sql, args)]
        if sym_ids:
            in_sql = _HOP_SQL["in"] + f" AND +e.relation_id IN ({','.join('?' * len(sym_ids))})"
            found += [r[0] for r in self._conn.execute(in_sql, [label_id, *sym_ids])]
        return found

    def _label_uris(self, hops: dict[int, int]) -> dict[str, int]:
        out: dict[str, int] = {}
        ids = list(hops)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            q = f"SELECT id, text, language_id FROM label WHERE id IN ({','.join('?' * len(chunk))})"
            for label_id, text, lang_id in self._conn.execute(q, chunk):
                if lang_id is None:  # an ExternalURL target, not a concept
                    continue
                out[f"/c/{self._lang_name[lang_id]}/{text}"] = hops[label_id]
        return dict(sorted(out.items(), key=lambda kv: (kv[1], kv[0])))

    # --- summary -------------------------------------------------------------------------------

    def sources(self) -> list[dict]:
        try:
            rows = self._conn.execute(
                "SELECT name, path, format, dataset, languages, edges, ingested_at, report FROM mmrakit_source ORDER BY id"
            ).fetchall()
        except sqlite3.OperationalError:
            return []
        return [{"name": n, "path": p, "format": f, "dataset": d, "languages": json.loads(lg), "edges": e,
                 "ingested_at": t, "skipped": json.loads(r).get("skipped", {})} for n, p, f, d, lg, e, t, r in rows]

    def stats(self) -> dict:
        """Counts for people and scripts: edges per relation, concepts per language, sources."""
        c = self._conn
        per_rel = {self._rel_name.get(i, str(i)): n for i, n in
                   c.execute("SELECT relation_id, COUNT(*) FROM edge GROUP BY relation_id ORDER BY COUNT(*) DESC")}
        per_lang = {self._lang_name.get(i, "(url)"): n for i, n in
                    c.execute("SELECT language_id, COUNT(*) FROM label GROUP BY language_id ORDER BY COUNT(*) DESC")}
        return {
            "db_path": str(self.db_path),
            "edges": sum(per_rel.values()),
            "concepts": c.execute("SELECT COUNT(*) FROM concept").fetchone()[0],
            "base_concepts": sum(n for k, n in per_lang.items() if k != "(url)"),
            "relations": per_rel,
            "languages": per_lang,
            "sources": self.sources(),
        }

    def __repr__(self) -> str:
        return f"RelationStore({str(self.db_path)!r})"

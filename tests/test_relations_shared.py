"""Relations ingest on the project's real ConceptNet samples (../shared/data); skipped without them."""

from __future__ import annotations

import json

import pytest

from mmrakit.relations import RelationStore
from mmrakit.relations.ingest import ingest_file

pytestmark = pytest.mark.shared


def _official_rows(path):
    return [l.rstrip("\n").split("\t") for l in path.read_text(encoding="utf-8").splitlines()]


def test_conceptnet5_testdata_english(shared_data, tmp_path):
    src = shared_data / "conceptnet5-testdata" / "assertions.csv"
    rows = _official_rows(src)
    en_en = [r for r in rows if r[2].startswith("/c/en/") and r[3].startswith("/c/en/")]
    external = [r for r in rows if r[1] == "/r/ExternalURL"]
    report = ingest_file(tmp_path / "cn.db", src)
    assert report.lines == len(rows) == 764
    assert report.edges == len(en_en) == 96 and report.malformed == {}
    assert report.filtered == {"external_url": len(external), "language": len(rows) - len(en_en) - len(external)}
    store = RelationStore(tmp_path / "cn.db")
    # /c/en/test/n/wikt/en_1 and friends are merged into /c/en/test
    antonyms = {e.end for e in store.neighbours("test", rel="Antonym")}
    expected = {"/c/en/" + r[3].split("/")[3] for r in en_en if r[1] == "/r/Antonym" and r[2].split("/")[3] == "test"}
    assert antonyms >= expected and "/c/en/breeze" in antonyms
    hard = store.neighbours("hard questions", rel="AtLocation")
    assert [(e.end, e.surface_text) for e in hard] == [("/c/en/test", "*Something you find on [[a test]] is [[hard questions]]")]


def test_conceptnet5_testdata_all_languages(shared_data, tmp_path):
    src = shared_data / "conceptnet5-testdata" / "assertions.csv"
    rows = _official_rows(src)
    report = ingest_file(tmp_path / "cn.db", src, languages=[], keep_external_urls=True)
    assert report.edges == len(rows) and report.filtered == {}
    store = RelationStore(tmp_path / "cn.db")
    stats = store.stats()
    assert stats["edges"] == len(rows)
    assert stats["relations"]["Synonym"] == sum(r[1] == "/r/Synonym" for r in rows)
    assert set(stats["languages"]) >= {"en", "fr", "(url)"}


def test_official_57_head_and_conceptnet_lite_api(shared_data, tmp_path):
    src = shared_data / "conceptnet-kgtk-samples" / "conceptnet-5.7.0-head100.csv"
    rows = _official_rows(src)
    report = ingest_file(tmp_path / "cn.db", src, languages=[])
    assert report.edges == 100 and all(r[1] == "/r/Antonym" for r in rows)
    import conceptnet_lite
    from conceptnet_lite import Label, edges_from

    conceptnet_lite.connect(str(tmp_path / "cn.db"))
    first = rows[0]
    lang, text = first[2].split("/")[2:4]
    found = {(e.relation.name, e.end.uri) for e in edges_from(Label.get(text=text, language=lang).concepts)}
    assert ("antonym", first[3]) in found
    assert json.loads(first[4])["dataset"] in {e.etc["dataset"] for e in edges_from(Label.get(text=text, language=lang).concepts)}


def test_cskg_kgtk_sample(shared_data, tmp_path):
    src = shared_data / "conceptnet-kgtk-samples" / "cskg_sample.tsv"
    rows = [l.split("\t") for l in src.read_text(encoding="utf-8").splitlines()[1:]]
    non_cn_rel = sum(not r[1].startswith("/r/") for r in rows)
    report = ingest_file(tmp_path / "cn.db", src)
    assert report.format == "kgtk" and report.lines == len(rows) + 1
    assert report.filtered["non_conceptnet_relation"] == non_cn_rel
    assert report.filtered["non_conceptnet_node"] > 0 and report.malformed == {}
    store = RelationStore(tmp_path / "cn.db")
    assert [e.end for e in store.neighbours("club", rel="UsedFor")] == ["/c/en/playing_golf"]
    cn_src = shared_data / "conceptnet-kgtk-samples" / "cskg_sample.cn_only.tsv"
    cn_rows = [l.split("\t") for l in cn_src.read_text(encoding="utf-8").splitlines()[1:]]
    cn_only = ingest_file(tmp_path / "cn2.db", cn_src)
    # datasource CN still carries mw: (morphology) rows, which are not ConceptNet relations
    assert cn_only.filtered["non_conceptnet_relation"] == sum(not r[1].startswith("/r/") for r in cn_rows) == 1815
    assert cn_only.edges > 5000

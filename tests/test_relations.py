"""Relations stage: ontology, normalisation, ingest (bad lines, sources), queries, conceptnet-lite compatibility.

Runs on the bundled real subset and on generated files, so it needs nothing outside the repo.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from mmrakit.errors import InputError, OfflineError, WorkspaceError
from mmrakit.relations import RelationStore, bundled_subset, concept_text, normalize_concept
from mmrakit.relations.ingest import ingest, ingest_file, remove_source
from mmrakit.relations.ontology import RELATIONS, SUBTASK_RELATIONS, relation, to_snake_case
from mmrakit.subtasks import mmra_subtasks


def line(rel: str, start: str, end: str, weight: float = 1.0, surface: str | None = None, dataset: str = "/d/conceptnet/4/en") -> str:
    meta = {"dataset": dataset, "license": "cc:by/4.0", "sources": [{"contributor": "/s/contributor/omcs/test"}], "weight": weight}
    if surface:
        meta["surfaceText"] = surface
    return "\t".join([f"/a/[/r/{rel}/,{start}/,{end}/]", f"/r/{rel}", start, end, json.dumps(meta)])


KITCHEN = [
    line("UsedFor", "/c/en/knife", "/c/en/cut", 2.0, "[[a knife]] is used for [[cutting]]"),
    line("UsedFor", "/c/en/knife/n/wn/artifact", "/c/en/cut", 1.0),
    line("UsedFor", "/c/en/scissors", "/c/en/cut", 1.5),
    line("UsedFor", "/c/en/fork", "/c/en/eat", 1.0),
    line("UsedFor", "/c/en/spoon", "/c/en/eat", 1.0),
    line("MadeOf", "/c/en/knife", "/c/en/steel", 2.0, "[[a knife]] is made of [[steel]]"),
    line("MadeOf", "/c/en/fork", "/c/en/steel", 1.0),
    line("MadeOf", "/c/en/fork/n", "/c/en/plastic", 0.5),
    line("AtLocation", "/c/en/knife", "/c/en/kitchen", 1.0),
    line("AtLocation", "/c/en/dining_table", "/c/en/kitchen", 1.0),
    line("LocatedNear", "/c/en/chair", "/c/en/dining_table", 1.0),
    line("Synonym", "/c/en/blade", "/c/en/knife", 1.0),
    line("IsA", "/c/en/kitchen", "/c/en/room", 1.0),
    line("ExternalURL", "/c/en/knife", "http://dbpedia.org/resource/Knife", 1.0),
    line("UsedFor", "/c/fr/couteau", "/c/fr/couper", 1.0),
]


@pytest.fixture
def kitchen_csv(tmp_path: Path) -> Path:
    p = tmp_path / "kitchen.csv"
    p.write_text("\n".join(KITCHEN) + "\n", encoding="utf-8")
    return p


@pytest.fixture
def kitchen_store(tmp_path: Path, kitchen_csv: Path) -> RelationStore:
    db = tmp_path / "store" / "cn.db"
    ingest_file(db, kitchen_csv)
    store = RelationStore(db)
    yield store
    store.close()


# --- ontology -----------------------------------------------------------------------------------

def test_ontology_has_every_conceptnet_57_relation():
    core = {"RelatedTo", "FormOf", "IsA", "PartOf", "HasA", "UsedFor", "CapableOf", "AtLocation", "Causes",
            "HasSubevent", "HasFirstSubevent", "HasLastSubevent", "HasPrerequisite", "HasProperty", "MotivatedByGoal",
            "ObstructedBy", "Desires", "CreatedBy", "Synonym", "Antonym", "DistinctFrom", "DerivedFrom", "SymbolOf",
            "DefinedAs", "MannerOf", "LocatedNear", "HasContext", "SimilarTo", "EtymologicallyRelatedTo",
            "EtymologicallyDerivedFrom", "CausesDesire", "MadeOf", "ReceivesAction", "ExternalURL", "InstanceOf", "Entails",
            "NotDesires", "NotCapableOf", "NotHasProperty", "NotUsedFor"}
    dbpedia = {f"dbpedia/{x}" for x in ("capital", "field", "genre", "genus", "influencedBy", "knownFor", "language",
                                        "leader", "occupation", "product")}
    assert set(RELATIONS) == core | dbpedia
    assert {n for n, s in RELATIONS.items() if s.symmetric} == {
        "RelatedTo", "SimilarTo", "EtymologicallyRelatedTo", "Synonym", "Antonym", "DistinctFrom", "LocatedNear"}
    assert {n for n, s in RELATIONS.items() if s.kind == "negative"} >= {"NotDesires", "NotUsedFor", "Antonym"}
    assert RELATIONS["ExternalURL"].ingest is False and RELATIONS["ExternalURL"].kind == "pseudo"


def test_ontology_links_are_consistent():
    for name, spec in RELATIONS.items():
        if spec.inverse:
            assert RELATIONS[spec.inverse].inverse == name
        if spec.opposite:
            assert RELATIONS[spec.opposite].opposite == name
        assert "{start}" in spec.template and "{end}" in spec.template
        assert spec.description
    assert RELATIONS["PartOf"].entailment_chain() == ["PartOf", "AtLocation", "LocatedNear", "RelatedTo"]
    assert RELATIONS["HasFirstSubevent"].entails == "HasSubevent"
    assert RELATIONS["MadeOf"].render("a knife", "steel") == "a knife is made of steel"


@pytest.mark.parametrize("spelling", ["UsedFor", "used_for", "/r/UsedFor", "/r/used_for", "usedfor", " UsedFor "])
def test_relation_accepts_every_spelling(spelling):
    assert relation(spelling).name == "UsedFor"


def test_relation_dbpedia_and_unknown():
    assert relation("/r/dbpedia/influencedBy").snake == "dbpedia/influenced_by"
    assert relation("dbpedia/influenced_by").name == "dbpedia/influencedBy"
    with pytest.raises(InputError, match="unknown relation 'UsedForr'"):
        relation("UsedForr")


def test_snake_names_match_conceptnet_lite():
    from conceptnet_lite.utils import _to_snake_case

    for name in RELATIONS:
        assert to_snake_case(name) == _to_snake_case(name)


def test_subtask_mapping_covers_all_mmra_subtasks():
    assert set(SUBTASK_RELATIONS) == set(mmra_subtasks())
    # usage is a purpose: UsedFor only (CapableOf is an ability: a vulture can fly, it is not "for" flying)
    assert SUBTASK_RELATIONS["UsageSimilarity"].relations == ("UsedFor",)
    assert SUBTASK_RELATIONS["SimilarMaterial"].relations == ("MadeOf",)
    assert set(SUBTASK_RELATIONS["SubEvent"].relations) == {"HasSubevent", "HasFirstSubevent", "HasLastSubevent", "HasPrerequisite"}
    assert "boxes" in SUBTASK_RELATIONS["RelativePosition"].evidence
    assert SUBTASK_RELATIONS["Layout"].relations == ()
    assert set(SUBTASK_RELATIONS["ObservationAngle"].evidence) == {"clip", "hash"}
    assert "/c/en/emotion" in SUBTASK_RELATIONS["MentalitySimilarity"].anchors
    assert "sbert" in SUBTASK_RELATIONS["SimilarEvent"].evidence


# --- normalisation -------------------------------------------------------------------------------

@pytest.mark.parametrize("text,uri", [
    ("Dining Tables", "/c/en/dining_table"),
    ("dining table", "/c/en/dining_table"),
    ("  a Knife ", "/c/en/knife"),
    ("knives", "/c/en/knife"),
    ("the children", "/c/en/child"),
    ("berries", "/c/en/berry"),
    ("movies", "/c/en/movie"),
    ("boxes", "/c/en/box"),
    ("dishes", "/c/en/dish"),
    ("buses", "/c/en/bus"),
    ("glasses", "/c/en/glasses"),
    ("sheep", "/c/en/sheep"),
    ("grass", "/c/en/grass"),
    ("ice-cream cones", "/c/en/ice_cream_cone"),
    ("hot_dogs", "/c/en/hot_dog"),
    ("Fahr's syndrome", "/c/en/fahr's_syndrome"),
    ("running", "/c/en/running"),
    ("/c/en/test/n/wikt/en_1", "/c/en/test"),
    ("/c/en/dining_tables", "/c/en/dining_tables"),
    ("a", "/c/en/a"),
])
def test_normalize_concept(text, uri):
    assert normalize_concept(text) == uri


def test_normalize_other_language_and_errors():
    assert normalize_concept("Couteaux", lang="fr") == "/c/fr/couteaux"
    with pytest.raises(ValueError):
        normalize_concept("!!! ...")
    assert concept_text("/c/en/dining_table/n") == "dining table"
    assert concept_text("/c/en/dining_table/n/wn/artifact") == "dining table"
    assert concept_text("http://dbpedia.org/resource/Knife") == "http://dbpedia.org/resource/Knife"


# --- queries --------------------------------------------------------------------------------------

def test_neighbours_merge_senses_keep_strongest_and_surface_text(kitchen_store):
    used = kitchen_store.neighbours("knives", rel="UsedFor")
    assert [(e.start, e.end, e.weight) for e in used] == [("/c/en/knife", "/c/en/cut", 2.0)]
    assert used[0].surface_text == "[[a knife]] is used for [[cutting]]"
    assert used[0].dataset == "/d/conceptnet/4/en" and used[0].source == "kitchen.csv"
    made = kitchen_store.neighbours("/c/en/fork/n", rel="made_of")
    assert [(e.end, e.weight) for e in made] == [("/c/en/steel", 1.0), ("/c/en/plastic", 0.5)]
    assert made[1].uri == "/a/[/r/MadeOf/,/c/en/fork/n/,/c/en/plastic/]"


def test_neighbours_directions_and_symmetry(kitchen_store):
    into_kitchen = kitchen_store.neighbours("kitchen", rel="AtLocation", direction="in")
    assert {e.start for e in into_kitchen} == {"/c/en/knife", "/c/en/dining_table"}
    assert kitchen_store.neighbours("kitchen", rel="AtLocation", direction="out") == []
    # LocatedNear is stored chair -> dining_table, but is symmetric: both sides answer "out"
    near = kitchen_store.neighbours("dining tables", rel="LocatedNear")
    assert [(e.start, e.end) for e in near] == [("/c/en/dining_table", "/c/en/chair")]
    assert [(e.start, e.end) for e in kitchen_store.neighbours("knife", rel="Synonym")] == [("/c/en/knife", "/c/en/blade")]
    both = kitchen_store.neighbours("kitchen", direction="both")
    assert {(e.relation, e.start, e.end) for e in both} == {
        ("AtLocation", "/c/en/knife", "/c/en/kitchen"), ("AtLocation", "/c/en/dining_table", "/c/en/kitchen"),
        ("IsA", "/c/en/kitchen", "/c/en/room")}
    assert len(kitchen_store.neighbours("knife", limit=2)) == 2
    assert kitchen_store.neighbours("unicorn") == []
    with pytest.raises(InputError):
        kitchen_store.neighbours("knife", direction="sideways")  # type: ignore[arg-type]


def test_filters_drop_external_urls_and_other_languages(kitchen_store):
    assert kitchen_store.neighbours("knife", rel="ExternalURL") == []
    assert not kitchen_store.is_known("/c/fr/couteau")
    assert kitchen_store.is_known("Knives") and kitchen_store.is_known("/c/en/knife/n")


def test_has_edge_shared_targets_reachable_concepts(kitchen_store):
    assert kitchen_store.has_edge("knife", "UsedFor", "cut")
    assert kitchen_store.has_edge("dining table", "LocatedNear", "chair")  # symmetric
    assert not kitchen_store.has_edge("cut", "UsedFor", "knife")
    shared = kitchen_store.shared_targets("knife", "scissors", "UsedFor")
    assert [(x, a.start, b.start) for x, a, b in shared] == [("/c/en/cut", "/c/en/knife", "/c/en/scissors")]
    assert [x for x, _, _ in kitchen_store.shared_targets("knife", "fork", "MadeOf")] == ["/c/en/steel"]
    assert [x for x, _, _ in kitchen_store.shared_targets("knife", "dining table", "AtLocation")] == ["/c/en/kitchen"]
    assert kitchen_store.shared_targets("knife", "spoon", "UsedFor") == []
    reach = kitchen_store.reachable("knife", k=2, rels=["AtLocation", "IsA"])
    assert reach == {"/c/en/kitchen": 1, "/c/en/room": 2}
    assert kitchen_store.reachable("knife", k=1)["/c/en/blade"] == 1  # symmetric, stored blade -> knife
    assert "/c/en/knife" not in kitchen_store.reachable("knife", k=3)
    concepts = list(kitchen_store.concepts("en"))
    assert "/c/en/dining_table" in concepts and "/c/en/knife" in concepts
    assert len(concepts) == len(set(concepts)) and not any(c.startswith("http") for c in concepts)
    assert list(kitchen_store.concepts("fr")) == []


def test_stats(kitchen_store):
    s = kitchen_store.stats()
    assert s["edges"] == 13  # 15 lines minus ExternalURL and the French edge
    assert s["relations"]["UsedFor"] == 5 and s["relations"]["MadeOf"] == 3
    assert s["languages"] == {"en": s["base_concepts"]}
    assert [src["name"] for src in s["sources"]] == ["kitchen.csv"]


def test_conceptnet_lite_reads_the_store(kitchen_store):
    import conceptnet_lite
    from conceptnet_lite import Concept, Label, edges_from, edges_to

    conceptnet_lite.connect(str(kitchen_store.db_path))
    knife = Label.get(text="knife", language="en")
    assert sorted(c.uri for c in knife.concepts) == ["/c/en/knife", "/c/en/knife/n/wn/artifact"]
    made = {(e.start.uri, e.end.text, e.etc["weight"]) for e in edges_from(knife.concepts, relation="made_of")}
    assert made == {("/c/en/knife", "steel", 2.0)}
    assert sorted(e.start.text for e in edges_to(Label.get(text="steel", language="en").concepts, relation="made_of")) == ["fork", "knife"]
    assert Concept.get(uri="/c/en/fork/n").text == "fork"


# --- ingest: formats, bad input, gzip -----------------------------------------------------------

def test_bad_lines_are_counted_by_reason_with_line_numbers(tmp_path):
    good = KITCHEN[0]
    lines = [
        good.encode(),                                                   # 1 ok
        b"only\tthree\tcolumns",                                         # 2 wrong_column_count
        line("UsedFor", "/c/en/fork", "/c/en/eat").encode()[:-2],        # 3 bad_json (truncated)
        b"",                                                             # 4 empty
        line("UsedFor", "/c/en/fork", "c/en/eat").encode(),              # 5 bad_uri
        line("UsedFor", "/c/en/caf\xe9", "/c/en/eat").encode("utf-8").replace("é".encode(), b"\xe9"),  # 6 invalid_utf8
        line("Hates", "/c/en/cat", "/c/en/water").encode(),              # 7 unknown_relation
        line("UsedFor", "/c/en/fork", "/c/en/eat").encode().replace(b'"weight": 1.0', b'"weight": "heavy"'),  # 8 bad_json
        line("UsedFor", "/c/en/spoon", "/c/en/stir").encode(),           # 9 ok
        b"   ",                                                          # 10 empty
        line("UsedFor", "/c/en/spoon", "/c/de/ruehren").encode(),        # 11 filtered (language)
    ]
    src = tmp_path / "bad.csv"
    src.write_bytes(b"\n".join(lines) + b"\n")
    report = ingest_file(tmp_path / "cn.db", src, format="conceptnet-csv")
    assert report.lines == 11 and report.edges == 2
    assert report.malformed == {"wrong_column_count": 1, "bad_json": 2, "empty": 2, "bad_uri": 1, "invalid_utf8": 1,
                                "unknown_relation": 1}
    assert report.malformed_samples == {"wrong_column_count": [2], "bad_json": [3, 8], "empty": [4, 10], "bad_uri": [5],
                                        "invalid_utf8": [6], "unknown_relation": [7]}
    assert report.filtered == {"language": 1}
    store = RelationStore(tmp_path / "cn.db")
    assert {e.end for e in store.neighbours("spoon")} == {"/c/en/stir"}


def test_empty_missing_and_all_bad_sources_are_clear_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        ingest_file(tmp_path / "cn.db", empty)
    with pytest.raises(InputError, match="no such file"):
        ingest_file(tmp_path / "cn.db", tmp_path / "nope.csv.gz")
    garbage = tmp_path / "garbage.csv"
    garbage.write_text("this is\tnot\na dump\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no valid conceptnet-csv line: wrong_column_count \(lines 1, 2\)"):
        ingest_file(tmp_path / "cn.db", garbage, format="conceptnet-csv")
    truncated = tmp_path / "trunc.csv.gz"
    truncated.write_bytes(gzip.compress(("\n".join(KITCHEN) + "\n").encode() * 50)[:-40])
    with pytest.raises(InputError, match="truncated or corrupt"):
        ingest_file(tmp_path / "cn2.db", truncated)
    assert RelationStore(tmp_path / "cn2.db").stats()["edges"] == 0  # rolled back


def test_gzip_dump_streams_and_is_never_deleted(tmp_path, kitchen_csv):
    gz = tmp_path / "conceptnet-assertions-5.7.0.csv.gz"
    gz.write_bytes(gzip.compress(kitchen_csv.read_bytes()))
    before = gz.read_bytes()
    report = ingest_file(tmp_path / "cn.db", gz)
    assert report.format == "conceptnet-csv" and report.edges == 13
    assert gz.read_bytes() == before


def test_keep_all_languages_and_external_urls(tmp_path, kitchen_csv):
    report = ingest_file(tmp_path / "cn.db", kitchen_csv, languages=[], keep_external_urls=True)
    assert report.edges == 15 and report.filtered == {}
    store = RelationStore(tmp_path / "cn.db")
    assert [e.end for e in store.neighbours("knife", rel="ExternalURL")] == ["http://dbpedia.org/resource/Knife"]
    assert [e.end for e in store.neighbours("/c/fr/couteau", lang="fr")] == ["/c/fr/couper"]
    assert "http://dbpedia.org/resource/Knife" not in store.reachable("knife", k=1)


def test_relation_pack_tsv_and_csv(tmp_path):
    tsv = tmp_path / "my kitchen.tsv"
    tsv.write_text("start\trelation\tend\tweight\tsurface text\tsource\n"
                   "Dining Tables\tLocatedNear\tchairs\t2\tyou find chairs near a dining table\tme\n"
                   "# a comment\n"
                   "cutting boards\tused_for\tcutting\t\t\t\n"
                   "kettle\tBoils\twater\n"
                   "mug\tMadeOf\tceramic\tlots\n", encoding="utf-8")
    report = ingest_file(tmp_path / "cn.db", tsv, format="pack")
    assert report.dataset == "/d/pack/my_kitchen"
    assert report.edges == 2 and report.malformed == {"unknown_relation": 1, "bad_weight": 1}
    assert report.malformed_samples == {"unknown_relation": [5], "bad_weight": [6]}
    store = RelationStore(tmp_path / "cn.db")
    (edge,) = store.neighbours("dining table", rel="LocatedNear")
    assert (edge.end, edge.weight, edge.dataset, edge.surface_text) == (
        "/c/en/chair", 2.0, "/d/pack/my_kitchen", "you find chairs near a dining table")
    assert not edge.dataset.startswith("/d/conceptnet")
    csv_pack = tmp_path / "extra.csv"
    csv_pack.write_text('cup,UsedFor,"drink, coffee",1.5\n', encoding="utf-8")
    ingest_file(tmp_path / "cn.db", csv_pack)
    assert [(e.end, e.dataset) for e in store.neighbours("cups", rel="UsedFor")] == [("/c/en/drink_coffee", "/d/pack/extra")]


def test_kgtk_merged_ids_and_non_conceptnet_rows(tmp_path):
    tsv = tmp_path / "cskg.tsv"
    tsv.write_text("node1\tlabel\tnode2\tdatasource\tweight\n"
                   "/c/en/club+vg:club+rg:club\t/r/UsedFor\t/c/en/playing_golf\tCN\t1.0\n"
                   "at:agenda+/c/en/agenda+rg:agenda\t/r/AtLocation\tat:meeting+vg:meeting+/c/en/meeting\tCN\t2\n"
                   "rg:touched+vg:touched\t/r/Synonym\trg:moved\tROGET\t1.0\n"
                   "/c/en/200+vg:200\tvg:InImage\tvg:I2398766\tVG\t1.0\n"
                   "/c/en/cat\t/r/IsA\t/c/en/pet\tCN\tnot-a-number\n"
                   "/c/en/dog\t/r/IsA\n", encoding="utf-8")
    report = ingest_file(tmp_path / "cn.db", tsv)
    assert report.format == "kgtk" and report.edges == 2
    assert report.filtered == {"non_conceptnet_node": 1, "non_conceptnet_relation": 1}
    assert report.malformed == {"bad_weight": 1, "wrong_column_count": 1}
    store = RelationStore(tmp_path / "cn.db")
    (e,) = store.neighbours("agenda", rel="AtLocation")
    assert (e.end, e.weight, e.dataset) == ("/c/en/meeting", 2.0, "/d/cskg/cn")


# --- workspace: sources, idempotence, replacement, removal ---------------------------------------

def test_open_without_ingest_is_a_workspace_error(workspace):
    with pytest.raises(WorkspaceError, match="no relations ingested yet") as info:
        RelationStore.open(workspace)
    assert "--bundled" in info.value.hint


def test_reingest_is_noop_changed_source_replaced_remove_drops_one(workspace, tmp_path, kitchen_csv):
    first = ingest(workspace, kitchen_csv)
    assert first.edges == 13 and not first.up_to_date
    again = ingest(workspace, kitchen_csv)
    assert again.up_to_date and again.edges == 13
    bundled = ingest(workspace, bundled_subset())
    assert bundled.edges == 698
    store = RelationStore.open(workspace)
    assert store.stats()["edges"] == 13 + 698
    # a changed version of kitchen.csv replaces only its own edges
    kitchen_csv.write_text("\n".join(KITCHEN[:3] + [line("UsedFor", "/c/en/whisk", "/c/en/beat_egg")]) + "\n", encoding="utf-8")
    changed = ingest(workspace, kitchen_csv)
    assert not changed.up_to_date and changed.replaced_edges == 13 and changed.edges == 4
    store = RelationStore.open(workspace)
    assert store.stats()["edges"] == 4 + 698
    assert store.has_edge("whisk", "UsedFor", "beat egg") and not store.is_known("dining table")
    assert store.neighbours("test", rel="Antonym")  # the bundled source is untouched
    assert [s["name"] for s in store.sources()] == ["kitchen.csv", "conceptnet-en-subset.csv"]
    removed = remove_source(workspace, "conceptnet-en-subset.csv")
    assert removed == {"source": "conceptnet-en-subset.csv", "removed_edges": 698}
    store = RelationStore.open(workspace)
    assert store.stats()["edges"] == 4 and not store.is_known("test")
    assert store.has_edge("knife", "UsedFor", "cut")
    with pytest.raises(InputError, match="no ingested source named 'nope'"):
        remove_source(workspace, "nope")
    # the removed source can come back (its stage run was invalidated)
    assert not ingest(workspace, bundled_subset()).up_to_date


def test_failed_replacement_keeps_the_previous_version(workspace, kitchen_csv):
    ingest(workspace, kitchen_csv)
    kitchen_csv.write_text("garbage\n" * 5, encoding="utf-8")
    with pytest.raises(InputError, match="no valid"):
        ingest(workspace, kitchen_csv, format="conceptnet-csv")
    store = RelationStore.open(workspace)
    assert store.stats()["edges"] == 13 and store.has_edge("knife", "MadeOf", "steel")


def test_same_name_from_another_path_needs_name_or_force(workspace, tmp_path, kitchen_csv):
    ingest(workspace, kitchen_csv)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = other_dir / "kitchen.csv"
    other.write_text(KITCHEN[0] + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="already ingested as source 'kitchen.csv'"):
        ingest(workspace, other)
    ingest(workspace, other, name="kitchen-2")
    assert {s["name"] for s in RelationStore.open(workspace).sources()} == {"kitchen.csv", "kitchen-2"}
    ingest(workspace, other, force=True)
    assert RelationStore.open(workspace).stats()["edges"] == 2


def test_workspace_languages_setting_is_the_default(workspace, kitchen_csv):
    workspace.settings.relations.languages = []
    assert ingest(workspace, kitchen_csv).edges == 14  # ExternalURL still skipped by default


def test_store_schema_is_conceptnet_lite_plus_source_column(kitchen_store):
    conn = sqlite3.connect(kitchen_store.db_path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"relation", "language", "label", "concept", "edge", "mmrakit_source"} <= tables
    cols = [r[1] for r in conn.execute('PRAGMA table_info("edge")')]
    assert cols == ["id", "relation_id", "start_id", "end_id", "etc", "source_id"]
    assert {r[0] for r in conn.execute("SELECT name FROM relation")} >= {"used_for", "made_of", "located_near"}


def test_download_offline_is_a_clear_error(tmp_path):
    from mmrakit.relations.download import download_dump

    with pytest.raises(OfflineError, match="cannot download") as info:
        download_dump("http://127.0.0.1:9/conceptnet-assertions-5.7.0.csv.gz", tmp_path, timeout=2)
    assert "mmrakit relations ingest PATH" in info.value.hint


def test_bundled_subset_is_real_official_format():
    path = bundled_subset()
    rows = [l.split("\t") for l in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 698 and all(len(r) == 5 for r in rows)
    assert all(r[2].startswith("/c/en/") and r[3].startswith("/c/en/") for r in rows)
    assert all(r[0] == f"/a/[{r[1]}/,{r[2]}/,{r[3]}/]" for r in rows)
    assert (path.parent / "ATTRIBUTION.md").read_text(encoding="utf-8").count("CC BY-SA 4.0") >= 1


def test_normalize_is_idempotent_and_round_trips_text():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzé'", min_size=1, max_size=12).filter(lambda w: w.strip("'"))

    @settings(max_examples=300, deadline=None)
    @given(st.lists(words, min_size=1, max_size=4))
    def check(parts):
        phrase = " ".join(parts)
        try:
            uri = normalize_concept(phrase)
        except ValueError:
            return
        assert uri.startswith("/c/en/") and " " not in uri
        assert normalize_concept(uri) == uri
        assert normalize_concept(concept_text(uri)) == uri

    check()
    assert normalize_concept("the dog's bowls") == "/c/en/dog's_bowl"
    assert normalize_concept("the dog's") == "/c/en/dog's"
    assert normalize_concept("7 dwarfs 2s") == "/c/en/7_dwarfs_2s"


def test_interrupted_ingest_leaves_the_previous_store(workspace, kitchen_csv, monkeypatch):
    from mmrakit.relations import ingest as ingest_mod

    ingest(workspace, kitchen_csv)
    kitchen_csv.write_text("\n".join(KITCHEN + [line("UsedFor", "/c/en/whisk", "/c/en/beat_egg")]) + "\n", encoding="utf-8")
    calls = {"n": 0}
    real_add = ingest_mod._Loader.add

    def add_then_interrupt(self, *edge):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real_add(self, *edge)

    monkeypatch.setattr(ingest_mod._Loader, "add", add_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        ingest(workspace, kitchen_csv)
    monkeypatch.undo()
    store = RelationStore.open(workspace)
    assert store.stats()["edges"] == 13 and not store.is_known("whisk")
    runs = [r for r in workspace.runs.status_report() if r["stage"] == "relations.ingest"]
    assert [r["status"] for r in runs] == ["interrupted"]
    assert ingest(workspace, kitchen_csv).edges == 14  # re-running finishes the job


def test_store_built_by_conceptnet_lite_itself_is_readable_and_extendable(tmp_path, kitchen_csv):
    import contextlib
    import io

    from conceptnet_lite.db import load_dump_to_db

    db = tmp_path / "cnlite.db"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        load_dump_to_db(kitchen_csv, db, edge_count=10**6, delete_dump=False)
    assert kitchen_csv.exists()
    store = RelationStore(db)
    assert [(e.end, e.weight, e.source) for e in store.neighbours("knife", rel="MadeOf")] == [("/c/en/steel", 2.0, None)]
    assert [e.end for e in store.neighbours("knife", rel="ExternalURL")] == ["http://dbpedia.org/resource/Knife"]
    pack = tmp_path / "extra.tsv"
    pack.write_text("knife\tUsedFor\tspread butter\n", encoding="utf-8")
    ingest_file(db, pack)
    store = RelationStore(db)
    assert {e.end for e in store.neighbours("knife", rel="UsedFor")} == {"/c/en/cut", "/c/en/spread_butter"}
    assert store.stats()["edges"] == 16

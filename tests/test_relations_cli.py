"""`mmrakit relations ...` end to end through the real typer app, with --json output."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mmrakit.cli.main import app
from mmrakit.errors import InputError, OfflineError, WorkspaceError

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["relations", *args])


def test_cli_ingest_query_stats_sources_remove(workspace, tmp_path):
    w = ["-w", str(workspace.root)]
    r = run("ingest", "--bundled", *w, "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["edges"] == 698 and report["up_to_date"] is False and report["malformed"] == {}
    again = json.loads(run("ingest", "--bundled", *w, "--json").stdout)
    assert again["up_to_date"] is True

    pack = tmp_path / "pack.tsv"
    pack.write_text("Dining Tables\tLocatedNear\tchairs\t2\nknives\tUsedFor\tcutting\n", encoding="utf-8")
    r = run("ingest", str(pack), "--format", "pack", *w, "--json")
    assert json.loads(r.stdout)["dataset"] == "/d/pack/pack"

    q = json.loads(run("query", "dining tables", "--rel", "located_near", *w, "--json").stdout)
    assert q["concept"] == "/c/en/dining_table" and q["known"]
    assert [(e["end"], e["weight"], e["dataset"]) for e in q["edges"]] == [("/c/en/chair", 2.0, "/d/pack/pack")]
    q = json.loads(run("query", "chair", "--rel", "LocatedNear", "--direction", "in", *w, "--json").stdout)
    assert [e["start"] for e in q["edges"]] == ["/c/en/dining_table"]
    q = json.loads(run("query", "test", "--hops", "1", *w, "--json").stdout)
    assert q["edges"] and q["reachable"]["/c/en/breeze"] == 1

    stats = json.loads(run("stats", *w, "--json").stdout)
    assert stats["edges"] == 700 and {s["name"] for s in stats["sources"]} == {"conceptnet-en-subset.csv", "pack.tsv"}
    srcs = json.loads(run("sources", *w, "--json").stdout)
    assert [s["edges"] for s in srcs] == [698, 2]

    removed = json.loads(run("remove", "pack.tsv", *w, "--json").stdout)
    assert removed == {"source": "pack.tsv", "removed_edges": 2}
    q = json.loads(run("query", "dining table", *w, "--json").stdout)
    assert q["known"] is False and q["edges"] == []
    assert run("query", "test", *w).exit_code == 0  # the human-readable table renders


def test_cli_errors_are_typed(workspace):
    w = ["-w", str(workspace.root)]
    r = run("stats", *w)
    assert isinstance(r.exception, WorkspaceError)
    r = run("ingest", *w)
    assert isinstance(r.exception, InputError) and "exactly one of" in str(r.exception)
    r = run("ingest", "--bundled", *w, "--languages", "en")
    assert r.exit_code == 0
    r = run("query", "test", "--direction", "sideways", *w)
    assert isinstance(r.exception, InputError)
    r = run("query", "test", "--rel", "Hates", *w)
    assert isinstance(r.exception, InputError) and "unknown relation" in str(r.exception)
    r = run("remove", "nope", *w)
    assert isinstance(r.exception, InputError)


def test_cli_download_offline(workspace):
    workspace.settings.relations.dump_url = "http://127.0.0.1:9/conceptnet-assertions-5.7.0.csv.gz"
    workspace.save_settings()
    r = run("ingest", "--download", "-w", str(workspace.root))
    assert isinstance(r.exception, OfflineError)


def test_cli_ontology_json():
    data = json.loads(run("ontology", "--json").stdout)
    assert data["LocatedNear"]["symmetric"] is True and len(data) == 50
    sub = json.loads(run("ontology", "--subtasks", "--json").stdout)
    assert sub["SimilarMaterial"]["relations"] == ["MadeOf"]


@pytest.mark.parametrize("cmd", [["ingest", "--help"], ["query", "--help"], ["stats", "--help"], ["remove", "--help"], ["sources", "--help"]])
def test_cli_help_lists_workspace_and_json(cmd):
    out = run(*cmd).stdout
    assert "--workspace" in out
    if cmd[0] != "remove":
        assert "--json" in out

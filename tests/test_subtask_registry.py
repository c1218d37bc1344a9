"""The one subtask registry (mmrakit/data/mmra_subtasks.toml): checked at load time, and the single
source that relations/, builders/, review, export and the runner read."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mmrakit.builders.rules import rules
from mmrakit.cli.main import app
from mmrakit.errors import ConfigError
from mmrakit.relations.ontology import SUBTASK_RELATIONS
from mmrakit.subtasks import mmra_subtasks, parse_registry

GOOD = """
[UsageSimilarity]
abbreviation = "US"
granularity = "entity"
mmra_count = 99
qa_types = ["Choice QA"]
order_dependent = false
description = "d"
relations = ["UsedFor"]
"""


def test_registry_parses_and_checks_fields():
    reg = parse_registry(GOOD)
    assert reg["UsageSimilarity"].relations == ("UsedFor",)
    with pytest.raises(ConfigError, match=r"\[UsageSimilarity\] field 'relations'"):
        parse_registry(GOOD.replace('["UsedFor"]', '["used for"]'))
    with pytest.raises(ConfigError, match=r"\[UsageSimilarity\] field 'qa_types'"):
        parse_registry(GOOD.replace('["Choice QA"]', '[]'))
    with pytest.raises(ConfigError, match="field 'granularity'"):
        parse_registry(GOOD.replace('"entity"', '"object"'))
    with pytest.raises(ConfigError, match="abbreviations used twice"):
        parse_registry(GOOD + GOOD.replace("[UsageSimilarity]", "[Other]"))
    with pytest.raises(ConfigError, match="anchor_relations"):
        parse_registry(GOOD + 'anchors = ["/c/en/emotion"]\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_registry("[x")


def test_relations_builders_and_cli_read_the_same_table():
    reg = mmra_subtasks()
    for task, info in reg.items():
        assert SUBTASK_RELATIONS[task].relations == info.relations
        assert SUBTASK_RELATIONS[task].evidence == info.evidence
        assert rules()[task].relations == info.relations
    out = CliRunner().invoke(app, ["relations", "ontology", "--subtasks", "--json"])
    assert out.exit_code == 0, out.output
    shown = json.loads(out.stdout)
    assert {k: tuple(v["relations"]) for k, v in shown.items()} == {k: v.relations for k, v in reg.items()}
    assert shown["UsageSimilarity"]["relations"] == ["UsedFor"]


def test_builder_rules_may_not_restate_relations(monkeypatch):
    import mmrakit.builders.rules as r

    real = r._read

    def fake(name):
        data = real(name)
        if name == "rules.toml":
            data["SimilarMaterial"]["relations"] = ["MadeOf"]
        return data

    monkeypatch.setattr(r, "_read", fake)
    r.rules.cache_clear()
    try:
        with pytest.raises(ConfigError, match="relation semantics live in the subtask registry"):
            r.rules()
    finally:
        r.rules.cache_clear()

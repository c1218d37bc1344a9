"""The openai: backend against a scripted OpenAI-compatible server on 127.0.0.1: wire format,
retries on 429/500/stalls/malformed bodies, bounded concurrency, fatal errors, key hygiene,
and resuming a killed run from the response cache."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmrakit.errors import ConfigError, MmrakitError
from mmrakit.evaluation.datasets import load_eval_dataset
from support.fake_openai import FakeOpenAI, user_text
from mmrakit.evaluation.runner import run_eval
from mmrakit.settings import Settings
from test_eval_support import mmra_rows, remi_json, remi_rows, write_parquet

SECRET = "sk-test-SECRET-value-123"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_parquet(tmp_path_factory.mktemp("oa") / "mmra.parquet", mmra_rows(12))


@pytest.fixture(scope="module")
def gold(data) -> dict[int, str]:
    return {int(re.search(r"Question number (\d+)", it.question).group(1)): it.answer
            for it in load_eval_dataset(str(data)).items}


def settings_for(server: FakeOpenAI, **overrides) -> Settings:
    s = Settings()
    s.eval.openai_base_url = server.base_url
    s.eval.api_key_env = "MMRAKIT_TEST_KEY"
    s.eval.retry_initial_s = 0.01
    s.eval.retry_max_s = 0.05
    s.eval.timeout_s = 0.5
    s.eval.max_retries = 3
    s.eval.bootstrap_samples = 100
    for k, v in overrides.items():
        setattr(s.eval, k, v)
    return s


def scripted(gold: dict[int, str]):
    """Right on even question numbers (in varied phrasings), wrong on odd ones."""
    def answer(body: dict) -> str:
        i = int(re.search(r"Question number (\d+)", user_text(body)).group(1))
        g = gold[i]
        if i % 2:
            return {"Yes": "No", "No": "Yes"}.get(g, "A" if g != "A" else "B")
        return f"The answer is ({g})." if g in "ABCD" else f"{g}, because the scenes match."
    return answer


def test_wire_format_scripted_answers_and_key_hygiene(data, gold, tmp_path, monkeypatch):
    monkeypatch.setenv("MMRAKIT_TEST_KEY", SECRET)
    with FakeOpenAI(scripted(gold)) as srv:
        out = run_eval(str(data), "openai:test-model", settings=settings_for(srv), out_dir=tmp_path / "o")
    assert out.calls == 12 and out.errors == 0
    assert out.summary["overall"]["accuracy"] == 50.0
    body = srv.requests[0]
    assert body["model"] == "test-model" and body["temperature"] == 0.0 and body["seed"] == 0
    assert body["max_tokens"] == 32
    content = body["messages"][0]["content"]
    assert [c["type"] for c in content] == ["image_url", "image_url", "text"]
    # images arrive as data URLs, image1 then image2
    items = {it.id: it for it in load_eval_dataset(str(data)).items}
    i = int(re.search(r"Question number (\d+)", content[2]["text"]).group(1))
    for part, img in zip(content[:2], items[str(i)].images):
        prefix, b64 = part["image_url"]["url"].split(",", 1)
        assert prefix == "data:image/png;base64" and base64.b64decode(b64) == img.data
    assert set(srv.auth_headers) == {f"Bearer {SECRET}"}
    for f in (tmp_path / "o").iterdir():  # the key is never written anywhere
        assert SECRET.encode() not in f.read_bytes(), f.name


def test_retries_on_429_500_stall_and_malformed_bodies(data, gold, tmp_path, monkeypatch):
    monkeypatch.delenv("MMRAKIT_TEST_KEY", raising=False)
    with FakeOpenAI(scripted(gold), stall_s=1.5) as srv:
        srv.faults = ["429", "500", "malformed", "no-choices", "stall"]
        out = run_eval(str(data), "openai:m", settings=settings_for(srv, max_retries=5), concurrency=1,
                       out_dir=tmp_path / "o")
        hits = srv.hits
    assert out.errors == 0 and hits == 12 + 5
    assert out.summary["overall"]["accuracy"] == 50.0
    assert srv.auth_headers[0] is None  # no key set: a local server needs none


def test_persistent_failure_is_reported_per_item_and_retried_on_rerun(data, gold, tmp_path):
    with FakeOpenAI(scripted(gold)) as srv:
        srv.faults = ["500"] * 3  # max_retries=2 -> 3 attempts, all fail for the first item
        s = settings_for(srv, max_retries=2)
        out = run_eval(str(data), "openai:m", settings=s, concurrency=1, out_dir=tmp_path / "o")
        assert out.errors == 1
        failed = [r for r in out.records if r["error"]]
        assert len(failed) == 1 and failed[0]["method"] == "error" and failed[0]["response"] is None
        assert "HTTP 500" in failed[0]["error"] and "gave up after 3 attempts" in failed[0]["error"]
        srv.reset_counters()
        again = run_eval(str(data), "openai:m", settings=s, out_dir=tmp_path / "o")
        assert again.errors == 0 and again.calls == 1 and srv.hits == 1 and again.cached == 11


def test_client_errors_stop_the_run(data, tmp_path):
    with FakeOpenAI() as srv:
        s = settings_for(srv)
        s.eval.openai_base_url = srv.base_url.replace("/v1", "/nope")
        with pytest.raises(MmrakitError, match="HTTP 404"):
            run_eval(str(data), "openai:m", settings=s, out_dir=tmp_path / "o")


def test_hosted_endpoint_without_key_is_a_config_error(data, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    s = Settings()
    s.eval.api_key_env = "MMRAKIT_SURELY_UNSET_KEY"
    with pytest.raises(ConfigError, match=r"\$MMRAKIT_SURELY_UNSET_KEY is not set"):
        run_eval(str(data), "openai:gpt-4o", settings=s, out_dir=tmp_path / "o")


def test_concurrency_is_bounded(data, tmp_path):
    with FakeOpenAI(latency_s=0.15) as srv:
        t = time.perf_counter()
        run_eval(str(data), "openai:m", settings=settings_for(srv, timeout_s=5), concurrency=4, out_dir=tmp_path / "o")
        elapsed = time.perf_counter() - t
    assert 2 <= srv.max_in_flight <= 4
    assert elapsed < 12 * 0.15  # faster than one at a time


def test_killed_run_resumes_without_repeating_finished_calls(tmp_path):
    data = write_parquet(tmp_path / "d.parquet", mmra_rows(40))
    out = tmp_path / "run"
    with FakeOpenAI(latency_s=0.1) as srv:
        env = {**os.environ, "OPENAI_BASE_URL": srv.base_url, "OPENAI_API_KEY": "k"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "mmrakit.cli.main", "eval", str(data), "-m", "openai:m", "--concurrency", "2",
             "--out", str(out), "--json"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        cache = out / "cache.sqlite"
        deadline = time.time() + 90
        done = 0
        while time.time() < deadline and done < 8:
            time.sleep(0.1)
            if cache.exists():
                try:
                    with sqlite3.connect(cache) as c:
                        done = c.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
                except sqlite3.OperationalError:
                    pass
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with sqlite3.connect(cache) as c:
            cached = c.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        assert 8 <= cached < 40
        assert not (out / "results.json").exists()
        srv.reset_counters()
        s = Settings()
        s.eval.openai_base_url = srv.base_url
        resumed = run_eval(str(data), "openai:m", settings=s, out_dir=out)
        assert resumed.cached == cached and resumed.calls == 40 - cached and srv.hits == 40 - cached
        assert json.loads((out / "results.json").read_text())["meta"]["items"] == 40


def test_remi_images_are_interleaved_on_the_wire(tmp_path):
    data = write_parquet(tmp_path / "remi.parquet", remi_rows(1))
    with FakeOpenAI(lambda body: remi_json("45")) as srv:
        out = run_eval(str(data), "openai:m", settings=settings_for(srv), out_dir=tmp_path / "o")
    assert out.summary["tasks"]["Clocks"]["accuracy"] == 100.0
    geo = next(b for b in srv.requests if "Area of the shape" in user_text(b))
    content = geo["messages"][0]["content"]
    assert [c["type"] for c in content] == ["text", "image_url", "text", "image_url", "text", "image_url", "text"]
    assert content[0]["text"] == "Question: Area of the shape in "
    assert geo["max_tokens"] == 512


def test_identical_prompts_share_one_call_and_each_item_keeps_its_label(tmp_path):
    row = mmra_rows(1)[0]  # a Choice QA item; the server always answers "A"
    rows = [dict(row, id="same-1", answer="A"), dict(row, id="same-2", answer="B"),
            dict(row, id="swapped", answer="A", image1=row["image2"], image2=row["image1"]),  # other image order
            dict(row, id="other-text", answer="A", question=row["question"] + " Look closely.")]
    data = write_parquet(tmp_path / "d.parquet", rows)
    with FakeOpenAI() as srv:
        out = run_eval(str(data), "openai:m", settings=settings_for(srv), out_dir=tmp_path / "o")
        assert srv.hits == 3 and out.calls == 3  # the two identical prompts went out once
        by_id = {r["id"]: r for r in out.records}
        assert [by_id[i]["answer"] for i in ("same-1", "same-2")] == ["A", "B"]
        assert by_id["same-1"]["correct"] is True and by_id["same-2"]["correct"] is False
        assert by_id["same-2"]["response"] == "A" and by_id["swapped"]["correct"] is True
        # a different generation setting is a different prompt: nothing is shared with the cached run
        srv.reset_counters()
        again = run_eval(str(data), "openai:m", settings=settings_for(srv, temperature=0.7), out_dir=tmp_path / "t")
        assert again.cached == 0 and srv.hits == 3
        # a call that fails for good is reported on every item that shares it
        srv.reset_counters()
        srv.faults = ["500"] * 3
        failed = run_eval(str(data), "openai:m", settings=settings_for(srv, max_retries=2, seed=5), concurrency=1,
                          out_dir=tmp_path / "f")
    assert failed.errors == 2
    assert {r["id"] for r in failed.records if r["error"]} == {"same-1", "same-2"}

"""Local model backends through their real load paths: a tiny random-weight Qwen2-VL (hf:) built
offline from a config, and a tiny random-init open_clip model saved as a local-dir (clip:)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmrakit.errors import ConfigError, OfflineError
from mmrakit.evaluation.backends.hf_backend import HFBackend
from mmrakit.evaluation.datasets import load_eval_dataset
from mmrakit.evaluation.runner import build_request, run_eval
from mmrakit.settings import Settings
from test_eval_support import (build_tiny_open_clip, build_tiny_qwen2_lm, build_tiny_qwen2vl, mmra_rows, remi_rows,
                               write_parquet)


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory) -> Path:
    return build_tiny_qwen2vl(tmp_path_factory.mktemp("models") / "tiny-qwen2vl")


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    return build_tiny_open_clip(tmp_path_factory.mktemp("models") / "tiny-clip")


@pytest.fixture(scope="module")
def datasets_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("data")
    write_parquet(d / "mmra.parquet", mmra_rows(6))
    write_parquet(d / "remi.parquet", remi_rows(1))
    return d


def small(batch_size: int = 4) -> Settings:
    s = Settings()
    s.eval.max_new_tokens = 6
    s.eval.mmra_max_new_tokens = 6
    s.eval.batch_size = batch_size
    s.eval.bootstrap_samples = 50
    return s


def test_hf_backend_loads_and_generates_deterministically(tiny_qwen, datasets_dir, tmp_path):
    data = str(datasets_dir / "mmra.parquet")
    a = run_eval(data, f"hf:{tiny_qwen}", settings=small(), out_dir=tmp_path / "a")
    assert a.calls == 6 and a.errors == 0
    responses = [r["response"] for r in a.records]
    assert all(isinstance(t, str) and t for t in responses)
    assert a.summary["meta"]["backend_fingerprint"].startswith(f"hf:{tiny_qwen}#")
    # a fresh load (own cache), one item per forward pass, generates the same text: greedy decoding of
    # fixed weights, and left-padded batching does not change answers
    b = run_eval(data, f"hf:{tiny_qwen}", settings=small(batch_size=1), out_dir=tmp_path / "b")
    assert b.calls == 6 and [r["response"] for r in b.records] == responses
    # a re-run with the first cache calls nothing
    c = run_eval(data, f"hf:{tiny_qwen}", settings=small(), out_dir=tmp_path / "a")
    assert c.calls == 0 and c.cached == 6


def test_hf_backend_interleaves_remi_images_in_the_chat_messages(tiny_qwen, datasets_dir, tmp_path):
    ds = load_eval_dataset(str(datasets_dir / "remi.parquet"))
    geo = next(it for it in ds.items if it.task == "GeomShape")
    backend = HFBackend(str(tiny_qwen), temperature=0.0, seed=0, batch_size=2)
    messages = backend.messages(build_request(geo, setting="IQ", settings=small()))
    kinds = [c["type"] for c in messages[0]["content"]]
    assert kinds == ["text", "image", "text", "image", "text", "image", "text"]
    assert messages[0]["content"][1]["image"].size == (40, 30)
    out = backend.generate_batch([build_request(it, setting="IQ", settings=small()) for it in ds.items])
    assert len(out) == 4 and all(isinstance(t, str) for t in out)
    qo = backend.messages(build_request(geo, setting="QO", settings=small()))
    assert [c["type"] for c in qo[0]["content"]] == ["text"]


def test_hf_hub_id_offline_is_a_clear_error(datasets_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="hf:some-org/some-vlm: cannot load it from the Hugging Face Hub") as err:
        run_eval(str(datasets_dir / "mmra.parquet"), "hf:some-org/some-vlm", settings=small(), out_dir=tmp_path / "o")
    assert "hf:DIR" in err.value.hint


def test_clip_backend_scores_options_from_a_local_dir(tiny_clip, datasets_dir, tmp_path):
    data = str(datasets_dir / "mmra.parquet")
    spec = f"clip:local-dir:{tiny_clip}"
    a = run_eval(data, spec, settings=small(), out_dir=tmp_path / "a")
    for r in a.records:
        allowed = {"Yes", "No"} if r["qa_type"] == "True or false QA" else {"A", "B", "C", "D"}
        assert r["response"] in allowed and r["method"] == "letter_only" or r["method"] == "yes_no_only"
    b = run_eval(data, spec, settings=small(), out_dir=tmp_path / "b")
    assert [r["response"] for r in b.records] == [r["response"] for r in a.records]
    with pytest.raises(ConfigError, match="free-form"):
        run_eval(str(datasets_dir / "remi.parquet"), spec, settings=small(), out_dir=tmp_path / "c")
    with pytest.raises(ConfigError, match="needs images"):
        run_eval(data, spec, settings=small(), setting="QO", out_dir=tmp_path / "d")


def test_clip_named_weights_offline_is_a_clear_error(datasets_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="'RN50'/'openai' are not reachable offline") as err:
        run_eval(str(datasets_dir / "mmra.parquet"), "clip:RN50@openai", settings=small(), out_dir=tmp_path / "o")
    assert "local-dir:" in err.value.hint


def test_qo_setting_runs_a_text_only_language_model(datasets_dir, tiny_qwen, tmp_path):
    lm = build_tiny_qwen2_lm(tmp_path / "tiny-lm")
    data = str(datasets_dir / "mmra.parquet")
    out = run_eval(data, f"text-only:hf:{lm}", settings=small(), out_dir=tmp_path / "qo")
    assert out.calls == 6 and out.errors == 0 and out.summary["meta"]["setting"] == "QO"
    assert all(isinstance(r["response"], str) and r["images"] == [] for r in out.records)
    with pytest.raises(ConfigError, match="is not a vision-language model"):
        run_eval(data, f"hf:{lm}", settings=small(), out_dir=tmp_path / "iq")
    # a vision-language model also runs question-only
    vl = run_eval(data, f"hf:{tiny_qwen}", settings=small(), setting="QO", out_dir=tmp_path / "vlqo")
    assert vl.errors == 0 and all(r["images"] == [] for r in vl.records)

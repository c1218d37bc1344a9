"""The exported VLMEvalKit TSVs, run through VLMEvalKit's own ``run.py`` (in its own venv).

VLMEvalKit comes from ms-vlmeval (the PyPI repackaging that ships ``ImageYORNDataset``,
``CustomMCQDataset`` and ``run.py``), pinned with the few modules its dataset, run and scoring code
import in ``constraints-vlmeval.txt``. The venv ``.venv-vlmeval`` is created on first use: ``python -m
venv``, a ``.pth`` line onto the main venv (torch, pandas, transformers are not installed twice) and
``pip install --no-deps -r constraints-vlmeval.txt`` (about 200 MB, about 30 s from a warm pip cache;
rebuilt when that file changes). ``MMRAKIT_VLMEVAL_VENV`` moves it. When it cannot be built the test
skips with pip's log, except under CI (``CI=true``), where that is a failure.

The test does what docs/exports.md tells a user to do: copy the TSVs into ``$LMUData``, set the model in
the shipped config, run ``python -m vlmeval.run --config ... --judge exact_matching``. The model is
VLMEvalKit's own OpenAI-compatible API class pointed at the scripted server on 127.0.0.1, which answers
right on some questions and wrong on others; the scores VLMEvalKit writes are checked against the ones
computed here from the TSVs.
"""

from __future__ import annotations

import json
import os
import shutil
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from support.fake_openai import FakeOpenAI, user_text
from mmrakit.exports.export import run_export
from test_export_helpers import build_workspace

REPO = Path(__file__).resolve().parents[1]
VLMEVAL_VENV = Path(os.environ.get("MMRAKIT_VLMEVAL_VENV", REPO / ".venv-vlmeval"))
REQUIREMENTS = REPO / "constraints-vlmeval.txt"
STAMP = ".mmrakit-vlmeval-requirements"
MODEL = "scripted"


def _python() -> Path:
    return VLMEVAL_VENV / "bin" / "python"


def _installed() -> bool:
    stamp = VLMEVAL_VENV / STAMP
    return (_python().exists() and stamp.is_file() and stamp.read_text() == REQUIREMENTS.read_text())


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI: the VLMEvalKit venv is required and could not be built: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def vlmeval_venv(tmp_path_factory) -> Path:
    if _installed():
        return VLMEVAL_VENV
    log = tmp_path_factory.mktemp("vlmeval-install") / "pip.log"
    proc = None
    try:
        if (VLMEVAL_VENV / "pyvenv.cfg").is_file():
            shutil.rmtree(VLMEVAL_VENV)  # a venv made for other requirements: rebuild from scratch
        elif VLMEVAL_VENV.exists():
            _unavailable(f"{VLMEVAL_VENV} exists and is not a venv; remove it or set MMRAKIT_VLMEVAL_VENV")
        subprocess.run([sys.executable, "-m", "venv", str(VLMEVAL_VENV)], check=True, capture_output=True)
        target = subprocess.run([str(_python()), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                check=True, capture_output=True, text=True).stdout.strip()
        (Path(target) / "zz_mmrakit_main_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        with open(log, "w") as fh:
            proc = subprocess.run([str(_python()), "-m", "pip", "install", "-q", "--no-deps", "-r", str(REQUIREMENTS)],
                                  stdout=fh, stderr=subprocess.STDOUT, timeout=1200)
    except (subprocess.SubprocessError, OSError) as exc:
        _unavailable(f"could not create the VLMEvalKit venv at {VLMEVAL_VENV}: {exc}")
    if proc is None or proc.returncode != 0:
        tail = log.read_text()[-800:] if log.exists() else ""
        _unavailable(f"pip could not install {REQUIREMENTS.name} into {VLMEVAL_VENV}: {tail}")
    probe = subprocess.run([str(_python()), "-c", "import vlmeval.run, vlmeval.dataset as d; "
                            "d.ImageYORNDataset, d.CustomMCQDataset"], capture_output=True, text=True, timeout=300)
    if probe.returncode != 0:
        _unavailable(f"VLMEvalKit does not import in {VLMEVAL_VENV}: {probe.stderr[-1500:]}")
    (VLMEVAL_VENV / STAMP).write_text(REQUIREMENTS.read_text())
    return VLMEVAL_VENV


def _read_tsv(path: Path):
    import pandas as pd

    return pd.read_csv(path, sep="\t", dtype={"index": str}, keep_default_na=False)


@pytest.mark.slow
def test_vlmevalkit_run_py_scores_both_exported_files(vlmeval_venv, workspace, tmp_path):
    import pandas as pd

    build_workspace(workspace)
    out = tmp_path / "export"
    report = run_export(workspace, out, formats="vlmevalkit", dev_fraction=0.3, seed=2)
    config = json.loads((out / report.vlmevalkit_config).read_text())
    assert config["data"] == {
        "MMRA_mmrakit": {"class": "CustomMCQDataset", "dataset": "MMRA_mmrakit"},
        "MMRA_mmrakit_YN": {"class": "ImageYORNDataset", "dataset": "MMRA_mmrakit_YN"},
        "MMRA_mmrakit_circular": {"class": "CustomMCQDataset", "dataset": "MMRA_mmrakit_circular"}}
    lmu = tmp_path / "LMUData"  # the user's $LMUData, with the TSVs copied in
    lmu.mkdir()
    for tsv in (out / "vlmevalkit").glob("*.tsv"):
        shutil.copy(tsv, lmu / tsv.name)
    mcq, yn = _read_tsv(lmu / "MMRA_mmrakit.tsv"), _read_tsv(lmu / "MMRA_mmrakit_YN.tsv")
    circ = _read_tsv(lmu / "MMRA_mmrakit_circular.tsv")
    gold = {q: a for q, a in zip(mcq["question"], mcq["answer"])}
    gold |= {q: a for q, a in zip(yn["question"], yn["answer"])}
    options = {q: [c for c in "ABCD" if row[c]] for q, (_, row) in zip(mcq["question"], mcq.iterrows())}
    for table in (mcq, yn):  # the scripted model is wrong on every other question of each file
        wrong = set(sorted(set(table["question"]))[1::2])
        table["ok"] = [q not in wrong for q in table["question"]]
    right = dict(zip(mcq["question"], mcq["ok"])) | dict(zip(yn["question"], yn["ok"]))
    # of the Choice questions it gets right, every other one is right by position only: it says the original
    # gold letter whatever the options are, so every rotation but the first is wrong (CircularEval catches it)
    gold_text = {q: row[row["answer"]] for q, (_, row) in zip(mcq["question"], mcq.iterrows())}
    by_letter = set(sorted(q for q in gold_text if right[q])[1::2])
    mcq["circular_ok"] = [right[q] and q not in by_letter for q in mcq["question"]]

    def answer(body: dict) -> str:
        text = user_text(body)
        question = max((q for q in gold if q in text), key=len)  # the prompt quotes the TSV's question
        if question in options:
            if not right[question]:
                shown = dict(re.findall(r"^([A-D])\. (.*)$", text, re.M))
                return next(c for c, t in shown.items() if t != gold_text[question])
            if question in by_letter:
                return gold[question]
            shown = dict(re.findall(r"^([A-D])\. (.*)$", text, re.M))
            return next(c for c, t in shown.items() if t == gold_text[question])
        said = gold[question] if right[question] else {"Yes": "No", "No": "Yes"}[gold[question]]
        return f"{said}, judging by both images."

    env = {**os.environ, "LMUData": str(lmu), "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path / "home"),
           "PYTHONWARNINGS": "ignore"}
    with FakeOpenAI(answer) as srv:
        # "set the model": VLMEvalKit's OpenAI-compatible API class, pointed at the scripted server
        config["model"] = {MODEL: {"class": "GPT4V", "model": MODEL, "key": "sk-test-not-a-key", "temperature": 0,
                                   "api_base": f"{srv.base_url}/chat/completions", "retry": 2, "verbose": False}}
        cfg_file = tmp_path / "config.json"
        cfg_file.write_text(json.dumps(config))
        proc = subprocess.run([str(vlmeval_venv / "bin" / "python"), "-m", "vlmeval.run", "--config", str(cfg_file),
                               "--judge", "exact_matching", "--work-dir", str(tmp_path / "outputs"), "--api-nproc", "2"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        requests = list(srv.requests)
    log = f"rc {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}"
    results = tmp_path / "outputs" / MODEL
    acc_file, yn_file = results / f"{MODEL}_MMRA_mmrakit_acc.csv", results / f"{MODEL}_MMRA_mmrakit_YN_score.csv"
    assert proc.returncode == 0 and acc_file.is_file() and yn_file.is_file(), log

    # every item was asked once, with both images, and the yes/no questions carry the instruction
    assert len(requests) == len(mcq) + len(yn) + len(circ) == sum(report.vlmevalkit_files.values()), log
    assert len(circ) == sum(len(v) for v in options.values())
    for body in requests:
        content = body["messages"][-1]["content"]
        assert sum(1 for c in content if c.get("type") == "image_url") == 2
    yn_texts = [user_text(b) for b in requests if "Options:" not in user_text(b)]
    assert len(yn_texts) == len(yn) and all(t.endswith("Please answer yes or no.") for t in yn_texts)

    # ImageYORNDataset's score table: percentages, overall and per subtask / level
    got = pd.read_csv(yn_file).iloc[0].to_dict()
    assert 0 < yn["ok"].mean() < 1
    assert got["Overall"] == pytest.approx(100 * yn["ok"].mean())
    for col in ("category", "l2-category"):
        for key, sub in yn.groupby(col):
            assert got[key] == pytest.approx(100 * sub["ok"].mean()), key
    # CustomMCQDataset's accuracy table: fractions, one row per split
    acc = pd.read_csv(acc_file)
    assert set(acc["split"]) == set(mcq["split"]) and 0 < mcq["ok"].mean() < 1
    for _, row in acc.iterrows():
        part = mcq[mcq["split"] == row["split"]]
        assert row["Overall"] == pytest.approx(part["ok"].mean()), row["split"]
        for key, sub in part.groupby("category"):
            assert row[key] == pytest.approx(sub["ok"].mean()), (row["split"], key)

    # CircularEval on the circular file: an item counts only if every rotation is right
    circ_file = results / f"{MODEL}_MMRA_mmrakit_circular_acc.csv"
    assert circ_file.is_file(), log
    circ_acc = pd.read_csv(circ_file)
    assert 0 < mcq["circular_ok"].mean() < mcq["ok"].mean()
    for _, row in circ_acc.iterrows():
        part = mcq[mcq["split"] == row["split"]]
        assert row["Overall"] == pytest.approx(part["circular_ok"].mean()), row["split"]

    # why the config is needed: named by --data alone, VLMEvalKit builds the yes/no file as a dataset that
    # cannot score (CustomVQADataset.evaluate raises NotImplementedError)
    probe = subprocess.run([str(vlmeval_venv / "bin" / "python"), "-c",
                            "from vlmeval.dataset import build_dataset; "
                            "print('CLASS', type(build_dataset('MMRA_mmrakit_YN')).__name__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert "CLASS CustomVQADataset" in probe.stdout, probe.stderr[-2000:]

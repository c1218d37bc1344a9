"""The exported VLMEvalKit TSVs, loaded, prompted and scored by VLMEvalKit's own code (in its own venv).

VLMEvalKit comes from ms-vlmeval (the PyPI repackaging that ships ``ImageYORNDataset``,
``CustomMCQDataset`` and ``run.py``), pinned with the few modules its dataset and run code import in
``constraints-vlmeval.txt``. The venv ``.venv-vlmeval`` is created on first use: ``python -m venv``, a
``.pth`` line onto the main venv (torch, pandas, transformers are not installed twice) and
``pip install --no-deps -r constraints-vlmeval.txt`` (about 200 MB, well under a minute from a warm pip
cache). ``MMRAKIT_VLMEVAL_VENV`` moves it. When it cannot be built the test skips with pip's log, except
under CI (``CI=true``), where that is a failure.

Each file goes through what ``run.py --config <name>_config.json --judge exact_matching`` does with it:
``build_dataset_from_config`` (the class the shipped config names), ``build_prompt`` on every row (both
images decoded to files, the question text), then ``evaluate`` on a predictions file. The predictions are
right on some rows and wrong on others, so the expected scores are computed here from the TSVs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from mmrakit.exports.export import run_export
from test_export_helpers import build_workspace

REPO = Path(__file__).resolve().parents[1]
VLMEVAL_VENV = Path(os.environ.get("MMRAKIT_VLMEVAL_VENV", REPO / ".venv-vlmeval"))
REQUIREMENTS = REPO / "constraints-vlmeval.txt"
STAMP = ".mmrakit-vlmeval-requirements"

# Runs inside the VLMEvalKit venv: argv = LMUData folder, config file, work folder; prints one JSON line.
VLMEVAL_SCRIPT = r"""
import json, os, sys
lmu, config_file, work = sys.argv[1:4]
os.environ["LMUData"] = lmu
import pandas as pd
from vlmeval.dataset import build_dataset
from vlmeval.run import build_dataset_from_config
from vlmeval.smp import dump, load

cfg = load(config_file)
out = {}
for name in cfg["data"]:
    ds = build_dataset_from_config(cfg["data"], name)
    auto = build_dataset(name)  # what `run.py --data NAME` alone would build
    prompts = []
    for i in range(len(ds)):
        msgs = ds.build_prompt(ds.data.iloc[i])
        images = [m["value"] for m in msgs if m["type"] == "image"]
        prompts.append({"index": str(ds.data.iloc[i]["index"]), "images": len(images),
                        "images_exist": all(os.path.getsize(p) > 0 for p in images),
                        "text": "\n".join(m["value"] for m in msgs if m["type"] == "text")})
    preds = pd.DataFrame(json.load(open(os.path.join(work, name + "_predictions.json"))))
    meta = ds.data.drop(columns=["image"]).copy()
    meta["index"] = meta["index"].astype(str)
    preds["index"] = preds["index"].astype(str)
    table = meta.merge(preds, on="index")
    if all(str(x).isdigit() for x in table["index"]):
        table["index"] = table["index"].astype(int)
    eval_file = os.path.join(work, "model_" + name + ".tsv")
    dump(table, eval_file)
    score = ds.evaluate(eval_file, model="exact_matching", nproc=1)
    out[name] = {"class": type(ds).__name__, "auto_class": type(auto).__name__, "type": ds.TYPE,
                 "rows": len(ds), "prompts": prompts, "score": score.to_dict(orient="list")}
print("RESULT " + json.dumps(out))
"""


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
        if VLMEVAL_VENV.exists():
            shutil.rmtree(VLMEVAL_VENV)  # stale requirements: rebuild from scratch
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
def test_vlmevalkit_loads_prompts_and_scores_both_exported_files(vlmeval_venv, workspace, tmp_path):
    build_workspace(workspace)
    out = tmp_path / "export"
    report = run_export(workspace, out, formats="vlmevalkit", dev_fraction=0.3, seed=2)
    pack = out / "vlmevalkit"
    config_file = pack / "MMRA_mmrakit_config.json"
    config = json.loads(config_file.read_text())
    assert config["data"] == {
        "MMRA_mmrakit": {"class": "CustomMCQDataset", "dataset": "MMRA_mmrakit"},
        "MMRA_mmrakit_YN": {"class": "ImageYORNDataset", "dataset": "MMRA_mmrakit_YN"}}
    # the user's $LMUData: the TSVs copied there, as the docs say
    lmu = tmp_path / "LMUData"
    lmu.mkdir()
    for tsv in pack.glob("*.tsv"):
        shutil.copy(tsv, lmu / tsv.name)
    tables = {name: _read_tsv(lmu / f"{name}.tsv") for name in config["data"]}
    # predictions: right on even rows, wrong on odd ones, phrased the way models answer
    work = tmp_path / "work"
    work.mkdir()
    expected: dict[str, dict[str, float]] = {}
    for name, table in tables.items():
        preds, right = [], []
        for k, row in enumerate(table.itertuples(index=False)):
            ok = k % 2 == 0
            if name.endswith("_YN"):
                said = row.answer if ok else {"Yes": "No", "No": "Yes"}[row.answer]
                text = f"{said}, the two images are related that way."
            else:
                letters = [c for c in "ABCD" if getattr(row, c)]
                said = row.answer if ok else next(c for c in letters if c != row.answer)
                text = said
            preds.append({"index": row.index, "prediction": text})
            right.append(ok)
        (work / f"{name}_predictions.json").write_text(json.dumps(preds))
        by_cat: dict[str, list[bool]] = {}
        for row, ok in zip(table.itertuples(index=False), right):
            by_cat.setdefault(row.category, []).append(ok)
        expected[name] = {"overall": 100 * sum(right) / len(right),
                          **{c: 100 * sum(v) / len(v) for c, v in by_cat.items()}}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path / "home"), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([str(vlmeval_venv / "bin" / "python"), "-c", VLMEVAL_SCRIPT, str(lmu), str(config_file),
                           str(work)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert proc.returncode == 0 and line, f"VLMEvalKit failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}"
    result = json.loads(line[len("RESULT "):])

    mcq, yn = result["MMRA_mmrakit"], result["MMRA_mmrakit_YN"]
    assert (mcq["class"], mcq["type"]) == ("CustomMCQDataset", "MCQ")
    assert (yn["class"], yn["type"]) == ("ImageYORNDataset", "Y/N")
    assert yn["auto_class"] == "CustomVQADataset"  # why the config is needed: --data alone cannot score it
    for name, res in result.items():
        assert res["rows"] == len(tables[name]) == report.vlmevalkit_files[f"{name}.tsv"]
        assert all(p["images"] == 2 and p["images_exist"] for p in res["prompts"]), name
    questions = dict(zip(tables["MMRA_mmrakit_YN"]["index"], tables["MMRA_mmrakit_YN"]["question"]))
    for p in yn["prompts"]:
        assert p["text"] == questions[p["index"]] and p["text"].endswith("Please answer yes or no."), p
    for p in mcq["prompts"]:
        assert "Options:" in p["text"] and "A. " in p["text"] and "B. " in p["text"]

    # ImageYORNDataset: a one-row table of columns -> [value]
    yn_score = {k: v[0] for k, v in yn["score"].items()}
    assert yn_score["Overall"] == pytest.approx(expected["MMRA_mmrakit_YN"]["overall"])
    for cat, acc in expected["MMRA_mmrakit_YN"].items():
        if cat != "overall":
            assert yn_score[cat] == pytest.approx(acc), cat
    # CustomMCQDataset: report_acc, one row per split, fractions overall and per category / level
    table = tables["MMRA_mmrakit"].assign(ok=[k % 2 == 0 for k in range(len(tables["MMRA_mmrakit"]))])
    columns = mcq["score"]
    rows = {columns["split"][i]: {k: v[i] for k, v in columns.items()} for i in range(len(columns["split"]))}
    assert set(rows) == set(table["split"])
    for split, got in rows.items():
        part = table[table["split"] == split]
        assert got["Overall"] == pytest.approx(part["ok"].mean()), split
        for cat, sub in part.groupby("category"):
            assert got[cat] == pytest.approx(sub["ok"].mean()), (split, cat)
    assert 0 < expected["MMRA_mmrakit"]["overall"] < 100 and 0 < expected["MMRA_mmrakit_YN"]["overall"] < 100

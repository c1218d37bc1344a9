"""The exported lmms-eval pack, loaded and run by lmms-eval 0.7.3 itself (in its own venv).

The venv ``.venv-lmms`` is created on first use: ``python -m venv`` plus a ``.pth`` line that makes the
main venv's packages (torch, datasets, transformers...) visible, so pip installs only what lmms-eval
adds (~600 MB instead of a second multi-GB torch). torch/torchvision/datasets/... are pinned to the
main venv's versions. The test is skipped, with the reason, when it cannot be installed (no index).
lmms-eval's CLI exits 0 even when a task fails, so the test reads its results file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from mmrakit.modelhub.prompts import extract_mmra_answer
from mmrakit.exports.export import run_export
from test_export_helpers import build_workspace

REPO = Path(__file__).resolve().parents[1]
LMMS_VENV = Path(os.environ.get("MMRAKIT_LMMS_VENV", REPO / ".venv-lmms"))
LMMS_VERSION = "0.7.3"
PINNED = ("torch", "torchvision", "datasets", "transformers", "numpy", "pyarrow")


def _lmms_python() -> Path:
    return LMMS_VENV / "bin" / "python"


def _installed() -> bool:
    if not _lmms_python().exists():
        return False
    probe = subprocess.run([str(_lmms_python()), "-c", "import lmms_eval, importlib.metadata as m; "
                            "print(m.version('lmms_eval'))"], capture_output=True, text=True)
    return probe.returncode == 0 and probe.stdout.strip() == LMMS_VERSION


@pytest.fixture(scope="session")
def lmms_venv(tmp_path_factory) -> Path:
    if _installed():
        return LMMS_VENV
    log = tmp_path_factory.mktemp("lmms-install") / "pip.log"
    try:
        if not _lmms_python().exists():
            subprocess.run([sys.executable, "-m", "venv", str(LMMS_VENV)], check=True, capture_output=True)
        target = subprocess.run([str(_lmms_python()), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                check=True, capture_output=True, text=True).stdout.strip()
        (Path(target) / "zz_mmrakit_main_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        pins = [line for line in (REPO / "constraints.txt").read_text().splitlines()
                if line.split("==")[0].strip().lower() in PINNED]
        constraints = log.parent / "constraints.txt"
        constraints.write_text("\n".join(pins) + "\n")
        with open(log, "w") as fh:
            proc = subprocess.run([str(_lmms_python()), "-m", "pip", "install", "-q", "-c", str(constraints),
                                   f"lmms-eval=={LMMS_VERSION}"], stdout=fh, stderr=subprocess.STDOUT, timeout=1800)
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"could not create the lmms-eval venv at {LMMS_VENV}: {exc}")
    if proc.returncode != 0 or not _installed():
        tail = log.read_text()[-800:] if log.exists() else ""
        pytest.skip(f"pip could not install lmms-eval=={LMMS_VERSION} into {LMMS_VENV} (rc {proc.returncode}): {tail}")
    return LMMS_VENV


@pytest.mark.slow
def test_lmms_eval_loads_and_scores_the_exported_pack(lmms_venv, workspace, tmp_path):
    import datasets

    info = build_workspace(workspace)
    out = tmp_path / "export"
    report = run_export(workspace, out, formats="parquet,lmms-eval", dev_fraction=0.3, seed=2, with_provenance=True)
    pack = out / "lmms-eval" / "mmrakit_mmra"
    results_dir = tmp_path / "lmms-out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home"),
           "HF_DATASETS_CACHE": str(tmp_path / "hf-cache"), "TOKENIZERS_PARALLELISM": "false"}
    tasks = ",".join(report.lmms_tasks.values())
    proc = subprocess.run(
        [str(lmms_venv / "bin" / "lmms-eval"), "--model", "dummy", "--tasks", tasks, "--include_path", str(pack),
         "--batch_size", "1", "--output_path", str(results_dir), "--log_samples"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    results_files = sorted(results_dir.rglob("*_results.json"))
    assert results_files, f"lmms-eval wrote no results (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    results = json.loads(results_files[-1].read_text())["results"]
    # the dummy model answers "A" to everything: compute what that must score with the runner's rules
    plain = {s: t for s, t in report.lmms_tasks.items() if not s.endswith("_circular")}
    assert set(report.lmms_tasks) == set(plain) | {f"{s}_circular" for s in plain}
    for split, task_name in plain.items():
        ds = datasets.load_dataset("parquet", data_files={split: [str(p) for p in sorted((out / "data").glob(f"{split}-*"))]},
                                   cache_dir=str(tmp_path / "c"))[split]
        expected = []
        for doc in ds:
            opts = eval(doc["options"]) if doc["options"] else None  # noqa: S307 (our own literal)
            pred, _ = extract_mmra_answer("A", opts, doc["QA_type"])
            expected.append(float(pred is not None and pred.lower() == doc["answer"].lower()))
        got = results[task_name]
        assert got["accuracy,none"] == pytest.approx(sum(expected) / len(expected)), got
        for subtask in set(ds["Task"]):
            assert f"acc_{subtask},none" in got
        samples = sorted(results_dir.rglob(f"*_samples_{task_name}.jsonl"))
        assert samples and sum(1 for _ in samples[-1].open()) == len(ds) == report.splits[split]
        # NaturalBench group metrics over the pair ids (computed here from the rows, units as the runner's)
        units: dict[str, dict] = {"q": {}, "i": {}, "g": {}}
        groups: dict[str, list[int]] = {}
        for i, doc in enumerate(ds):
            if doc["pair_id"]:
                groups.setdefault(doc["pair_id"], []).append(i)
        for pid, members in groups.items():
            if len(members) < 2:
                continue
            for i in members:
                doc = ds[i]
                units["q"].setdefault((pid, doc["question"]), []).append(expected[i])
                units["i"].setdefault((pid, doc["image1_sha256"], doc["image2_sha256"]), []).append(expected[i])
                units["g"].setdefault(pid, []).append(expected[i])
        for key, metric in (("q", "pair_question_accuracy"), ("i", "pair_image_accuracy"), ("g", "pair_group_accuracy")):
            if units[key]:
                want = sum(all(v) for v in units[key].values()) / len(units[key])
                assert got[f"{metric},none"] == pytest.approx(want), (metric, got)
        # the circular twin task: every rotation of each Choice item; "A" is right in exactly one rotation
        circ = results[f"{task_name}_circular"]
        choice = [doc for doc in ds if doc["options"]]
        rotations = sum(len(eval(doc["options"])) for doc in choice)  # noqa: S307
        assert circ["circular_accuracy,none"] == 0.0
        assert circ["accuracy,none"] == pytest.approx(len(choice) / rotations)
    test_units = [doc["pair_id"] for doc in datasets.load_dataset(
        "parquet", data_files={"t": [str(p) for p in sorted((out / "data").glob("*.parquet"))]},
        cache_dir=str(tmp_path / "c2"))["t"] if doc["pair_id"]]
    assert sorted(test_units) == ["p-sub", "p-sub", "p-use", "p-use"]
    assert info["candidates"]

"""The demo with model panels that call models: ``python demo/panels_demo.py [WORKSPACE]``.

Runs ``demo/pipeline.toml`` (default workspace ``./demo-workspace-panels``) with two extra panel members
served by the scripted OpenAI-compatible test server (``tests/support/fake_openai.py``, on 127.0.0.1; it stands
in for a real endpoint such as vLLM or Ollama, and is no model):

* ``openai:scripted-llm`` in the **blind panel**: a lexical guesser, it picks the option sharing the most words
  with the question (Yes when a yes/no question repeats a word of itself, which it never does: so No);
* ``openai:scripted-vlm`` in the **single-image panel**: shown one image, it answers A to choice questions
  (so it "knows" every item whose answer is A) and declines yes/no questions.

It prints the panels' filter counts from the build report and where the eval report (pairs, circular) is.
To use real models, set ``[panels] blind / single_image / openai_base_url`` in your own pipeline file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import tomli_w

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.fake_openai import FakeOpenAI, user_text  # noqa: E402  (a test fixture: the scripted endpoint)

WORD = re.compile(r"[a-z]+")


def scripted(body: dict) -> str:
    text = user_text(body)
    images = sum(1 for p in body["messages"][0]["content"] if isinstance(p, dict) and p.get("type") == "image_url")
    options = dict(re.findall(r"\s\s([A-D]): (.*?)(?=\s\s[A-D]: | Your answer is |$)", text))
    if body["model"] == "scripted-vlm" and images == 1:
        return "A" if options else "I cannot tell from one image."
    question = set(WORD.findall(text.split("questions:", 1)[-1].split("answer:", 1)[0].lower()))
    if not options:
        return "No"
    overlap = {k: len(set(WORD.findall(v.lower())) & question) for k, v in options.items()}
    return max(overlap, key=lambda k: (overlap[k], -ord(k)))


def main(argv: list[str]) -> int:
    workspace = Path(argv[0]).resolve() if argv else REPO / "demo-workspace-panels"
    demo = REPO / "demo" / "pipeline.toml"
    cfg = tomllib.loads(demo.read_text())
    cfg["workspace"] = str(workspace)
    for section in ("relations", "images"):
        for src in cfg[section]["sources"]:
            src["path"] = str((demo.parent / src["path"]).resolve())
    with FakeOpenAI(scripted) as srv:
        cfg["settings"]["panels"].update({
            "blind": ["option-frequency", "answer-prior", "embedding", "openai:scripted-llm"],
            "single_image": ["openai:scripted-vlm"],
            "openai_base_url": srv.base_url,
        })
        workspace.mkdir(parents=True, exist_ok=True)
        pipeline = workspace.parent / f"{workspace.name}.pipeline.toml"
        pipeline.write_text(tomli_w.dumps(cfg))
        env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        proc = subprocess.run([sys.executable, "-m", "mmrakit.cli.main", "run", str(pipeline)], env=env)
        calls = srv.hits
    if proc.returncode != 0:
        return proc.returncode
    report = json.loads((workspace / "candidates" / "build-report.json").read_text())
    panels = report["panels"]
    print(f"\nmodel panels ({calls} calls to the scripted server):")
    for kind in ("blind", "single_image"):
        p = panels[kind]
        print(f"  {kind}: {p['n']} members {p['members']}, k = {p['k']}: filtered {p['filtered']} "
              f"({p['reason']}) {p['filtered_by_subtask']}")
    print(f"  artifact solvers beat chance by > {panels['artifact_flags']['threshold_points']} points in: "
          f"{panels['artifact_flags']['subtasks'] or 'no subtask'}")
    print(f"  counterfactual pairs kept: {report['pairs']['groups']} {report['pairs']['by_subtask']}")
    for md in sorted((workspace / "eval").glob("*/report.md")):
        print(f"eval report (pairs, circular): {md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

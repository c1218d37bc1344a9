"""The reviewer's form: Label Studio labelling config generated from data files, validated client-side.

``label_config.xml`` is the layout, ``review_form.toml`` the verdicts, answers and reject reasons.
Both are checked with the SDK's :class:`LabelInterface` before any server call, and every
prediction we send is checked against the same interface.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from html import escape
from importlib import resources
from typing import Any

from mmrakit.errors import MmrakitError
from mmrakit.models import RejectReason

FORM_FIELDS = ("answer", "verdict", "reasons", "corrected_question")  # from_name of each control


class LabelConfigError(MmrakitError):
    """The generated labelling config (or a prediction) does not validate."""


@lru_cache(maxsize=1)
def review_form() -> dict[str, Any]:
    raw = tomllib.loads(resources.files("mmrakit.review").joinpath("data/review_form.toml").read_text("utf-8"))
    known = set(RejectReason.__args__)  # type: ignore[attr-defined]
    unknown = [r["alias"] for r in raw["reasons"] if r["alias"] not in known]
    if unknown:
        raise LabelConfigError(f"review_form.toml: reasons {unknown} are not ReviewVerdict reasons",
                               hint=f"use one of {sorted(known)}")
    return raw


def _choice(value: str, alias: str | None = None, hint: str | None = None) -> str:
    attrs = f'value="{escape(value, quote=True)}"'
    if alias:
        attrs += f' alias="{escape(alias, quote=True)}"'
    if hint:
        attrs += f' hint="{escape(hint, quote=True)}"'
    return f"    <Choice {attrs}/>"


# The adjudicator's extra panel: the reviewers' votes and reasons, from the task data (``votes_text``).
VOTES_PANEL = """  <Header value="Reviewers' votes (pseudonymous ids; the verdict below is final)" size="5"/>
  <Text name="votes" value="$votes_text"/>"""


def pair_note() -> str:
    """The line a counterfactual partner's task shows above its question (``pair_note`` in review_form.toml)."""
    return review_form()["pair_note"]


@lru_cache(maxsize=1)
def judging_guide() -> str:
    """The short judging guide shown as each review project's instructions (HTML, from data)."""
    return resources.files("mmrakit.review").joinpath("data/judging_guide.html").read_text("utf-8")


@lru_cache(maxsize=2)
def label_config(adjudication: bool = False) -> str:
    """The XML config, validated with the SDK's LabelInterface (raises LabelConfigError).

    The adjudication project's config also shows the reviewers' votes (task field ``votes_text``)."""
    form = review_form()
    template = resources.files("mmrakit.review").joinpath("data/label_config.xml").read_text("utf-8")
    xml = (template
           .replace("{votes_panel}", VOTES_PANEL if adjudication else "")
           .replace("{answer_choices}", "\n".join(_choice(a) for a in form["answers"]))
           .replace("{verdict_choices}", "\n".join(_choice(v["value"], hint=v.get("hint")) for v in form["verdicts"]))
           .replace("{reason_choices}", "\n".join(_choice(r["value"], alias=r["alias"]) for r in form["reasons"])))
    validate_config(xml)
    return xml


def validate_config(xml: str) -> None:
    from label_studio_sdk.label_interface import LabelInterface

    try:
        li = LabelInterface(xml)
        li.validate()
    except Exception as exc:  # the SDK raises plain exceptions of several types
        raise LabelConfigError(f"labelling config does not validate: {exc}",
                               hint="fix mmrakit/review/data/label_config.xml or review_form.toml") from None
    names = {c.name for c in li.controls}
    missing = [f for f in FORM_FIELDS if f not in names]
    if missing:
        raise LabelConfigError(f"labelling config lacks the controls {missing}",
                               hint="mmrakit reads verdicts from these control names")


@lru_cache(maxsize=1)
def _interface():
    from label_studio_sdk.label_interface import LabelInterface

    return LabelInterface(label_config())


def answer_result(answer: str) -> list[dict]:
    """Result of a prediction (or annotation) that selects ``answer``."""
    return [{"from_name": "answer", "to_name": "question", "type": "choices", "value": {"choices": [answer]}}]


def validate_prediction(result: list[dict], model_version: str) -> None:
    errors = _interface().validate_prediction({"result": result, "model_version": model_version}, return_errors=True)
    if errors is not True and errors:
        raise LabelConfigError(f"prediction does not fit the labelling config: {errors}")

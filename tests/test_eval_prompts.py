"""Prompts, MMRA answer extraction and ReMI parsing/scoring rules (pure functions, fast)."""

from __future__ import annotations

import json

import pytest

from mmrakit.errors import InputError
from mmrakit.modelhub.prompts import (
    BAD_JSON, PROMPT_TEMPLATES, REMI_TASKS, extract_mmra_answer, extract_mmra_answer_demo, extract_remi_answer,
    mmra_prompt, remi_appendix, remi_prompt_parts, remi_prompt_text,
)
from mmrakit.evaluation.scoring import exact_match, remi_correct, summarise

OPTS = {"A": "a knife", "B": "a spoon", "C": "a red car", "D": "grapes"}
CHOICE, TF = "Choice QA", "True or false QA"


# --- MMRA prompts ----------------------------------------------------------------------------------

def test_mmra_choice_prompt_is_the_papers_template_filled_in():
    text = mmra_prompt("Which is used for cutting?", OPTS, "Choice QA")
    assert text == (
        "You will be giving one question, two images,  and four answers, one of them is correct. Please choose one of "
        "the four answers. please only answer the question with A, B, C or D. questions: Which is used for cutting? "
        "answer:  A: a knife  B: a spoon  C: a red car  D: grapes Your answer is "
    )


def test_mmra_three_options_and_misspelt_qa_type():
    text = mmra_prompt("Q?", {"A": "x", "B": "y", "C": "z"}, "Chooice QA")
    assert "please only answer the question with A, B, C. questions: Q? answer:  A: x  B: y  C: z Your answer is " in text
    assert " D:" not in text


def test_mmra_yes_no_prompt_and_unknown_type():
    assert mmra_prompt("Same place?", None, "True or false QA").endswith(
        'Please only answer the question with Yes or No. questions: Same place? Your answer is ')
    with pytest.raises(InputError, match="unknown QA_type 'Essay'"):
        mmra_prompt("Q", None, "Essay")
    with pytest.raises(InputError, match="no options"):
        mmra_prompt("Q", None, "Choice QA")


def test_prompt_templates_are_raw_data():
    assert set(PROMPT_TEMPLATES) >= {"mmra", "remi", "version"}
    assert "{question}" in PROMPT_TEMPLATES["mmra"]["choice_4"]
    assert set(PROMPT_TEMPLATES["remi"]["answer_field"]) == set(REMI_TASKS) and len(REMI_TASKS) == 13


# --- MMRA extraction -------------------------------------------------------------------------------

@pytest.mark.parametrize("response, expected, method", [
    ("The answer is (B).", "B", "answer_phrase"),
    ("b", "B", "letter_only"),
    ("B", "B", "letter_only"),
    ("**C**", "C", "letter_only"),
    ("Answer: d", "D", "answer_phrase"),
    ("C. a red car", "C", "leading_letter"),
    ("A dog is shown in one image, so the pick is (D)", "D", "paren_letter"),
    ("I would say a spoon.", "B", "option_text"),
    ("grapes", "D", "option_text"),
    ("A or B", None, "ambiguous_letters"),
    ("(A) and (C)", None, "ambiguous_letters"),
    ("a knife or a spoon", None, "ambiguous_option_text"),
    ("The answer is a dog", None, "none"),
    ("", None, "none"),
    ("E", None, "none"),
])
def test_mmra_choice_extraction(response, expected, method):
    assert extract_mmra_answer(response, OPTS, CHOICE) == (expected, method)


def test_option_text_inside_a_longer_option_is_not_double_counted():
    opts = {"A": "red", "B": "dark red", "C": "blue"}
    assert extract_mmra_answer("It is dark red.", opts, CHOICE) == ("B", "option_text")


def test_three_option_item_ignores_d():
    assert extract_mmra_answer("D", {"A": "x", "B": "y", "C": "z"}, CHOICE) == (None, "none")


@pytest.mark.parametrize("response, expected, method", [
    ("Yes, because both images show a kitchen.", "Yes", "leading_yes_no"),
    ("no.", "No", "yes_no_only"),
    ("The answer is No", "No", "answer_phrase"),
    ("I think yes", "Yes", "yes_no_majority"),
    ("Maybe yes, maybe no", None, "ambiguous_yes_no"),
    ("True", "Yes", "yes_no_only"),
    ("Neither image", None, "none"),
])
def test_mmra_yes_no_extraction(response, expected, method):
    assert extract_mmra_answer(response, None, TF) == (expected, method)


def test_demo_rule_reproduces_mmra_tie_break():
    # MMRA's script: most frequent letter, ties go to the tied letter first seen latest
    assert extract_mmra_answer_demo("A or B", CHOICE) == "B"
    assert extract_mmra_answer_demo("(C) because (C) not (A)", CHOICE) == "C"
    assert extract_mmra_answer_demo("b", CHOICE) is None  # its pattern is upper-case only
    assert extract_mmra_answer_demo("yes no no", TF) == "No"


# --- ReMI prompts and parsing -----------------------------------------------------------------------

def test_remi_prompt_interleaves_images_at_their_tags():
    parts = remi_prompt_parts("Clock <image1> and clock <image2>: minutes apart?", "Clocks", available=[1, 2])
    assert parts[0] == "Question: Clock " and parts[1] == 1 and parts[2] == " and clock " and parts[3] == 2
    assert parts[4].startswith(": minutes apart? Output only a valid JSON string with two fields")
    assert parts[4].endswith("The answer field contains the numeric value corresponding to your final answer.")
    assert remi_prompt_text("Q", "Isomorphism") == "Question: Q" + remi_appendix("Isomorphism")


def test_remi_prompt_rejects_tag_without_image_and_unknown_task():
    with pytest.raises(InputError, match="<image3>"):
        remi_prompt_parts("<image1> <image3>", "Maps", available=[1, 2])
    with pytest.raises(InputError, match="unknown ReMI task"):
        remi_appendix("Sudoku")


def test_remi_appendix_is_verbatim():
    assert remi_appendix("Collisions") == (
        ' Output only a valid JSON string with two fields: "explanation" and "answer". Do not output anything else. '
        'The explanation field contains your reasoning. The answer field contains the numeric value corresponding to '
        'your final answer. If it is a yes or no question, the answer field must be 0 for no and 1 for yes.')


@pytest.mark.parametrize("response, expected", [
    ('{"explanation": "x", "answer": "42"}', ("42", "json")),
    ('Sure! ```json\n{"explanation": "x", "answer": "Paris"}\n``` done', ("paris", "json")),
    ('{"explanation": "x", "answer": "12.5%"}', ("12.5", "json")),
    ('{"explanation": "x", "answer": 7}', ("7", "json")),
    ('{"explanation": "say \\"hi\\"", "answer": "b"}', ("b", "json")),
    ("The answer is 42", (BAD_JSON, "bad_json")),
    ('{"explanation": "x"}', (BAD_JSON, "bad_json")),
    ('{"answer": "4"', (BAD_JSON, "bad_json")),
    ('["answer"]', (BAD_JSON, "bad_json")),
])
def test_remi_answer_parsing(response, expected):
    assert extract_remi_answer(response) == expected


# --- ReMI scoring rules, every task ------------------------------------------------------------------

def pred(answer) -> str:
    return extract_remi_answer(json.dumps({"explanation": "", "answer": answer}))[0]


@pytest.mark.parametrize("task, label, answer, correct", [
    ("GeomShape", "100", "102.9", True), ("GeomShape", "100", "103.5", False), ("GeomShape", "100", "97.1", True),
    ("GeomCost", "250", "257", True), ("GeomCost", "250", "258", False),
    ("Clocks", "120", "130", True), ("Clocks", "120", "110", True), ("Clocks", "120", "131", False),
    ("RefCoco", "2,3", "3", True), ("RefCoco", "2,3", "4", False), ("RefCoco", "5", "5", True),
    ("EmojiAlgebra", "92", "92.0", True), ("EmojiAlgebra", "92", "92.9", True), ("EmojiAlgebra", "92", "93", False),
    ("FuncRead", "f", "f(x)", True), ("FuncRead", "g", "f(x)", False), ("FuncRead", "-2", "-2", True),
    ("Collisions", "1", "1", True), ("Collisions", "1", "0", False),
    ("Schedule", "Boston", "boston", True), ("Schedule", "Gate B4", "gateb4", True), ("Schedule", "Boston", "NYC", False),
    ("Charts", "(Orange, decreased)", "orange, decreased", True), ("Charts", "12", "12.1", True),
    ("Charts", "Orange", "apple", False),
    ("CodeEdit", "\\draw (0,0) -- (1,1);", "\\draw (0,0) -- (1,1);", True),
    ("CodeEdit", "\\draw (0,0) -- (1,1);", "\\draw (0,0) -- (2,2);", False),
    ("Isomorphism", "1", "1", True), ("Isomorphism", "0", "1", False),
    ("Maps", "A", "a", True), ("Maps", "Equal", "equal", True), ("Maps", "A", "b", False),
    ("IQ", "C", "c", True), ("IQ", "C", "d", False),
])
def test_remi_rules(task, label, answer, correct):
    assert remi_correct(task, label, pred(answer)) is correct


def test_remi_bad_json_is_wrong_and_relative_rule_inverts_for_negative_labels():
    assert remi_correct("Maps", "bad_json", BAD_JSON) is False
    # the Colab's bounds invert for negative labels: kept for comparability
    assert remi_correct("GeomShape", "-100", "-101") is False
    assert exact_match("-5", "-5.0") is True


def test_every_remi_task_has_rule_cases():
    tested = {c[0] for c in test_remi_rules.pytestmark[0].args[1]}
    assert tested == set(REMI_TASKS)


# --- aggregation -----------------------------------------------------------------------------------

def _rec(task, correct, level=None, rid=None, twin=None):
    return {"id": rid or f"{task}-{correct}-{id(object())}", "task": task, "level": level, "correct": correct,
            "method": "x", "error": None, "twin_of": twin}


def test_mmra_overall_is_sample_weighted_and_remi_overall_is_unweighted():
    recs = [_rec("UsageSimilarity", True, "entity") for _ in range(9)] + [_rec("SubEvent", False, "image")]
    s = summarise("mmra", recs, samples=200)
    assert s["overall"]["accuracy"] == 90.0
    assert s["levels"]["entity"]["accuracy"] == 100.0 and s["levels"]["image"]["accuracy"] == 0.0
    r = summarise("remi", recs, samples=200)
    assert r["overall"]["accuracy"] == 50.0  # mean of 100 and 0
    lo, hi = s["overall"]["ci95"]
    assert lo <= 90.0 <= hi


def test_bootstrap_interval_narrows_with_more_items():
    few = summarise("mmra", [_rec("Layout", i % 2 == 0) for i in range(10)], samples=500)
    many = summarise("mmra", [_rec("Layout", i % 2 == 0) for i in range(1000)], samples=500)
    w = lambda s: s["overall"]["ci95"][1] - s["overall"]["ci95"][0]  # noqa: E731
    assert w(many) < w(few) / 3


def test_order_consistency_pairs_twins():
    recs = [_rec("SubEvent", True, rid="a"), _rec("SubEvent", False, rid="a2", twin="a"),
            _rec("SubEvent", True, rid="b"), _rec("SubEvent", True, rid="b2", twin="b")]
    oc = summarise("mmra", recs, samples=0)["order_consistency"]
    assert oc["pairs"] == 2 and oc["both_correct"] == 50.0 and oc["consistent"] == 50.0
    assert oc["original_accuracy"] == 100.0 and oc["swapped_accuracy"] == 50.0

"""review without a server: agreement maths against hand-computed values, consensus, config, payloads, retries."""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timedelta, timezone

import pytest

from mmrakit.errors import ConfigError, InputError
from mmrakit.models import ReviewVerdict
from mmrakit.records import ImageCatalog
from support import review_sample as sample
from mmrakit.review.agreement import agreement_report, cohen_kappa, fleiss_kappa, krippendorff_alpha
from mmrakit.review.client import LabelStudioAuthError, LabelStudioClient, LabelStudioError, updated_filter
from mmrakit.review.config import LabelConfigError, answer_result, label_config, validate_config, validate_prediction
from mmrakit.review.consensus import decide
from mmrakit.review.pull import annotation_verdict
from mmrakit.review.media import MediaFolder
from mmrakit.review.push import ImageUrls, task_payload
from mmrakit.settings import ReviewSettings

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def v(cid: str, reviewer: str, choice: str, answer: str | None = None, *, adj: bool = False, q: str | None = None,
      t: int = 0) -> ReviewVerdict:
    return ReviewVerdict(candidate_id=cid, reviewer=reviewer, choice=choice, answer=answer, adjudication=adj,
                         corrected_question=q, updated_at=T0 + timedelta(seconds=t))


# --- agreement: values computed by hand in the comments ------------------------------------------

ITEMS = [list("AAA"), list("AAR"), list("RRR"), list("ABR")]


def test_fleiss_kappa_hand_computed():
    # P_i = 1, 1/3, 1, 0 -> P̄ = 7/12; p = A 6/12, R 5/12, B 1/12 -> P_e = 62/144; kappa = 11/41
    assert fleiss_kappa(ITEMS) == pytest.approx(11 / 41)
    assert fleiss_kappa([list("AA"), list("AA")]) is None  # one category only: undefined, not 1
    with pytest.raises(ValueError):
        fleiss_kappa([list("AA"), list("AAB")])


def test_krippendorff_alpha_hand_computed():
    # coincidences: off-diagonal mass 5 of n = 12 -> D_o = 5/12; n_c = A6 R5 B1 -> D_e = 82/132; alpha = 27/82
    ratings = {str(i): {f"r{j}": c for j, c in enumerate(item)} for i, item in enumerate(ITEMS)}
    assert krippendorff_alpha(ratings) == pytest.approx(27 / 82)
    # a missing rating is allowed: item 3 rated by two reviewers only
    ratings["3"].pop("r2")
    assert krippendorff_alpha(ratings) is not None


def test_cohen_kappa_hand_computed():
    # p_o = 3/4; p_e = 3/4*2/4 + 1/4*1/4 = 7/16 -> kappa = 5/9
    assert cohen_kappa(list("AARA"), list("AARB")) == pytest.approx(5 / 9)
    assert cohen_kappa(list("AB"), list("AB")) == pytest.approx(1.0)
    assert cohen_kappa(list("AA"), list("AA")) is None


def test_agreement_report_groups_and_generator():
    verdicts = [v("c1", "r1", "accept", "B"), v("c1", "r2", "accept", "B"),
                v("c2", "r1", "reject"), v("c2", "r2", "correct", "No")]
    rep = agreement_report(verdicts, {"c1": "UsageSimilarity", "c2": "Environment"}, {"c1": "B", "c2": "Yes"}, k=2)
    assert rep.overall.items == 2 and rep.overall.verdicts == 4
    # generator agrees with 2 of 4 verdicts (both on c1)
    assert rep.overall.generator_accept_rate == pytest.approx(0.5)
    assert set(rep.per_subtask) == {"UsageSimilarity", "Environment"}
    assert rep.pairs[0].reviewers == ("r1", "r2") and rep.pairs[0].items == 2
    # r1 = [B, REJECT], r2 = [B, No]: p_o = 1/2, p_e = 1/4 -> 1/3
    assert rep.pairs[0].cohen_kappa == pytest.approx(1 / 3)


# --- consensus -----------------------------------------------------------------------------------

S = ReviewSettings()  # K = 3, 2 of 3


def test_consensus_rule():
    assert decide([v("c", "a", "accept", "B"), v("c", "b", "accept", "B"), v("c", "c", "reject")], S).status == "validated"
    corrected = decide([v("c", "a", "correct", "No", q="Fixed?"), v("c", "b", "correct", "No", q="Fixed?"),
                        v("c", "c", "accept", "Yes")], S)
    assert (corrected.status, corrected.answer, corrected.question) == ("validated", "No", "Fixed?")
    assert corrected.agreement == pytest.approx(2 / 3)
    assert decide([v("c", "a", "reject"), v("c", "b", "reject"), v("c", "c", "accept", "B")], S).status == "rejected"
    assert decide([v("c", "a", "accept", "Yes"), v("c", "b", "reject"), v("c", "c", "correct", "No")], S).status == "conflict"
    assert decide([v("c", "a", "accept", "B"), v("c", "b", "accept", "B")], S).status == "pending"  # K not reached
    assert decide([], S).status == "pending"
    # one person annotating twice is one vote (their latest), not two
    twice = [v("c", "a", "accept", "B", t=0), v("c", "a", "accept", "B", t=1), v("c", "b", "reject")]
    assert decide(twice, S).status == "pending"
    assert decide([*twice, v("c", "c", "reject")], S).status == "rejected"


def test_adjudication_is_final():
    people = [v("c", "a", "accept", "Yes"), v("c", "b", "reject"), v("c", "c", "correct", "No")]
    final = decide([*people, v("c", "senior", "correct", "No", adj=True)], S)
    assert (final.status, final.answer, final.adjudicated) == ("validated", "No", True)
    assert decide([*people, v("c", "senior", "reject", adj=True)], S).status == "rejected"


# --- labelling config and payloads ---------------------------------------------------------------

def test_label_config_validates_client_side():
    xml = label_config()
    assert 'value="Image 1"' in xml and 'value="Image 2"' in xml and "display: flex" in xml
    assert 'alias="answerable_from_one_image"' in xml
    validate_prediction(answer_result("Yes"), "v1")
    with pytest.raises(LabelConfigError):
        validate_prediction(answer_result("E"), "v1")
    with pytest.raises(LabelConfigError):
        validate_config(xml.replace('toName="question"', 'toName="nowhere"', 1))


def test_payload_puts_exactly_the_images_in_the_media_folder(workspace, tmp_path):
    media = tmp_path / "media"
    cands = sample.seed(workspace, tmp_path / "far" / "pool", 2, builder_version="b7")
    urls = ImageUrls(workspace, media)
    p = task_payload(cands[0], urls)
    assert p["data"]["candidate_id"] == cands[0].id
    # relative to the document root, named by content: no folder of the machine in the URL
    assert p["data"]["image1"] == f"/data/local-files/?d=images/{cands[0].image1}.png"
    assert str(tmp_path) not in json.dumps(p)
    assert p["predictions"][0]["model_version"] == "b7"
    assert p["predictions"][0]["result"] == answer_result(cands[0].answer)
    served = sorted(os.listdir(media / "images"))
    assert served == sorted(f"{s}.png" for s in (cands[0].image1, cands[0].image2))
    src = ImageCatalog(workspace).file_path(ImageCatalog(workspace).get(cands[0].image1))
    linked = media / "images" / f"{cands[0].image1}.png"
    assert linked.read_bytes() == src.read_bytes() and not linked.is_symlink()
    assert os.stat(linked).st_ino == os.stat(src).st_ino  # a hard link on the same filesystem
    assert oct(os.stat(media).st_mode & 0o777) == "0o700"
    # an image reached through a symlink is stored as a regular file (Label Studio follows symlinks)
    outside = tmp_path / "outside"
    sha = sample.make_images(workspace, outside, 3)[2]
    link = tmp_path / "far" / "pool" / "via-link.png"
    os.symlink(outside / "img00002.png", link)
    rec = ImageCatalog(workspace).get(sha)
    ImageCatalog(workspace).upsert([rec.model_copy(update={"path": str(link)})])
    assert ImageUrls(workspace, media)(sha, "cX") == f"/data/local-files/?d=images/{sha}.png"
    assert (media / "images" / f"{sha}.png").is_file() and not (media / "images" / f"{sha}.png").is_symlink()
    # a file whose bytes no longer match the catalogue hash never enters the folder
    (outside / "img00001.png").write_bytes(b"not the catalogued image")
    changed = sample.make_images(workspace, tmp_path / "other", 5)[4]  # not in the folder yet
    ImageCatalog(workspace).upsert([ImageCatalog(workspace).get(changed).model_copy(
        update={"path": str(outside / "img00001.png")})])
    with pytest.raises(InputError, match="no longer matches its catalogue sha256"):
        ImageUrls(workspace, media)(changed, "cY")
    assert not any(n.startswith(changed) for n in os.listdir(media / "images"))


def test_media_folder_refuses_a_folder_with_other_files_and_prunes_strays(tmp_path):
    busy = tmp_path / "dataset"
    busy.mkdir()
    (busy / "annotations.json").write_text("{}")
    with pytest.raises(ConfigError, match="not an mmrakit review media folder") as err:
        MediaFolder.open(busy)
    assert "annotations.json" in str(err.value) and "LOCAL_FILES_DOCUMENT_ROOT" in err.value.hint
    assert sorted(os.listdir(busy)) == ["annotations.json"]  # nothing touched
    m = MediaFolder.open(tmp_path / "media")
    secret = tmp_path / "secret.txt"
    secret.write_text("token")
    keep = "a" * 64 + ".png"
    (m.images / keep).write_bytes(b"x")
    os.symlink(secret, m.images / ("b" * 64 + ".png"))
    (m.images / "notes.txt").write_text("x")
    (m.images / "sub").mkdir()
    assert sorted(m.prune_strays()) == sorted(["b" * 64 + ".png", "notes.txt", "sub"])
    assert os.listdir(m.images) == [keep] and secret.exists()
    assert m.collect([]) == [keep] and os.listdir(m.images) == []
    assert MediaFolder.open(tmp_path / "media").root == m.root  # its own folder opens again


def test_annotation_parsing():
    data = {"candidate_id": "c1", "proposed_answer": "B", "valid_answers": ["A", "B", "C", "D"]}
    ann = {"id": 7, "updated_at": "2026-01-01T00:00:00.123456Z", "lead_time": 3.5,
           "result": sample.annotation_result("reject", reasons=("wrong_answer", "Ambiguous"))}
    got = annotation_verdict(ann, data, "r@x", adjudication=False)
    assert (got.choice, got.answer, got.reasons, got.lead_time_s) == ("reject", None, ["wrong_answer", "ambiguous"], 3.5)
    # accept with another option selected is a correction; a correction to the proposal is an accept
    assert annotation_verdict({**ann, "result": sample.annotation_result("accept", "C")}, data, "r", adjudication=False).choice == "correct"
    assert annotation_verdict({**ann, "result": sample.annotation_result("correct", "B")}, data, "r", adjudication=False).choice == "accept"
    # "Yes" is not an answer of a Choice QA item: the verdict endorses nothing
    assert annotation_verdict({**ann, "result": sample.annotation_result("correct", "Yes")}, data, "r", adjudication=False).answer is None
    assert annotation_verdict({**ann, "was_cancelled": True}, data, "r", adjudication=False) is None


def test_updated_filter_uses_exact_datetime_format():
    q = updated_filter("2026-11-23T08:05:42.298397Z")
    item = q["filters"]["items"][0]
    assert item["filter"] == "filter:tasks:updated_at" and item["value"].endswith("Z") and q["ordering"] == ["tasks:updated_at"]


# --- transport: a closed port, retried with backoff, then a clear error -----------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_down_server_retries_then_clear_error():
    delays: list[float] = []
    secret = "s3cr3t-token-value-0000"
    client = LabelStudioClient(f"http://127.0.0.1:{_free_port()}", secret, max_retries=3, backoff_s=0.5,
                               sleep=delays.append)
    with pytest.raises(LabelStudioError) as err:
        client.version()
    assert delays == [0.5, 1.0, 2.0]
    assert "after 4 attempts" in str(err.value) and secret not in str(err.value)


def test_empty_token_is_refused():
    with pytest.raises(LabelStudioAuthError):
        LabelStudioClient("http://127.0.0.1:1", "", token_source="$LABEL_STUDIO_API_KEY")


def test_settings_reject_impossible_consensus():
    with pytest.raises(ValueError, match="cannot exceed"):
        ReviewSettings(reviewers=2, min_accept=3)


# --- server discovery and secrets ---------------------------------------------------------------

def test_label_studio_binary_lookup(monkeypatch, tmp_path):
    from mmrakit.errors import ConfigError
    from mmrakit.review.server import BIN_ENV, label_studio_bin

    monkeypatch.setenv(BIN_ENV, str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="not an executable"):
        label_studio_bin()
    monkeypatch.delenv(BIN_ENV)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="not installed") as err:
        label_studio_bin()
    assert "make setup" in err.value.hint
    fake = tmp_path / "label-studio"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert label_studio_bin() == str(fake)


def test_generated_secrets_are_private_and_env_wins(workspace, monkeypatch):
    from mmrakit.review.server import SECRETS_FILE, data_dir, local_secrets

    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    made = local_secrets(workspace, create=True)
    path = data_dir(workspace) / SECRETS_FILE
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert len(made["token"]) == 40 and made["password"] and made["token_source"] == f"{SECRETS_FILE} in the data dir"
    assert local_secrets(workspace, create=True)["token"] == made["token"]  # generated once
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "from-env-token")
    assert local_secrets(workspace) == {**made, "token": "from-env-token", "token_source": "$LABEL_STUDIO_API_KEY"}


def test_verdicts_are_readable_through_the_core(workspace):
    """exports read raw votes through mmrakit.verdicts, without importing review/."""
    from mmrakit import verdicts as core_verdicts
    from mmrakit.models import ReviewVerdict
    from mmrakit.review.store import ReviewStore

    assert core_verdicts.verdicts(workspace.db) == []  # review never ran: no table, no verdicts
    store = ReviewStore(workspace)
    votes = [ReviewVerdict(candidate_id="c1", reviewer="r1@x", choice="reject", reasons=["ambiguous"], annotation_id=7),
             ReviewVerdict(candidate_id="c1", reviewer="r2@x", choice="accept", answer="B", annotation_id=8)]
    store.replace_task_verdicts("http://127.0.0.1:1", 1, {11: votes}, {11: "B"})
    got = core_verdicts.verdicts(workspace.db, candidate_ids=["c1"])
    assert [(v.reviewer, v.choice, v.reasons, v.answer) for v in got] == [
        ("r1@x", "reject", ["ambiguous"], None), ("r2@x", "accept", [], "B")]
    assert core_verdicts.verdicts(workspace.db, candidate_ids=["other"]) == []


def test_raw_votes_through_the_core_are_pseudonymous_and_current(workspace, tmp_path):
    """One vote per reviewer (their latest edit), the adjudication last; ids are keyed hashes, not emails."""
    from mmrakit import verdicts as core_verdicts
    from mmrakit.review.store import ReviewStore
    from mmrakit.workspace import Workspace

    store = ReviewStore(workspace)
    url = "http://127.0.0.1:1"

    def put(project: int, ann: int, verdict: ReviewVerdict) -> None:
        store.replace_task_verdicts(url, project, {project * 10: [verdict.model_copy(update={"annotation_id": ann})]},
                                    {project * 10: "B"})

    put(1, 1, v("c1", "Alice@Example.org", "accept", "B", t=0))
    put(2, 2, v("c1", "bob@example.org", "reject", t=0))
    put(3, 3, v("c1", "senior@example.org", "correct", "C", adj=True, t=5))
    # the same reviewer (any case) in another project later, e.g. a re-review: the latest counts, once
    put(4, 4, v("c1", "alice@example.org", "correct", "A", t=9))
    got = core_verdicts.votes(workspace)["c1"]
    key = core_verdicts.pseudonym_key(workspace)
    alice, bob = core_verdicts.pseudonym(key, "alice@example.org"), core_verdicts.pseudonym(key, "bob@example.org")
    assert core_verdicts.pseudonym(key, "Alice@Example.org") == alice  # case-folded: one person, one id
    assert len(got) == 3
    people = {x.reviewer: (x.verdict, x.answer) for x in got if not x.adjudication}
    assert people == {alice: ("correct", "A"), bob: ("reject", None)}
    assert got[-1].adjudication and (got[-1].verdict, got[-1].answer) == ("correct", "C")
    ids = [x.reviewer for x in got]
    assert len(set(ids)) == 3 and all(i.startswith("r-") and len(i) == 12 for i in ids)
    text = json.dumps([x.model_dump() for x in got])
    assert "alice" not in text.lower() and "bob" not in text and "example" not in text
    key_file = workspace.path(*core_verdicts.KEY_FILE)
    assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"
    # stable within a workspace, unrelated across workspaces (another key)
    assert [x.reviewer for x in core_verdicts.votes(workspace)["c1"]] == ids
    other = Workspace.init(tmp_path / "other")
    assert core_verdicts.pseudonym(core_verdicts.pseudonym_key(other), "bob@example.org") not in ids


def test_review_store_migrates_v1_projects(tmp_path):
    """A v1 catalogue (kind CHECKed to main/adjudication) keeps its projects and accepts per-reviewer kinds."""
    from mmrakit.review.store import ReviewStore
    from mmrakit.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    with ws.db as c:
        c.execute("CREATE TABLE review_projects (url TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN "
                  "('main', 'adjudication')), project_id INTEGER NOT NULL, created_at TEXT NOT NULL, "
                  "PRIMARY KEY (url, kind))")
        c.execute("INSERT INTO review_projects VALUES ('u', 'main', 4, 't')")
        c.execute("INSERT INTO schema_versions (component, version) VALUES ('review', 1)")
    store = ReviewStore(ws)
    assert store.projects("u") == {"main": 4}
    store.set_project("u", "reviewer:a@x", 5)
    assert store.projects("u") == {"main": 4, "reviewer:a@x": 5}


def test_reviewer_projects_need_one_account_each(workspace):
    from mmrakit.review.push import reviewer_kinds

    assert reviewer_kinds(workspace) == [f"reviewer:reviewer{i}@mmrakit.local" for i in (1, 2, 3)]
    workspace.settings.review = workspace.settings.review.model_copy(update={"reviewer_emails": ["a@x", "b@x"]})
    with pytest.raises(ConfigError, match="2 reviewer_emails for reviewers = 3"):
        reviewer_kinds(workspace)
    workspace.settings.review = workspace.settings.review.model_copy(update={"isolation": "shared"})
    assert reviewer_kinds(workspace) == ["main"]


def test_adjudication_config_shows_votes_and_guide_names_every_reason():
    from mmrakit.review.config import judging_guide, review_form
    from mmrakit.review.push import votes_text

    assert "$votes_text" in label_config(adjudication=True) and "$votes_text" not in label_config()
    guide = judging_guide()
    for reason in review_form()["reasons"]:
        assert reason["value"] in guide, reason  # the guide names each reason as the form shows it
    for verdict in ("accept", "correct", "reject"):
        assert f"<b>{verdict}</b>" in guide
    assert votes_text([{"reviewer": "r-1", "verdict": "reject", "answer": None, "reasons": ["ambiguous"]},
                       {"reviewer": "r-2", "verdict": "correct", "answer": "No", "reasons": [],
                        "corrected_question": "Same place?"}]) == (
        'r-1: reject (ambiguous)\nr-2: correct -> No (question: "Same place?")')


def test_pull_parses_annotations_captured_from_the_real_labelling_form():
    """tests/data/labelstudio-form-annotations.json: what Label Studio's form submitted when a reviewer
    clicked it in Chromium (tests/test_review_labelstudio.py::test_real_labelling_form_annotations_parse,
    MMRAKIT_CAPTURE_FORM=1). The form stores reason aliases and keeps the pre-selected answer (origin
    "prediction") even on a reject."""
    import json
    from pathlib import Path

    from mmrakit.review.pull import annotation_verdict

    form = json.loads((Path(__file__).parent / "data" / "labelstudio-form-annotations.json").read_text())
    assert {r["origin"] for r in form["reject_ambiguous"] if r["from_name"] == "answer"} == {"prediction"}
    when = "2026-12-01T00:58:24.123456Z"
    reject = annotation_verdict({"id": 1, "result": form["reject_ambiguous"], "updated_at": when},
                                {"candidate_id": "c0", "proposed_answer": "B", "valid_answers": ["A", "B", "C", "D"]},
                                "r1@x", adjudication=False)
    assert (reject.choice, reject.answer, reject.reasons) == ("reject", None, ["ambiguous"])
    accept = annotation_verdict({"id": 2, "result": form["accept_preselected"], "updated_at": when},
                                {"candidate_id": "c1", "proposed_answer": "Yes", "valid_answers": ["Yes", "No"]},
                                "r1@x", adjudication=False)
    assert (accept.choice, accept.answer, accept.reasons) == ("accept", "Yes", [])

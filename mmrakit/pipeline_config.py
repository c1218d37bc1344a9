"""The pipeline file (``mmrakit run PIPELINE.toml``): one config for every stage, validated by pydantic.

Paths are relative to the pipeline file. ``[settings]`` is merged over the workspace's
``mmrakit.toml`` (same sections and keys), so a pipeline is reproducible from one file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError
from .settings import Settings, format_validation_error, read_toml


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Model):
    path: str
    format: str


class RelationsStep(_Model):
    sources: list[Source] = Field(default_factory=list)


class ImagesStep(_Model):
    sources: list[Source] = Field(default_factory=list)
    image_root: str | None = None
    copy_files: bool = False


class EmbedStep(_Model):
    clip: bool = Field(True, description="false = caption and hash paths only")
    captions: bool = True


class DedupStep(_Model):
    exact: bool = True
    near: bool = True
    semantic: bool = True


class BuildStep(_Model):
    subtasks: list[str] | Literal["all"] = "all"
    per_subtask: int | None = None
    mmra_distribution: bool = False


class ReviewStep(_Model):
    enabled: bool = Field(True, description="false = stop after build/export preview and print the review commands")
    reviewers: int | None = None
    min_reviewed_fraction: float = Field(1.0, ge=0.0, le=1.0, description="Share of pushed tasks that must be complete before export")


class ExportStep(_Model):
    out: str = "exports/dataset"
    formats: list[str] = Field(default_factory=lambda: ["hf", "parquet"])
    include_unreviewed: bool = False
    with_provenance: bool = True


class EvalStep(_Model):
    models: list[str] = Field(default_factory=lambda: ["random"])
    limit: int | None = None


class PipelineConfig(_Model):
    workspace: str = "workspace"
    settings: dict[str, Any] = Field(default_factory=dict)
    relations: RelationsStep = Field(default_factory=RelationsStep)
    images: ImagesStep = Field(default_factory=ImagesStep)
    embed: EmbedStep = Field(default_factory=EmbedStep)
    dedup: DedupStep = Field(default_factory=DedupStep)
    build: BuildStep = Field(default_factory=BuildStep)
    review: ReviewStep = Field(default_factory=ReviewStep)
    export: ExportStep = Field(default_factory=ExportStep)
    eval: EvalStep = Field(default_factory=EvalStep)

    base_dir: Path = Field(default=Path("."), exclude=True)

    @classmethod
    def load(cls, path: str | Path) -> "PipelineConfig":
        path = Path(path)
        raw = read_toml(path, missing_hint="give the path of a pipeline file such as demo/pipeline.toml")
        try:
            cfg = cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, str(path))) from None
        cfg.base_dir = path.resolve().parent
        cfg.merged_settings(Settings())  # validate [settings] early, naming the key
        return cfg

    def resolve(self, p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else (self.base_dir / q).resolve()

    def merged_settings(self, base: Settings) -> Settings:
        data = base.model_dump(mode="json")
        for section, values in self.settings.items():
            if isinstance(values, dict) and isinstance(data.get(section), dict):
                data[section].update(values)
            else:
                data[section] = values
        return Settings.from_dict(data, source="[settings] of the pipeline file")

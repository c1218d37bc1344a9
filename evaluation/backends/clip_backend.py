"""``clip:MODEL[@PRETRAINED]``: zero-shot baseline that scores a closed answer set by image–text similarity.

MODEL is an open_clip model name (``ViT-B-32``), ``local-dir:/path`` (open_clip_config.json +
weights) or ``hf-hub:org/repo``; PRETRAINED is a pretrained tag or a checkpoint file, loaded the
way open_clip users load them. Choice QA: the option whose text is closest to the mean of the
two image embeddings. Yes/No: "<question> Yes." against "<question> No.". ReMI's free-form
answers cannot be scored this way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from mmrakit.errors import ConfigError, OfflineError

from ..hub import hub_unreachable
from .base import BatchBackend, Request

_OFFLINE_HINT = ("download the checkpoint on a connected machine and pass clip:MODEL@/path/to/checkpoint, "
                 "or clip:local-dir:/path (open_clip_config.json + weights)")


class ClipBackend(BatchBackend):
    def __init__(self, model: str, pretrained: str | None, *, batch_size: int, device: str = "auto") -> None:
        if not model:
            raise ConfigError("clip backend needs a model", hint="write the spec as clip:ViT-B-32[@TAG] or clip:local-dir:/path")
        self.model_name, self.pretrained = model, pretrained
        self.spec = f"clip:{model}" + (f"@{pretrained}" if pretrained else "")
        self.fingerprint = self.spec + _local_hash(model, pretrained)
        self.batch_size = batch_size
        self.generation = {}
        self._device_pref = device
        self._model: Any = None

    def _load(self) -> None:
        if self._model is not None:
            return
        import open_clip
        import torch

        reason = hub_unreachable() if self._needs_download(open_clip) else None
        if reason is not None:
            raise OfflineError(f"clip:{self.model_name}@{self.pretrained}: weights are not on this machine and the "
                               f"Hugging Face Hub is not reachable ({reason})", hint=_OFFLINE_HINT)
        device = ("cuda" if torch.cuda.is_available() else "cpu") if self._device_pref == "auto" else self._device_pref
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(self.model_name, pretrained=self.pretrained,
                                                                         device=device)
            tokenizer = open_clip.get_tokenizer(self.model_name)
        except FileNotFoundError as exc:
            raise ConfigError(f"clip:{self.model_name}: {exc}") from None
        except RuntimeError as exc:
            text = str(exc).lower()
            if "download" in text or "connection" in text:
                raise OfflineError(f"clip:{self.model_name}@{self.pretrained}: cannot fetch weights ({str(exc)[:200]})",
                                   hint=_OFFLINE_HINT) from None
            if "pretrained" in text or "not found" in text:
                raise ConfigError(f"clip:{self.model_name}@{self.pretrained}: {exc}",
                                  hint="use a tag from open_clip.list_pretrained(), a checkpoint file, or local-dir:") from None
            raise
        except OSError as exc:
            raise OfflineError(f"clip:{self.model_name}@{self.pretrained}: cannot fetch weights ({str(exc)[:200]})",
                               hint=_OFFLINE_HINT) from None
        self._model, self._preprocess, self._tokenizer, self._device = model.eval(), preprocess, tokenizer, device

    def _needs_download(self, open_clip: Any) -> bool:
        """True when loading would fetch weights that are not in the local HF cache."""
        if self.model_name.startswith("local-dir:") or not (self.pretrained or self.model_name.startswith("hf-hub:")):
            return False
        if self.pretrained and Path(self.pretrained).is_file():
            return False
        try:
            from huggingface_hub import try_to_load_from_cache

            if self.model_name.startswith("hf-hub:"):
                repo = self.model_name[len("hf-hub:"):]
            else:
                repo = (open_clip.get_pretrained_cfg(self.model_name, self.pretrained) or {}).get("hf_hub", "")
            repo = repo.strip("/")
            if not repo:
                return False  # a URL-only tag: let open_clip decide
            files = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
            return not any(isinstance(try_to_load_from_cache(repo, f), str) for f in files)
        except Exception:
            return False

    def _texts(self, request: Request) -> tuple[list[str], list[str]]:
        if not request.choices:
            raise ConfigError("the clip backend scores closed answer sets (MMRA); ReMI items have free-form answers",
                              hint="use openai:, hf: or random for ReMI")
        if request.option_texts:
            return list(request.option_texts), list(request.option_texts.values())
        return list(request.choices), [f"{request.question} {c}." for c in request.choices]

    def generate_batch(self, requests: list[Request]) -> list[str]:
        import torch

        self._load()
        out = []
        with torch.inference_mode():
            for r in requests:
                answers, texts = self._texts(r)
                images = r.images
                if not images:
                    raise ConfigError("the clip backend needs images (it cannot run the QO setting)")
                pixels = torch.stack([self._preprocess(img.pil()) for img in images]).to(self._device)
                img = self._model.encode_image(pixels).float()
                img = torch.nn.functional.normalize(img, dim=-1).mean(0, keepdim=True)
                txt = self._model.encode_text(self._tokenizer(texts).to(self._device)).float()
                txt = torch.nn.functional.normalize(txt, dim=-1)
                scores = (img @ txt.T).squeeze(0)
                out.append(answers[int(scores.argmax())])
        return out

    def close(self) -> None:
        self._model = None


def _local_hash(model: str, pretrained: str | None) -> str:
    """Local weights are fingerprinted by size+mtime, so retraining invalidates cached answers."""
    paths = []
    if model.startswith("local-dir:"):
        d = Path(model[len("local-dir:"):])
        if d.is_dir():
            paths += sorted(p for p in d.iterdir() if p.is_file())
    if pretrained and Path(pretrained).is_file():
        paths.append(Path(pretrained))
    if not paths:
        return ""
    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return "#" + h.hexdigest()[:16]

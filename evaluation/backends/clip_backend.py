"""``clip:MODEL[@PRETRAINED]``: zero-shot baseline that scores a closed answer set by image–text similarity.

MODEL is an open_clip model name (``ViT-B-32``), ``local-dir:/path`` (open_clip_config.json +
weights) or ``hf-hub:org/repo``; PRETRAINED is a pretrained tag or a checkpoint file, loaded the
way open_clip users load them. Choice QA: the option whose text is closest to the mean of the
two image embeddings. Yes/No: "<question> Yes." against "<question> No.". ReMI's free-form
answers cannot be scored this way.
"""

from __future__ import annotations

from typing import Any

from mmrakit.errors import ConfigError
from mmrakit.modelhub.fingerprint import file_digest, fingerprint, local_weights

from .base import BatchBackend, Request


class ClipBackend(BatchBackend):
    def __init__(self, model: str, pretrained: str | None, *, batch_size: int, device: str = "auto") -> None:
        if not model:
            raise ConfigError("clip backend needs a model", hint="write the spec as clip:ViT-B-32[@TAG] or clip:local-dir:/path")
        self.model_name, self.pretrained = model, pretrained
        self.spec = f"clip:{model}" + (f"@{pretrained}" if pretrained else "")
        weights = local_weights(model, pretrained)  # local weights: their content is part of the cache key
        self.fingerprint = self.spec + (f"#{fingerprint({'weights': [file_digest(w) for w in weights]})}" if weights else "")
        self.batch_size = batch_size
        self.generation = {}
        self._device_pref = device
        self._model: Any = None

    def _load(self) -> None:
        if self._model is not None:
            return
        from mmrakit.modelhub.clip import ClipSpec, load_clip, resolve_device

        device = resolve_device(self._device_pref)
        bundle = load_clip(ClipSpec(self.model_name, self.pretrained, device, "fp32"))  # the one CLIP loader
        self._model, self._preprocess, self._tokenizer, self._device = bundle.model, bundle.preprocess, bundle.tokenizer, device

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

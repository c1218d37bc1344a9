"""The model layer: every way mmrakit reaches a model, in one place, usable by any stage.

| module | job |
|---|---|
| ``hub.py`` | the one Hugging Face Hub offline check, and "is it in the local cache" |
| ``fingerprint.py`` | the one weights fingerprint (sha256 of weight files, cached by size+mtime) |
| ``retry.py`` | the one retry policy (tenacity: exponential backoff, optional jitter, Retry-After) |
| ``clip.py`` | open_clip loading (named tag, checkpoint file, ``local-dir:``, ``hf-hub:``) and its fingerprint |
| ``text.py`` | sentence-embedding models (captions) and their fingerprint |
| ``hf.py`` | local transformers vision-language / language models: loading and batched generation (``hf:`` in evaluation, model panels) |
| ``openai.py`` | the one OpenAI-compatible chat client (async, the retry policy, key from the environment) |
| ``cache.py`` | the response cache and its key scheme (fingerprint + request parts + generation settings) |
| ``prompts.py`` (+ ``mmrakit/data/prompts.toml``) | MMRA/ReMI prompt templates and answer extraction |

The runner's ``openai:`` backend (``evaluation/backends/openai_backend.py``) and the build-time model
panels (``builders/panels.py``) both use :mod:`.openai`.

Stages import from here (``mmrakit.modelhub.clip`` ...), never from another stage's folder, so the
builders can ask a model without importing ``evaluation/``.
"""

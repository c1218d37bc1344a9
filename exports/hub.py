"""Publishing an export to the Hugging Face Hub (and reading MMRA-format datasets from it).

The token comes from the environment (``HF_TOKEN`` by default) at call time and is handed to
huggingface_hub only: it is never written to the export, the settings, the catalogue or a log.
Only the card, the parquet shards and the raw votes are uploaded (``README.md`` + ``data/`` + ``votes.jsonl``).
Repos are created private unless asked otherwise. No network -> :class:`OfflineError`.
"""

from __future__ import annotations

import os
from pathlib import Path

from mmrakit.errors import InputError, OfflineError
from mmrakit.modelhub.hub import hub_unreachable

UPLOAD_PATTERNS = ["README.md", "data/*.parquet", "votes.jsonl"]  # the raw votes travel with the data
OFFLINE_HINT = "check the network (and unset HF_HUB_OFFLINE), or use a local export/parquet path instead of a Hub id"
_NETWORK_WORDS = ("Connect", "Timeout", "Network", "Transport", "Offline", "Proxy", "Resolve")


def is_network_error(exc: BaseException) -> bool:
    """Connection refused/timeouts/offline mode, whichever HTTP library raised them."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    names = [cls.__name__ for cls in type(exc).__mro__]
    return any(word in name for name in names for word in _NETWORK_WORDS)


def offline_error(what: str, exc: BaseException | None = None) -> OfflineError:
    reason = f" ({type(exc).__name__})" if exc is not None else ""
    return OfflineError(f"{what}: the Hugging Face Hub is not reachable{reason}", hint=OFFLINE_HINT)


def push_export(directory: str | Path, repo_id: str, *, private: bool = True, token_env: str = "HF_TOKEN") -> str:
    """Upload ``directory``'s card and parquet shards to the dataset repo ``repo_id``; returns its URL."""
    directory = Path(directory)
    if not (directory / "data").is_dir() or not (directory / "README.md").is_file():
        raise InputError(f"{directory}: no parquet shards (data/) or card to push",
                         hint="export with --format parquet (the default includes it)")
    if "/" not in repo_id:
        raise InputError(f"--push-to-hub {repo_id!r}: expected owner/name")
    token = os.environ.get(token_env)
    if not token:
        raise InputError(f"pushing to the Hub needs a token in ${token_env}",
                         hint=f"export {token_env}=hf_... (a write token); it is read at push time and stored nowhere")
    if (reason := hub_unreachable()) is not None:  # the package's one offline check: fail at once
        raise OfflineError(f"push to {repo_id}: the Hugging Face Hub is not reachable ({reason})", hint=OFFLINE_HINT)
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(directory), repo_id=repo_id, repo_type="dataset",
                          allow_patterns=UPLOAD_PATTERNS, commit_message="mmrakit export")
    except Exception as exc:
        if is_network_error(exc):
            raise offline_error(f"push to {repo_id}", exc) from None
        # never echo request details: they may carry the Authorization header
        raise InputError(f"push to {repo_id} failed: {type(exc).__name__}: {str(exc).replace(token, '***')[:300]}",
                         hint=f"check that ${token_env} is a write token for {repo_id.split('/')[0]}") from None
    return f"https://huggingface.co/datasets/{repo_id}"

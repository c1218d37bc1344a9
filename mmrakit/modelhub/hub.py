"""Is the Hugging Face Hub reachable, and is something already in the local cache?

The one offline check of the package: checked in ~3 s so an offline run fails at once with a clear
OfflineError instead of retrying downloads for minutes."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

OFFLINE_FLAGS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def offline_flag() -> str | None:
    """The offline environment flag that is set, if any."""
    for flag in OFFLINE_FLAGS:
        if os.environ.get(flag, "0").strip().lower() in ("1", "true", "yes", "on"):
            return flag
    return None


def hub_unreachable() -> str | None:
    """Why the Hub cannot be reached (offline flags, no DNS/route); None when it looks reachable
    or a proxy is configured (then the real download decides)."""
    if (flag := offline_flag()) is not None:
        return f"{flag} is set"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = url.hostname or "huggingface.co"
    port = url.port or (80 if url.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        return f"cannot connect to {host}:{port} ({exc})"
    return None


def in_hub_cache(repo_id: str, filenames: tuple[str, ...]) -> bool:
    """Whether any of ``filenames`` of a Hub model repo is in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    return any(isinstance(try_to_load_from_cache(repo_id, f), str) for f in filenames)


def in_datasets_cache(repo_id: str) -> bool:
    """The datasets library keeps Hub datasets under <cache>/<owner>___<name>; those load offline."""
    root = os.environ.get("HF_DATASETS_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "datasets")
    return (Path(root) / repo_id.replace("/", "___")).is_dir()

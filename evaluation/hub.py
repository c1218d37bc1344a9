"""Is the Hugging Face Hub reachable? Checked in ~3 s so an offline run fails at once with a clear
OfflineError instead of retrying downloads for minutes."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse


def hub_unreachable() -> str | None:
    """Why the Hub cannot be reached (offline flags, no DNS/route); None when it looks reachable
    or a proxy is configured (then the real download decides)."""
    for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(flag, "0").lower() in ("1", "true", "yes", "on"):
            return f"{flag} is set"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError as exc:
        return f"cannot connect to {host}:443 ({exc})"
    return None


def in_datasets_cache(repo_id: str) -> bool:
    """The datasets library keeps Hub datasets under <cache>/<owner>___<name>; those load offline."""
    from pathlib import Path

    root = os.environ.get("HF_DATASETS_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "datasets")
    return (Path(root) / repo_id.replace("/", "___")).is_dir()

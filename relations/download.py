"""Download the official ConceptNet dump: resumable (HTTP Range into a .part file), checksum-verified.

Offline (no route, DNS failure, refused connection) it raises OfflineError naming what to do
instead: put the dump on disk and ingest the file. The finished file is never deleted.
"""

from __future__ import annotations

import os
from pathlib import Path

from mmrakit.errors import InputError, OfflineError
from mmrakit.util import sha256_file

CHUNK = 1 << 20


def download_dump(url: str, dest_dir: str | Path, *, sha256: str | None = None, timeout: float = 30.0) -> Path:
    """Fetch ``url`` into ``dest_dir`` (resuming a previous partial download) and return the file path."""
    import httpx

    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / (url.rstrip("/").rsplit("/", 1)[-1] or "conceptnet-assertions.csv.gz")
    if target.is_file() and (sha256 is None or sha256_file(target) == sha256.lower()):
        return target
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client, client.stream("GET", url, headers=headers) as resp:
            if resp.status_code == 416:  # already complete
                pass
            elif resp.status_code not in (200, 206):
                raise InputError(f"download of {url} failed: HTTP {resp.status_code}",
                                 hint="check [relations] dump_url, or download the dump yourself and ingest the file")
            else:
                mode = "ab" if resp.status_code == 206 and have else "wb"
                with open(part, mode) as fh:
                    for block in resp.iter_bytes(CHUNK):
                        fh.write(block)
                    fh.flush()
                    os.fsync(fh.fileno())
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise OfflineError(
            f"cannot download the ConceptNet dump from {url}: {exc.__class__.__name__}: {exc}",
            hint=("this machine looks offline. Copy conceptnet-assertions-5.7.0.csv.gz here yourself and run "
                  "`mmrakit relations ingest PATH`, or use the bundled subset: `mmrakit relations ingest --bundled`. "
                  f"A partial download ({part}) is kept and resumed next time."),
        ) from None
    if sha256 is not None:
        got = sha256_file(part)
        if got != sha256.lower():
            bad = part.with_name(part.name + ".bad")
            part.replace(bad)
            raise InputError(f"{url}: checksum mismatch (expected {sha256}, got {got})",
                             hint=f"the download was moved to {bad}; delete it and retry, or check [relations] dump_sha256")
    part.replace(target)
    return target


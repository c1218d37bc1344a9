"""`relations ingest --download`: resumable (HTTP Range) and checksum-verified, against a real local HTTP server."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mmrakit.errors import InputError
from mmrakit.relations.download import download_dump

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Handler(BaseHTTPRequestHandler):
    ranges: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802
        rng = self.headers.get("Range")
        type(self).ranges.append(rng)
        start = int(rng.split("=")[1].rstrip("-")) if rng else 0
        body = PAYLOAD[start:]
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    _Handler.ranges = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/conceptnet-assertions-5.7.0.csv.gz"
    httpd.shutdown()
    httpd.server_close()


def test_download_resumes_a_partial_file_and_verifies_checksum(server, tmp_path):
    part = tmp_path / "conceptnet-assertions-5.7.0.csv.gz.part"
    part.write_bytes(PAYLOAD[:300_000])
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    path = download_dump(server, tmp_path, sha256=digest)
    assert path == tmp_path / "conceptnet-assertions-5.7.0.csv.gz"
    assert path.read_bytes() == PAYLOAD and not part.exists()
    assert _Handler.ranges == ["bytes=300000-"]
    # a finished, verified file is not fetched again
    assert download_dump(server, tmp_path, sha256=digest) == path and _Handler.ranges == ["bytes=300000-"]


def test_download_checksum_mismatch_is_reported_and_kept_aside(server, tmp_path):
    with pytest.raises(InputError, match="checksum mismatch"):
        download_dump(server, tmp_path, sha256="0" * 64)
    assert (tmp_path / "conceptnet-assertions-5.7.0.csv.gz.part.bad").read_bytes() == PAYLOAD
    assert not (tmp_path / "conceptnet-assertions-5.7.0.csv.gz").exists()

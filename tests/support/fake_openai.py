"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.

It stands in for a remote paid API only: fixed latency, scripted answers, and injected faults
(429 with Retry-After, 500, a stall longer than the client's timeout, malformed bodies). It
records what it received so tests can check the wire format (images as data URLs, in order).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Fault = str  # "429" | "500" | "stall" | "malformed" | "no-choices"


def default_answer(body: dict[str, Any]) -> str:
    return "A"


class FakeOpenAI:
    def __init__(self, answer: Callable[[dict[str, Any]], str] = default_answer, *, latency_s: float = 0.0,
                 stall_s: float = 3.0) -> None:
        self.answer = answer
        self.latency_s = latency_s
        self.stall_s = stall_s
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str | None] = []
        self.hits = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, payload: bytes, extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.hits += 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    fault = server.faults.pop(0) if server.faults else None
                    server.requests.append(body)
                    server.auth_headers.append(self.headers.get("Authorization"))
                try:
                    if server.latency_s:
                        time.sleep(server.latency_s)
                    if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                        self._send(404, b'{"error": "not found"}')
                    elif fault == "429":
                        self._send(429, b'{"error": "rate limited"}', {"Retry-After": "0"})
                    elif fault == "500":
                        self._send(500, b'{"error": "internal"}')
                    elif fault == "stall":
                        time.sleep(server.stall_s)
                        self._send(200, b"{}")
                    elif fault == "malformed":
                        self._send(200, b"<html>proxy error</html>")
                    elif fault == "no-choices":
                        self._send(200, b'{"id": "x", "choices": []}')
                    else:
                        text = server.answer(body)
                        payload = {"id": f"chatcmpl-{server.hits}", "object": "chat.completion", "model": body.get("model"),
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": text}}]}
                        self._send(200, json.dumps(payload).encode())
                finally:
                    with server._lock:
                        server.in_flight -= 1

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # a real endpoint's backlog: an async client opens its connections at once

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def reset_counters(self) -> None:
        with self._lock:
            self.hits = 0
            self.max_in_flight = 0
            self.requests.clear()
            self.auth_headers.clear()


def user_text(body: dict[str, Any]) -> str:
    """The text parts of the (single) user message."""
    content = body["messages"][0]["content"]
    if isinstance(content, str):
        return content
    return "".join(c.get("text", "") for c in content if c.get("type") == "text")


def serve_forever(answer: str = "A", latency_s: float = 0.2) -> None:
    """Run in its own process (``python -m tests.support.fake_openai [LATENCY] [ANSWER]``); prints
    the base URL on the first line. The benchmark uses this so server and client do not share a GIL."""
    with FakeOpenAI(lambda _: answer, latency_s=latency_s) as srv:
        print(srv.base_url, flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    import sys

    serve_forever(sys.argv[2] if len(sys.argv) > 2 else "A", float(sys.argv[1]) if len(sys.argv) > 1 else 0.2)

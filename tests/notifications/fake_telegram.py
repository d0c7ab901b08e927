"""A local fake of the Telegram Bot API on 127.0.0.1: records every request, answers as scripted."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    token: str
    body: dict
    at: float


@dataclass
class FakeTelegram:
    server: ThreadingHTTPServer
    requests: list = field(default_factory=list)
    script: dict = field(default_factory=dict)  # method -> list of (status, body) answered first, in order
    next_message_id: int = 100
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def answer_next(self, method: str, status: int, body: dict) -> None:
        self.script.setdefault(method, []).append((status, body))

    def sent(self, method: str | None = None) -> list[Received]:
        return [r for r in self.requests if method is None or r.method == method]

    def _answer(self, method: str, token: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests.append(Received(method, token, body, time.monotonic()))
            scripted = self.script.get(method) or []
            if scripted:
                return scripted.pop(0)
            if method == "sendMessage":
                self.next_message_id += 1
                return 200, {"ok": True, "result": {"message_id": self.next_message_id, "text": body.get("text")}}
            if method == "editMessageText":
                return 200, {"ok": True, "result": {"message_id": body.get("message_id"), "text": body.get("text")}}
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}


def start_fake_telegram() -> FakeTelegram:
    fake: FakeTelegram | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            parts = self.path.strip("/").split("/")
            token = parts[0][3:] if parts and parts[0].startswith("bot") else ""
            method = parts[1] if len(parts) > 1 else ""
            status, answer = fake._answer(method, token, body)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake = FakeTelegram(server=server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake

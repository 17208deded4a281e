"""A local stand-in for FCM: the v1 send API and an OAuth token endpoint on 127.0.0.1.

Tests and the benchmark point firebase-admin at it (FCM_BASE_URL, and a service-account
JSON whose token_uri is `<url>/token`), so the real SDK, HTTP and OAuth flow run. Faults
are injected per token (or for every token): UNREGISTERED, SENDER_ID_MISMATCH, 429 quota,
500, 503, 400, or a reply held longer than the client's timeout.

    with FakeFcm() as fcm:
        fcm.fail("internal", times=3)            # next 3 sends, any token, get 500
        fcm.fail("unregistered", token="tok-1")  # every send to tok-1 from now on
        ...; fcm.delivered  # [(token, message json)] accepted, in order

    python -m bench.fake_fcm --port 8765   # standalone, for a benchmark's other process
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROJECT_ID = "demo-companion"

ERRORS: dict[str, tuple[int, str, str | None]] = {
    # kind: (HTTP status, google.rpc status, FCM errorCode)
    "unregistered": (404, "NOT_FOUND", "UNREGISTERED"),
    "sender_id_mismatch": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"),
    "quota": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
    "internal": (500, "INTERNAL", "INTERNAL"),
    "unavailable": (503, "UNAVAILABLE", "UNAVAILABLE"),
    "invalid": (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
}
KINDS = (*ERRORS, "timeout")


@dataclass
class Fault:
    kind: str
    times: int | None  # None: until healed
    retry_after: int | None = None
    hold: float = 5.0  # seconds a "timeout" holds its reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # send_each opens up to 500 connections at once


class FakeFcm:
    def __init__(self, port: int = 0, project_id: str = PROJECT_ID) -> None:
        self.project_id = project_id
        self._lock = threading.Lock()
        self._faults: dict[str | None, list[Fault]] = {}
        self._ids = itertools.count(1)
        self._release = threading.Event()
        self.delivered: list[tuple[str, dict[str, Any]]] = []
        # notification id -> (wall-clock time of its first accepted message, messages)
        self.arrivals: dict[str, tuple[float, int]] = {}
        self.attempts: Counter[str] = Counter()  # every send request, by token
        self.refused: Counter[str] = Counter()  # by fault kind
        self.token_requests = 0
        self.server = _Server(("127.0.0.1", port), _handler(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def service_account(self) -> dict[str, str]:
        """A service-account JSON firebase-admin accepts, whose token_uri is this fake."""
        return self.service_account_for(self.url, self.project_id)

    @staticmethod
    def service_account_for(url: str, project_id: str = PROJECT_ID) -> dict[str, str]:
        """The same, for a fake running in another process at `url`."""
        return {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": "fake",
            "private_key": _private_key_pem(),
            "client_email": f"push@{project_id}.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": f"{url}/token",
        }

    def start(self) -> FakeFcm:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeFcm:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def fail(
        self,
        kind: str,
        *,
        token: str | None = None,
        times: int | None = None,
        retry_after: int | None = None,
        hold: float = 5.0,
    ) -> None:
        """Queue a fault for one token (None: any token without its own fault)."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(KINDS)}")
        with self._lock:
            self._faults.setdefault(token, []).append(Fault(kind, times, retry_after, hold))

    def heal(self) -> None:
        with self._lock:
            self._faults.clear()

    def stats(self) -> dict[str, int]:
        """Accepted messages, and how many notification ids arrived more than once."""
        with self._lock:
            ids = Counter(message["data"].get("notification_id") for _, message in self.delivered)
            return {
                "delivered": len(self.delivered),
                "distinct": len(ids),
                "duplicated": sum(1 for count in ids.values() if count > 1),
                "refused": sum(self.refused.values()),
            }

    def reset(self) -> None:
        with self._lock:
            self.delivered.clear()
            self.arrivals.clear()
            self.attempts.clear()
            self.refused.clear()
            self._faults.clear()

    def delivered_to(self, token: str) -> int:
        with self._lock:
            return sum(1 for t, _ in self.delivered if t == token)

    def _fault_for(self, token: str) -> Fault | None:
        with self._lock:
            for key in (token, None):
                queue = self._faults.get(key)
                while queue:
                    fault = queue[0]
                    if fault.times is None:
                        return fault
                    if fault.times > 0:
                        fault.times -= 1
                        return fault
                    queue.pop(0)
            return None

    def _record(self, token: str, message: dict[str, Any]) -> str:
        arrived = time.time()
        with self._lock:
            self.delivered.append((token, message))
            key = message.get("data", {}).get("notification_id", "")
            first, count = self.arrivals.get(key, (arrived, 0))
            self.arrivals[key] = (first, count + 1)
            return f"projects/{self.project_id}/messages/{next(self._ids)}"


def _handler(fake: FakeFcm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as with the real service

        def log_message(self, *_args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/stats":  # for a benchmark running the fake in another process
                self._reply(200, fake.stats())
            else:
                self._reply(404, _error(404, "NOT_FOUND", None))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/count":  # how many accepted messages carry one of these ids
                wanted = set(json.loads(body))
                with fake._lock:
                    count = sum(
                        1 for _, m in fake.delivered if m["data"].get("notification_id") in wanted
                    )
                self._reply(200, {"count": count})
                return
            if self.path == "/arrivals":  # first arrival time and count of these ids
                wanted = json.loads(body)
                with fake._lock:
                    found = {i: fake.arrivals[i] for i in wanted if i in fake.arrivals}
                self._reply(200, found)
                return
            if self.path == "/reset":
                fake.reset()
                self._reply(200, {})
                return
            if self.path == "/token":
                with fake._lock:
                    fake.token_requests += 1
                self._reply(
                    200, {"access_token": "fake", "expires_in": 3600, "token_type": "Bearer"}
                )
                return
            expected = f"/v1/projects/{fake.project_id}/messages:send"
            if self.path != expected:
                self._reply(404, _error(404, "NOT_FOUND", None))
                return
            if self.headers.get("Authorization") != "Bearer fake":
                self._reply(401, _error(401, "UNAUTHENTICATED", None))
                return
            message = json.loads(body)["message"]
            token = message.get("token", "")
            with fake._lock:
                fake.attempts[token] += 1
            fault = fake._fault_for(token)
            if fault is None:
                self._reply(200, {"name": fake._record(token, message)})
                return
            with fake._lock:
                fake.refused[fault.kind] += 1
            if fault.kind == "timeout":
                fake._release.wait(fault.hold)
                self._reply(500, _error(500, "INTERNAL", "INTERNAL"))
                return
            status, rpc, code = ERRORS[fault.kind]
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            self._reply(status, _error(status, rpc, code), headers)

        def _reply(self, status: int, payload: dict[str, Any], headers: dict | None = None) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (a held "timeout" reply)

    return Handler


def _error(status: int, rpc: str, code: str | None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": f"fake {rpc.lower()}", "status": rpc}
    if code:
        error["details"] = [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}
        ]
    return {"error": error}


@cache
def _private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def in_process_of_its_own(stack: contextlib.ExitStack, port: int) -> str:
    """Start the fake as its own process (a benchmark's sender must not share its GIL);
    stopped when `stack` closes. Returns its URL."""
    fake = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_fcm", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    stack.callback(fake.terminate)
    fake.stdout.readline()
    return f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    fake = FakeFcm(args.port)
    print(f"fake FCM on {fake.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake.server.serve_forever()


if __name__ == "__main__":
    main()

"""A deliberately bad DCS API: one mode per way an endpoint can be hostile (it lies, stalls,
redirects or echoes secrets), and a ``scripted`` mode that sends whatever answer a test sets for
each kind of request (``server.answers["list"] = Answer(200, b"{not json")``).

Standard library only, so that the same server can probe an older checkout of the product.
Raw sockets on 127.0.0.1 (never another interface), a thread per connection, ``Connection:
close`` on every answer. Every loop is bounded: the server stops accepting after
:data:`MAX_CONNECTIONS` connections or :data:`LIFETIME` seconds, and a trickling answer gives up
after :data:`TRICKLE_BYTES` bytes or when the client hangs up.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

PID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
IDS = (
    "c13c87c9-d57a-44db-8701-680e6a12e240",
    "d4251718-a032-4eee-b364-5d8e5a00d629",
    "77927c7d-94e2-4598-a632-54c8056aad10",
)

# Fake credentials, long and distinctive so that any 10-character window of them in an output
# is a leak (tests/hostile/harness.leaks).
ACCESS_KEY = "HOSTILEAKQ7ZP3XW9Y2M"
SECRET_KEY = "hostile-sk-Vb8RkT2qLm9XcW4nZp6Jd1Hs5Ge7Fa3Ub0Yo"
SECURITY_TOKEN = (
    "hostile-sts-Qm3Xv9Lp2Kr8Wt5Yz1Nb6Hc4Jd7Fg0Sa-" + "Tk9Wq2Er5Ty8Ui1Op4As7Df0Gh3Jk6Lz"
)
AUTH_TOKEN = (
    "hostile-iam-MIIXxQYJKoZIhvcNAQcCoIIXtjCCF7ICAQExDTALBgl" + "ghkgBZQMEAgEwghXTBgkqhkiG9w0"
)
SECRETS = (ACCESS_KEY, SECRET_KEY, SECURITY_TOKEN, AUTH_TOKEN)

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[H\x1b[1A\r\x1b[32mstopped OK\x1b[0m"
"""Terminal control: retitle the window, clear the screen, move the cursor up, fake a line."""

MAX_CONNECTIONS = 3000
LIFETIME = 120.0  # seconds a server accepts connections
TRICKLE_BYTES = 40  # bytes a trickling answer sends at most (one every TRICKLE_DELAY)
TRICKLE_DELAY = 2.0
BIG_BYTES = 60 * 1024 * 1024  # a huge body: under the old 64 MB cap

MODES = (
    "ok",  # a well-behaved API: tasks stop when asked (for the TLS and proxy tests)
    "echo_json",  # JSON error whose code, message and X-Request-Id echo the credentials
    "echo_text",  # long plain-text error echoing the headers across the cut-off points
    "redirect_301",  # a redirect to another host (never followed)
    "redirect_302",
    "redirect_307",
    "redirect_308",
    "huge_count",  # count says a billion; every page is the same thousand tasks
    "endless_pages",  # every page brings a thousand new tasks, forever
    "trickle",  # one byte every two seconds (status line, headers and body)
    "trickle_fast",  # a byte every quarter second: every read is quick, the answer never
    "throttle",  # 429 with Retry-After: 60, always
    "huge_body",  # a 60 MB list page (with Content-Length)
    "huge_body_unsized",  # the same without Content-Length (read until close)
    "gzip_bomb",  # 1 MB of gzip that inflates to 1 GB
    "long_string",  # an accepted page whose one task name fills almost 16 MB
    "many_values",  # an accepted page with as many JSON values as a page may hold
    "wide_listing",  # 6 pages of 1,000 tasks with 75 extra fields each (1.4M values)
    "fat_listing",  # 3 pages, each with a 10 MB task name (30 MB in all)
    "deep_json",  # JSON nested 100,000 deep
    "deep_json_500",  # a task with a field nested 500 deep (under Python's recursion limit)
    "deep_error",  # an error answer nested 100,000 deep
    "bad_utf8",  # a body that is not UTF-8
    "wrong_types",  # count and task_id of the wrong types
    "escapes",  # terminal escape codes in names, statuses and error texts
    "sink",  # a proxy that records whatever reaches it and refuses it
    "scripted",  # what the test put in ``answers`` for the request's kind; else 404 {}
)


@dataclass
class Seen:
    """One request the server received."""

    method: str
    target: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def query(self, name: str, default: int = 0) -> int:
        for pair in self.target.partition("?")[2].split("&"):
            key, _, value = pair.partition("=")
            if key == name and value.isdigit():
                return int(value)
        return default


def _task(task_id: str, status: str = "INCRMIGEATING", name: str | None = None) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "task_name": name or f"task-{task_id[:8]}",
        "status": status,
        "migration_type": "online_migration",
        "created_at": "2026-11-29T20:00:00.000Z",
    }


def _page_ids(offset: int, size: int = 1000) -> list[str]:
    return [str(uuid.UUID(int=offset + n + 1)) for n in range(size)]


@dataclass
class Answer:
    """What to send: the whole answer at once, or ``trickle`` it a byte at a time."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    sized: bool = True  # send Content-Length
    trickle: bool = False


def _json(status: int, payload: Any, **headers: str) -> Answer:
    return Answer(
        status, json.dumps(payload).encode(), {"Content-Type": "application/json", **headers}
    )


class HostileServer:
    """``with HostileServer("trickle") as server: ...server.url...``"""

    def __init__(self, mode: str, *, tls: ssl.SSLContext | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.tls = tls
        self.seen: list[Seen] = []
        # The scripted mode's answer per kind of request: "list", "show" or "batch_stop".
        self.answers: dict[str, Answer] = {}
        self.stopped: set[str] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._connections = 0

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._thread.join(5)
        self._sock.close()

    # --- serving ----------------------------------------------------------------------------

    def _accept(self) -> None:
        until = time.monotonic() + LIFETIME
        while not self._closing.is_set() and time.monotonic() < until:
            if self._connections >= MAX_CONNECTIONS:
                break
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            self._connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            seen = self._read_request(conn)
            if seen is None:
                return
            with self._lock:
                self.seen.append(seen)
            self._send(conn, self.answer(seen))
        except (OSError, ssl.SSLError, ValueError):
            pass  # the client hung up (as it should, at its deadline)
        finally:
            conn.close()

    @staticmethod
    def _read_request(conn: socket.socket) -> Seen | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk or len(data) > 1 << 20:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = [*lines[0].split(" "), "", ""][:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(rest) < min(length, 1 << 20):
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
        return Seen(method, target, headers)

    def _send(self, conn: socket.socket, answer: Answer) -> None:
        reason = {200: "OK", 301: "Moved", 302: "Found", 307: "Temporary Redirect"}
        head = [f"HTTP/1.1 {answer.status} {reason.get(answer.status, 'Status')}"]
        headers = {"Connection": "close", "Date": _http_date(), **answer.headers}
        if answer.sized:
            headers["Content-Length"] = str(len(answer.body))
        head += [f"{k}: {v}" for k, v in headers.items()]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + answer.body
        if not answer.trickle:
            conn.sendall(raw)
            return
        for byte in raw[:TRICKLE_BYTES]:
            if self._closing.wait(TRICKLE_DELAY if self.mode == "trickle" else TRICKLE_DELAY / 8):
                return
            conn.sendall(bytes([byte]))

    # --- what each mode answers ------------------------------------------------------------------

    def answer(self, seen: Seen) -> Answer:
        kind = _kind(seen)
        mode = self.mode
        if mode == "scripted":
            return self.answers.get(kind, Answer(404, b"{}"))
        if mode == "sink":
            return Answer(502, b"proxy: refused", {"Content-Type": "text/plain"})
        if mode.startswith("redirect_"):
            where = f"https://evil.example:8443/v2/{PID}/migration-tasks?token={SECURITY_TOKEN}"
            return Answer(int(mode.rpartition("_")[2]), b"", {"Location": where})
        if mode == "echo_json":
            return self._echo_json(seen)
        if mode == "echo_text":
            return self._echo_text(seen)
        if mode in ("trickle", "trickle_fast"):
            return Answer(
                200, json.dumps({"count": 0, "migration_tasks": []}).encode(), trickle=True
            )
        if mode == "throttle":
            return _json(
                429,
                {
                    "error_code": "APIGW.0308",
                    "error_msg": "The throttling threshold has been reached",
                },
                **{"Retry-After": "60"},
            )
        if mode in ("huge_body", "huge_body_unsized") and kind == "list":
            return Answer(
                200, big_body(), {"Content-Type": "application/json"}, sized=mode == "huge_body"
            )
        if mode == "gzip_bomb":
            headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            return Answer(200, gzip_bomb(), headers)
        if mode == "long_string" and kind == "list":
            return Answer(200, long_string_body(), {"Content-Type": "application/json"})
        if mode == "many_values" and kind == "list":
            return Answer(200, many_values_body(), {"Content-Type": "application/json"})
        if mode == "deep_json":
            depth = 100_000
            body = b'{"count": 1, "migration_tasks": [' + b"[" * depth + b"]" * depth + b"]}"
            return Answer(200, body, {"Content-Type": "application/json"})
        if mode == "deep_json_500":
            task = (
                json.dumps(_task(IDS[0]))[:-1].encode() + b', "extra": ' + b"[" * 500 + b"]" * 500
            )
            body = b'{"count": 1, "migration_tasks": [' + task + b"}]}"
            return Answer(200, body, {"Content-Type": "application/json"})
        if mode == "deep_error":
            body = b'{"error_code": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
            return Answer(400, body, {"Content-Type": "application/json"})
        if mode == "bad_utf8":
            body = (
                b'{"count": 1, "migration_tasks": [{"task_id": "\xff\xfe\xfd", "status": "\xc3"}]}'
            )
            return Answer(200, body, {"Content-Type": "application/json"})
        if mode == "wrong_types":
            return _json(200, {"count": "many", "migration_tasks": [{"task_id": 5, "status": []}]})
        if mode == "escapes":
            return self._escapes(seen, kind)
        return self._well_behaved(seen, kind)

    def _well_behaved(self, seen: Seen, kind: str) -> Answer:
        if kind == "list":
            offset, limit = seen.query("offset"), seen.query("limit", 10)
            if self.mode == "huge_count":
                ids = list(IDS) + _page_ids(10_000, 997)  # the same full page at every offset
                return _json(200, {"count": 10**9, "migration_tasks": [_task(i) for i in ids]})
            if self.mode in ("wide_listing", "fat_listing"):
                return Answer(
                    200, listing_page(self.mode, offset), {"Content-Type": "application/json"}
                )
            if self.mode == "endless_pages":
                tasks = [_task(i) for i in _page_ids(offset, min(limit, 1000))]
                return _json(200, {"count": 10**9, "migration_tasks": tasks})
            tasks = [_task(i, self._status(i)) for i in IDS][offset : offset + limit]
            return _json(200, {"count": len(IDS), "migration_tasks": tasks})
        if kind == "batch_stop":
            return self._stop(seen)
        task_id = seen.path.rstrip("/").rsplit("/", 1)[-1]
        if kind == "show" and task_id in IDS:
            return _json(200, _task(task_id, self._status(task_id)))
        return _json(400, {"error_code": "DCS.4133", "error_msg": "Instance job is not found."})

    def _status(self, task_id: str) -> str:
        if self.mode == "ok" and task_id in self.stopped:
            return "TERMINATED"
        return "INCRMIGEATING"

    def _stop(self, seen: Seen) -> Answer:
        ids = list(IDS)
        with self._lock:
            self.stopped.update(ids)
        return _json(200, {"migration_tasks": [{"task_id": i, "result": "success"} for i in ids]})

    def _echo_json(self, seen: Seen) -> Answer:
        token = seen.headers.get("x-security-token") or seen.headers.get("x-auth-token") or ""
        payload = {
            "error_code": f"APIGW.0301 {token}",
            "error_msg": "verify aksk signature fail, request: "
            + json.dumps(seen.headers)
            + f" token={token}",
        }
        return _json(401, payload, **{"X-Request-Id": token or "rid"})

    def _echo_text(self, seen: Seen) -> Answer:
        token = seen.headers.get("x-security-token") or seen.headers.get("x-auth-token") or ""
        auth = seen.headers.get("authorization", "")
        # The token starts 10 characters before 200 (a summary's cut) and before 2000 (the old
        # cut of an error text): a cut before scrubbing leaves its head in the message.
        text = "x" * 190 + token
        text += "y" * (1990 - len(text)) + token
        text += "\n" + "\n".join(f"{k}: {v}" for k, v in seen.headers.items()) + "\n" + auth
        text += "\n" + "z" * 3000
        return Answer(400, text.encode(), {"Content-Type": "text/plain", "X-Request-Id": token})

    def _escapes(self, seen: Seen, kind: str) -> Answer:
        if kind == "list":
            tasks = [_task(i, "RUN" + ESCAPES, name="name" + ESCAPES) for i in IDS]
            return _json(200, {"count": len(IDS), "migration_tasks": tasks})
        if kind == "batch_stop":
            items = [
                {
                    "task_id": i,
                    "result": "failed",
                    "error_code": "DCS" + ESCAPES,
                    "error_msg": ESCAPES,
                }
                for i in IDS
            ]
            return _json(200, {"migration_tasks": items})
        task_id = seen.path.rstrip("/").rsplit("/", 1)[-1]
        if task_id == IDS[0]:
            task = _task(task_id, "RUN" + ESCAPES, name="name" + ESCAPES)
            task["description"] = ESCAPES
            return _json(200, task)
        return _json(
            400,
            {"error_code": "DCS.4026" + ESCAPES, "error_msg": "refused" + ESCAPES},
            **{"X-Request-Id": "rid-escapes"},
        )


def _kind(seen: Seen) -> str:
    if seen.path.endswith("/batch-stop"):
        return "batch_stop"
    if seen.path.endswith("/migration-tasks"):
        return "list"
    return "show"


def _http_date() -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())


_CACHE: dict[str, bytes] = {}


def big_body() -> bytes:
    """A 60 MB list page of small tasks (its count honest)."""
    if "big" not in _CACHE:
        item = b'{"task_id": "%s", "status": "RUNNING"},'
        n = BIG_BYTES // (len(item) + 34)
        parts = [item % str(uuid.UUID(int=i)).encode() for i in range(n)]
        _CACHE["big"] = b'{"count": %d, "migration_tasks": [' % n + b"".join(parts)[:-1] + b"]}"
    return _CACHE["big"]


def gzip_bomb() -> bytes:
    """A gzip stream of 1 GB of zeros (about 1 MB on the wire)."""
    if "bomb" not in _CACHE:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        zeros = b"\0" * (1 << 20)
        _CACHE["bomb"] = b"".join(packer.compress(zeros) for _ in range(1024)) + packer.flush()
    return _CACHE["bomb"]


def long_string_body() -> bytes:
    """An answer the client accepts whose one task name fills almost 16 MB (4-byte characters:
    the costliest text per byte)."""
    if "long" not in _CACHE:
        name = "\U0001f600" * ((16 * 1024 * 1024 - 4096) // 4)
        tasks = [_task(IDS[0], name=name), _task(IDS[1]), _task(IDS[2])]
        body = json.dumps({"count": 3, "migration_tasks": tasks}, ensure_ascii=False)
        _CACHE["long"] = body.encode()
    return _CACHE["long"]


def many_values_body() -> bytes:
    """An answer the client accepts with nearly as many JSON values as one answer may hold
    (250,000), as empty objects: the costliest values per byte."""
    if "many" not in _CACHE:
        per_task = 240 // 2 * 100  # 12,000 empty objects (a comma each): 24,000 values a task
        tasks = []
        for n in range(10):
            task = _task(str(uuid.UUID(int=n + 1)))
            task["extra"] = [{}] * per_task
            tasks.append(task)
        _CACHE["many"] = json.dumps({"count": 10, "migration_tasks": tasks}).encode()
    return _CACHE["many"]


def listing_page(mode: str, offset: int) -> bytes:
    """A page of the accepted listings that cost the most memory (whole listings)."""
    key = f"{mode}-{offset}"
    if key not in _CACHE:
        tasks = [_task(str(uuid.UUID(int=offset + n + 1))) for n in range(1000)]
        if mode == "wide_listing":
            for task in tasks:
                task.update({f"x{k}": {} for k in range(75)})
            count = 6000
        else:
            tasks[0]["task_name"] = "\U0001f600" * (10 * 1024 * 1024 // 4)
            count = 3000
        page = {"count": count, "migration_tasks": tasks}
        _CACHE[key] = json.dumps(page, ensure_ascii=False).encode()
    return _CACHE[key]


def tls_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """A server-side TLS context for ``HostileServer(..., tls=...)``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    return context


def iter_windows(secret: str, width: int = 10) -> Iterator[str]:
    """Every ``width``-character window of ``secret`` (a partial leak shows one of them)."""
    for start in range(max(len(secret) - width + 1, 1)):
        yield secret[start : start + width]

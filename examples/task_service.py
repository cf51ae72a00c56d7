#!/usr/bin/env python3
"""An example task service for Baton's releases front (the Release Coordinator's protocol).

Python 3 standard library only. It serves:

  GET  /status   200 {"name", "version", "message"}
  POST /tasks    {"action", "task_id", "release_id", "studies"}; action is one of
                 initialize, start, publish, get_status, cancel

`start` and `publish` answer at once (`running`, `publishing`) and then work in the
background for --work-secs seconds before reporting `staged` / `published` to the
coordinator with `PATCH /tasks/<task_id>`: with the service's token (--token, or the one its
registration answered) as `Authorization: Bearer <token>`, else signed (key --key-id /
--secret, which needs the `releases.write` permission).

For tests: --fail-on ACTION answers that action with HTTP 500; --slow-on ACTION waits
--slow-secs seconds before answering that action; --hang never answers
anything (every request blocks). --register registers the service with the coordinator
(`POST /task-services`, signed, once the coordinator answers) and reports with the token the
registration answers; registering again at the same URL keeps the service and replaces its
token.

    python3 examples/task_service.py --port 5801 --coordinator http://127.0.0.1:8080 \\
        --key-id task-service --secret="$SECRET"    # the = form: a secret may start with '-' 
"""

import argparse
import base64
import email.utils
import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACTIONS = ("initialize", "start", "publish", "get_status", "cancel")
PATCH_ATTEMPTS = 5


def log(message):
    print(f"task-service: {message}", file=sys.stderr, flush=True)


def signed_headers(method, path, body, key_id, secret):
    """HTTP signature headers (draft-cavage, hmac-sha256) over (request-target), date, digest."""
    try:
        from httpsig.sign import HeaderSigner  # optional: used when installed
    except ImportError:
        HeaderSigner = None
    date = email.utils.formatdate(usegmt=True)
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    headers = {"Date": date, "Digest": digest, "Content-Type": "application/json"}
    signed = ["(request-target)", "date", "digest"]
    if HeaderSigner is not None:
        signer = HeaderSigner(key_id, secret, algorithm="hmac-sha256", headers=signed)
        return signer.sign(headers, method=method, path=path)
    lines = [
        f"(request-target): {method.lower()} {path}",
        f"date: {date}",
        f"digest: {digest}",
    ]
    mac = hmac.new(secret.encode(), "\n".join(lines).encode(), hashlib.sha256)
    signature = base64.b64encode(mac.digest()).decode()
    headers["Authorization"] = (
        f'Signature keyId="{key_id}",algorithm="hmac-sha256",'
        f'headers="{" ".join(signed)}",signature="{signature}"'
    )
    return headers


def coordinator_request(options, method, path, payload=None):
    """A signed request to the coordinator; returns the JSON answer."""
    body = json.dumps(payload).encode() if payload is not None else b""
    headers = signed_headers(method, path, body, options.key_id or "", options.secret or "")
    request = urllib.request.Request(
        options.coordinator.rstrip("/") + path,
        data=body if payload is not None else None,
        headers=headers,
        method=method,
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"null")


def register(options, url):
    """Registers this service with the coordinator once it answers, and keeps its token."""
    for _ in range(120):
        try:
            created = coordinator_request(
                options,
                "POST",
                "/task-services",
                {
                    "name": options.name,
                    "description": "The example task service (examples/task_service.py).",
                    "author": "baton",
                    "url": url,
                },
            )
            options.token = created.get("token") or options.token
            how = "with its token" if options.token else "signed"
            log(f"registered at {options.coordinator} as {created['kf_id']} ({url}); reports {how}")
            return
        except urllib.error.HTTPError as error:
            log(f"registration: HTTP {error.code} {error.read()[:300]!r}")
        except OSError as error:
            log(f"registration: the coordinator does not answer yet ({error})")
        time.sleep(1.1)


class Service:
    """The tasks this service holds, and how it reports them."""

    def __init__(self, options):
        self.options = options
        self.tasks = {}
        self.lock = threading.Lock()

    def task(self, task_id):
        with self.lock:
            task = self.tasks.get(task_id)
            return dict(task) if task else None

    def set(self, task_id, **fields):
        with self.lock:
            self.tasks[task_id].update(fields)
            return dict(self.tasks[task_id])

    def report(self, task_id, state):
        """PATCHes the coordinator with the task's new state (retried; a new Date each time)."""
        if not self.options.coordinator:
            return
        path = f"/tasks/{task_id}"
        body = json.dumps({"state": state, "progress": 100}).encode()
        how = "with its token" if self.options.token else "signed"
        for attempt in range(1, PATCH_ATTEMPTS + 1):
            if self.options.token:
                headers = {
                    "Authorization": f"Bearer {self.options.token}",
                    "Content-Type": "application/json",
                }
            else:
                headers = signed_headers(
                    "PATCH", path, body, self.options.key_id or "", self.options.secret or ""
                )
            request = urllib.request.Request(
                self.options.coordinator.rstrip("/") + path,
                data=body,
                headers=headers,
                method="PATCH",
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    log(f"reported {task_id} {state} {how}: HTTP {answer.status}")
                    return
            except urllib.error.HTTPError as error:
                log(f"reporting {task_id} {state}: HTTP {error.code} {error.read()[:300]!r}")
                if error.code < 500 and error.code != 401:
                    return
            except OSError as error:
                log(f"reporting {task_id} {state} failed (attempt {attempt}): {error}")
            # Signed requests are refused when repeated: wait for a new Date.
            time.sleep(1.1)

    def work(self, task_id, working, done):
        """Works for a while, then moves the task from `working` to `done` and reports it."""
        time.sleep(self.options.work_secs)
        task = self.task(task_id)
        if task is None or task["state"] != working:
            return
        self.set(task_id, state=done, progress=100)
        log(f"{task_id} is {done}")
        self.report(task_id, done)

    def act(self, action, task_id, release_id):
        """Answers an action: (HTTP status, body)."""
        if action == self.options.fail_on:
            return 500, {"message": f"this service is set to fail on {action}"}
        if action == "initialize":
            with self.lock:
                self.tasks.setdefault(
                    task_id,
                    {
                        "name": self.options.name,
                        "kf_id": task_id,
                        "task_id": task_id,
                        "release_id": release_id,
                        "state": "pending",
                        "progress": 0,
                        "date_submitted": email.utils.formatdate(usegmt=True),
                    },
                )
            return 200, self.task(task_id)
        task = self.task(task_id)
        if task is None:
            return 404, {"message": f"no task {task_id}"}
        if action == "get_status":
            return 200, task
        if action == "cancel":
            return 200, self.set(task_id, state="canceled")
        if action == "start":
            if task["state"] == "pending":
                task = self.set(task_id, state="running", progress=0)
                threading.Thread(
                    target=self.work, args=(task_id, "running", "staged"), daemon=True
                ).start()
            return 200, task
        if action == "publish":
            if task["state"] == "staged":
                task = self.set(task_id, state="publishing")
                threading.Thread(
                    target=self.work, args=(task_id, "publishing", "published"), daemon=True
                ).start()
            return 200, task
        return 400, {"message": f"unknown action {action}"}


def handler_for(service):
    class Handler(BaseHTTPRequestHandler):
        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def hang(self):
            while service.options.hang:
                time.sleep(1)

        def do_GET(self):
            self.hang()
            if self.path.rstrip("/") == "/status":
                self.answer(
                    200,
                    {"name": service.options.name, "version": "1.0.0", "message": "ready"},
                )
            else:
                self.answer(404, {"message": "not found"})

        def do_POST(self):
            self.hang()
            if self.path.rstrip("/") != "/tasks":
                self.answer(404, {"message": "not found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                self.answer(400, {"message": "the body is not JSON"})
                return
            if not isinstance(body, dict) or any(
                not isinstance(body.get(field), str) for field in ("action", "task_id", "release_id")
            ):
                self.answer(400, {"message": "action, task_id and release_id are required"})
                return
            if body["action"] not in ACTIONS:
                self.answer(400, {"message": f"unknown action {body['action']}"})
                return
            if body["action"] == service.options.slow_on:
                log(f"{body['action']} {body['task_id']}: received, answering in {service.options.slow_secs} s")
                time.sleep(service.options.slow_secs)
            status, answer = service.act(body["action"], body["task_id"], body["release_id"])
            log(f"{body['action']} {body['task_id']}: {status} {answer.get('state', '')}")
            self.answer(status, answer)

        def log_message(self, format, *args):  # noqa: A002 (the base class's name)
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5801, help="0 picks a free port")
    parser.add_argument("--name", default="Example Task Service")
    parser.add_argument("--coordinator", help="the coordinator's base URL, for PATCH reports")
    parser.add_argument("--key-id", help="API key id (releases.write) for the reports")
    parser.add_argument("--secret", help="that key's secret")
    parser.add_argument("--token", help="this service's token (answered by its registration)")
    parser.add_argument("--work-secs", type=float, default=2.0, help="seconds of background work")
    parser.add_argument("--fail-on", choices=ACTIONS, help="answer this action with HTTP 500")
    parser.add_argument("--slow-on", choices=ACTIONS, help="answer this action only after --slow-secs")
    parser.add_argument("--slow-secs", type=float, default=3.0, help="see --slow-on")
    parser.add_argument("--hang", action="store_true", help="never answer any request")
    parser.add_argument(
        "--register", action="store_true", help="register with the coordinator at start"
    )
    options = parser.parse_args()

    server = ThreadingHTTPServer((options.host, options.port), handler_for(Service(options)))
    server.daemon_threads = True
    print(f"listening on {server.server_address[1]}", flush=True)
    if options.register and options.coordinator:
        url = f"http://{options.host}:{server.server_address[1]}"
        threading.Thread(target=register, args=(options, url), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

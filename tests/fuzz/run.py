#!/usr/bin/env python3
"""Baton's fuzz pass: schemathesis over /openapi.json against a real API.

Starts a throw-away redis-server, baton-api, baton-scheduler, a baton-worker and the example
task service on free ports (everything in a temporary directory, removed at the end), creates
a strict admin key and a user token, seeds real records (a workflow run, report versions, a
task service, a release with its tasks, a release note, an event, a study, a project with a
claimed human task), then runs schemathesis with every check, signing every request (see
baton_fuzz_hooks.py). Exits with schemathesis's status: non-zero on any failure.

Usage: tests/fuzz/run.py [--bin DIR] [--max-examples N] [--max-time SECONDS]
                         [--seed N] [-- extra schemathesis arguments]
scripts/fuzz builds the binaries and installs the Python packages first.
"""

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from signing import SignedAuth, UserTokenAuth  # noqa: E402

KEY_ID = "fuzz-admin"
STUDY = "SD_FUZZ0001"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """Child processes with their output in log files, stopped in reverse order."""

    def __init__(self, logs):
        self.logs = logs
        self.children = []

    def start(self, name, argv, env):
        log = open(self.logs / f"{name}.log", "wb")
        child = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.children.append((name, child, log))
        return child

    def check_running(self):
        for name, child, _ in self.children:
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited with {child.returncode}")

    def stop(self):
        for _, child, _ in reversed(self.children):
            if child.poll() is None:
                child.terminate()
        for _, child, log in reversed(self.children):
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            log.close()

    def dump_logs(self, lines=40):
        for name, _, _ in self.children:
            text = (self.logs / f"{name}.log").read_text(errors="replace").splitlines()
            print(f"--- last {lines} lines of {name}'s log ---", file=sys.stderr)
            print("\n".join(text[-lines:]), file=sys.stderr)


def wait_until(what, predicate, timeout=60.0, processes=None):
    deadline = time.monotonic() + timeout
    while True:
        if processes is not None:
            processes.check_running()
        try:
            value = predicate()
        except requests.RequestException:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def git(directory, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="Baton", GIT_AUTHOR_EMAIL="baton@localhost",
               GIT_COMMITTER_NAME="Baton", GIT_COMMITTER_EMAIL="baton@localhost")
    subprocess.run(["git", "-C", str(directory), *args], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def reports_repository(work):
    """A clone of a repository made from examples/reports, so git fetch and pull work."""
    origin = work / "reports-origin"
    shutil.copytree(ROOT / "examples" / "reports", origin)
    git(origin, "init", "-q")
    git(origin, "add", "-A")
    git(origin, "-c", "commit.gpgsign=false", "commit", "-q", "-m", "Example reports")
    clone = work / "reports"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    return clone


class Api:
    """Signed requests to the API under test."""

    def __init__(self, base, key_id, secret):
        self.base = base
        self.session = requests.Session()
        self.auth = SignedAuth(key_id, secret)

    def call(self, method, path, body=None, expect=(200, 201)):
        data = None if body is None else json.dumps(body)
        headers = {} if body is None else {"Content-Type": "application/json"}
        response = self.session.request(method, self.base + path, data=data, headers=headers,
                                        auth=self.auth, timeout=30)
        if response.status_code not in expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response

    def json(self, method, path, body=None):
        return self.call(method, path, body).json()


def seed(api, processes):
    """Creates one record of every kind; answers the ids schemathesis should reach."""
    paths = {}

    def add(template, **values):
        paths.setdefault(template, []).append(values)

    # Workflows (Director): one finished run.
    run = api.json("POST", "/api/workflows", {"project": "example", "name": "ETL", "payload": {}})
    run_id = run["id"]
    wait_until("the workflow run", lambda: api.json("GET", f"/api/workflows/{run_id}")["status"]
               in ("success", "error"), processes=processes)
    for suffix in ("", "/relaunch", "/cancel", "/logs"):
        add(f"/api/workflows/{{id}}{suffix}", id=run_id)

    # Operator routes: the run's queue, and a key of its own to revoke.
    for suffix in ("", "/pause", "/resume", "/dead-letters", "/dead-letters/requeue-all",
                   "/dead-letters/delete-all"):
        add(f"/api/queues/{{name}}{suffix}", name="default")
    spare = api.json("POST", "/api/keys", {"id": "fuzz-spare", "permissions": ["workflows.read"]})
    add("/api/keys/{id}/revoke", id=spare["id"])

    # Reports (OrderlyWeb): two versions of `minimal` (one published), one of `use_resource`.
    versions = []
    for name in ("minimal", "minimal", "use_resource"):
        key = api.json("POST", f"/api/v1/reports/{name}/run/")["data"]["key"]
        status = wait_until(
            f"report run {key}",
            lambda key=key: (lambda s: s if s["status"] in ("success", "error") else None)(
                api.json("GET", f"/api/v1/reports/{key}/status/")["data"]),
            timeout=120, processes=processes)
        if status["status"] != "success":
            raise RuntimeError(f"report run {key} failed: {status}")
        versions.append((name, status["version"], key))
        add("/api/v1/reports/{key}/status/", key=key)
        add("/api/v1/reports/{key}/kill/", key=key)
    api.call("POST", f"/api/v1/reports/{versions[0][0]}/versions/{versions[0][1]}/publish/")
    for name, version, _ in versions:
        add("/api/v1/reports/{name}/", name=name)
        add("/api/v1/reports/{name}/run/", name=name)
        add("/api/v1/reports/{name}/latest/changelog/", name=name)
        add("/api/v1/bundle/pack/{name}/", name=name)
        base = "/api/v1/reports/{name}/versions/{version}/"
        for suffix in ("", "publish/", "data/", "artefacts/", "resources/", "all/", "changelog/"):
            add(base + suffix, name=name, version=version)
        prefix = f"/api/v1/reports/{name}/versions/{version}"
        for data_name, data_hash in api.json("GET", f"{prefix}/data/")["data"].items():
            add(base + "data/{data}/", name=name, version=version, data=data_name)
            add("/api/v1/data/csv/{id}/", id=data_hash)
            add("/api/v1/data/rds/{id}/", id=data_hash)
        for artefact in api.json("GET", f"{prefix}/artefacts/")["data"]:
            add(base + "artefacts/{artefact}/", name=name, version=version, artefact=artefact)
        for resource in api.json("GET", f"{prefix}/resources/")["data"]:
            add(base + "resources/{resource}/", name=name, version=version, resource=resource)

    # Releases (Release Coordinator): the example task service, a release with its tasks.
    service = wait_until("the task service's registration", lambda: next(
        iter(api.json("GET", "/task-services")["results"]), None), processes=processes)
    add("/task-services/{id}", id=service["kf_id"])
    release = api.json("POST", "/releases", {"name": "fuzz", "studies": [STUDY]})
    add("/releases/{id}", id=release["kf_id"])
    add("/releases/{id}/publish", id=release["kf_id"])
    tasks = wait_until("the release's tasks", lambda: api.json(
        "GET", f"/tasks?release={release['kf_id']}")["results"], processes=processes)
    for task in tasks:
        add("/tasks/{id}", id=task["kf_id"])
    note = api.json("POST", "/release-notes", {"release": release["kf_id"], "study": STUDY,
                                                "description": "seeded by the fuzz pass"})
    add("/release-notes/{id}", id=note["kf_id"])
    event = api.json("POST", "/events", {"message": "seeded by the fuzz pass",
                                         "release": release["kf_id"]})
    add("/events/{id}", id=event["kf_id"])
    add("/studies/{id}", id=STUDY)

    # Projects (Orchestra): a project whose human step waits, and a claimed task of another.
    project_ids = []
    for _ in range(2):
        created = api.json("POST", "/orchestra/api/project/create_project",
                           {"workflow_slug": "article", "task_class": "real",
                            "project_data": {"topic": "fuzz", "sources": []}})
        project_ids.append(created["project_id"])
    wait_until("a human task", lambda: api.json("GET", "/orchestra/api/tasks/available")["tasks"],
               processes=processes)
    claimed = api.json("POST", "/orchestra/api/tasks/claim", {})
    task_id = claimed["task"]["id"]
    for suffix in ("save", "submit"):
        add(f"/orchestra/api/tasks/{{id}}/{suffix}", id=task_id)
    query = {"/orchestra/api/project/project_information": {"project_id": project_ids}}
    body = {
        "release": [release["kf_id"]],
        "task": [task["kf_id"] for task in tasks],
        "task_service": [service["kf_id"]],
        "study": [STUDY],
        "studies": [[STUDY]],
        "workflow_slug": ["article"],
        "project": ["example"],
        "name": ["ETL"],
        "project_id": project_ids,
        "project_ids": [project_ids],
    }
    return {"path_parameters": paths, "query": query, "body": body}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=str(ROOT / "target" / "debug"),
                        help="directory of the baton-* binaries (default target/debug)")
    parser.add_argument("--max-examples", type=int, default=25,
                        help="test cases per operation and phase (default 25)")
    parser.add_argument("--max-time", type=int, default=180,
                        help="time budget of the schemathesis run, in seconds (default 180): "
                             "fuzzing and stateful rounds repeat until it is spent")
    parser.add_argument("--seed", type=int, default=None, help="schemathesis's random seed")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory, with the processes' logs and "
                             "JUnit and HAR reports of the run")
    parser.add_argument("extra", nargs="*", help="more schemathesis arguments (after --)")
    options = parser.parse_args()

    binaries = Path(options.bin)
    work = Path(tempfile.mkdtemp(prefix="baton-fuzz-"))
    logs = work / "logs"
    logs.mkdir()
    processes = Processes(logs)
    status = 1
    try:
        redis_port, api_port, service_port = free_port(), free_port(), free_port()
        processes.start("redis", ["redis-server", "--port", str(redis_port), "--bind",
                                  "127.0.0.1", "--save", "", "--appendonly", "no",
                                  "--dir", str(work)], dict(os.environ))
        base = f"http://127.0.0.1:{api_port}"
        env = dict(
            os.environ,
            BATON_REDIS_URL=f"redis://127.0.0.1:{redis_port}",
            BATON_PREFIX="fuzz",
            BATON_MASTER_KEY=secrets.token_hex(32),
            BATON_LISTEN=f"127.0.0.1:{api_port}",
            BATON_PUBLIC_URL=base,
            BATON_DEFINITIONS=str(ROOT / "examples" / "definitions"),
            BATON_PROJECTS=str(ROOT / "examples" / "projects"),
            BATON_REPORTS_REPO=str(reports_repository(work)),
            BATON_ARTEFACTS=str(work / "artefacts"),
            BATON_WORK_DIR=str(work / "runs"),
            # The example task service listens on loopback.
            BATON_OUTBOUND_ALLOW="127.0.0.1/32",
            BATON_TICK_MS="100",
            BATON_BLOCK_MS="200",
            RUST_LOG=os.environ.get("RUST_LOG", "info"),
        )
        wait_until("redis", lambda: subprocess.run(
            ["redis-cli", "-p", str(redis_port), "ping"], capture_output=True).returncode == 0,
            processes=processes)

        def cli(*args):
            result = subprocess.run([str(binaries / "baton-api"), *args], env=env,
                                    capture_output=True, text=True, check=True)
            return result.stdout.strip().splitlines()[-1]

        secret = cli("keys", "create", KEY_ID, "--permissions", "admin")
        service_secret = cli("keys", "create", "fuzz-task-service",
                             "--permissions", "releases.read,releases.write")
        user_token = cli("tokens", "create", "fuzz-user", "--permissions",
                         "reports.read,reports.review,reports.run")

        # Only the API holds the master key: the worker and the scheduler refuse to start with it.
        engine_env = {name: value for name, value in env.items() if name != "BATON_MASTER_KEY"}
        processes.start("baton-api", [str(binaries / "baton-api")], env)
        processes.start("baton-scheduler", [str(binaries / "baton-scheduler")], engine_env)
        processes.start("baton-worker", [str(binaries / "baton-worker")], engine_env)
        wait_until("the API", lambda: requests.get(base + "/healthz", timeout=2).ok,
                   processes=processes)
        processes.start("task-service", [
            sys.executable, str(ROOT / "examples" / "task_service.py"),
            "--port", str(service_port), "--coordinator", base,
            "--key-id", "fuzz-task-service", f"--secret={service_secret}", "--register",
            "--work-secs", "1"], engine_env)

        api = Api(base, KEY_ID, secret)
        seeds = seed(api, processes)
        seeds.update(key_id=KEY_ID, secret=secret, user_token=user_token)
        (work / "seeds.json").write_text(json.dumps(seeds, indent=2))
        (work / "openapi.json").write_text(api.call("GET", "/openapi.json").text)
        print(f"==> seeded {sum(len(v) for v in seeds['path_parameters'].values())} "
              f"path parameter sets; API at {base}, logs in {logs}", flush=True)

        argv = [
            sys.executable, "-m", "schemathesis.cli",
            "--config-file", str(HERE / "schemathesis.toml"),
            "run", str(work / "openapi.json"),
            "--url", base,
            "--checks", "all",
            "--max-examples", str(options.max_examples),
            # One worker: schemathesis compiles generated code as it goes, and CPython 3.11 can
            # fail that with "AST constructor recursion depth mismatch" when two threads do it
            # at once, which reads as a runtime error of the pass rather than of the API.
            "--workers", "1",
            "--request-timeout", "30",
            "--suppress-health-check", "all",
        ]
        if options.keep:
            argv += ["--report", "junit,har", "--report-dir", str(work / "report")]
        argv += ["--max-time", str(options.max_time)]
        if options.seed is not None:
            argv += ["--seed", str(options.seed)]
        argv += options.extra
        fuzz_env = dict(os.environ, SCHEMATHESIS_HOOKS="baton_fuzz_hooks",
                        BATON_FUZZ_SEEDS=str(work / "seeds.json"),
                        PYTHONPATH=os.pathsep.join(
                            filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
        status = subprocess.run(argv, env=fuzz_env, cwd=work).returncode
        processes.check_running()
    except Exception:  # noqa: BLE001 - any setup failure fails the pass, with logs
        traceback.print_exc()
        print("fuzz pass failed while starting or seeding", file=sys.stderr)
        processes.dump_logs()
        status = 1
    finally:
        processes.stop()
        if options.keep:
            print(f"==> kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())

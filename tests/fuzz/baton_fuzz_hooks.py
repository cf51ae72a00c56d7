"""Schemathesis hooks of Baton's fuzz pass (loaded through SCHEMATHESIS_HOOKS by run.py).

- Every generated request is signed with a strict API key (`signing.SignedAuth`), or carries
  the user token on OrderlyWeb's login; the `ignored_auth` check's probes, which drop the
  case's auth, go out unsigned and must be refused.
- Bundle imports' `application/zip` bodies are sent as raw bytes.
- Path parameters, a few query parameters and the fields of JSON bodies that name records
  (`release`, `task`, `study`, `workflow_slug`, `project_id`, ...) of positive cases are often
  replaced by the ids of records the runner created first, so generated requests reach
  existing workflow runs, report versions, releases, tasks, notes, events, studies and
  projects, not only 404s.

The runner passes the key, the token and the seeded ids in the JSON file named by
BATON_FUZZ_SEEDS.
"""

import hashlib
import json
import os

import schemathesis

from signing import SignedAuth, UserTokenAuth

with open(os.environ["BATON_FUZZ_SEEDS"], encoding="utf-8") as seeds_file:
    SEEDS = json.load(seeds_file)

LOGIN_PATH = "/api/v1/login/"

# Bundles (`application/zip` bodies) are sent as the raw bytes schemathesis generates.
schemathesis.serializer.alias("application/zip", "application/octet-stream")


@schemathesis.auth(refresh_interval=None, retry_on=[])
class BatonAuth:
    """A strict HTTP signature on every operation, the user token on the login."""

    def get(self, case, context):
        return "token" if case.operation.path == LOGIN_PATH else "signature"

    def set(self, case, data, context):
        if data == "token":
            case._auth = UserTokenAuth(SEEDS["user_token"])
        else:
            case._auth = SignedAuth(SEEDS["key_id"], SEEDS["secret"])


def _pick(values, generated):
    """One of `values`, or `None` (keep the generated value): a stable choice per input, so
    Hypothesis can shrink and replay cases."""
    digest = hashlib.sha256(repr(generated).encode("utf-8")).digest()
    index = int.from_bytes(digest[:4], "big") % (len(values) + 1)
    return values[index] if index < len(values) else None


def _negative(case):
    """Whether any part of the case was generated to be invalid: it is left as generated."""
    return case.meta is not None and case.meta.generation.mode.is_negative


@schemathesis.hook
def map_case(context, case):
    """Swaps generated ids for seeded ones in positive cases."""
    if _negative(case):
        return case
    path = case.operation.path
    choices = SEEDS["path_parameters"].get(path)
    if choices:
        generated = sorted((case.path_parameters or {}).items())
        chosen = _pick(choices, generated)
        if chosen is not None:
            case.path_parameters.update(chosen)
    query_seeds = SEEDS["query"].get(path, {})
    if query_seeds and case.query:
        for name, values in query_seeds.items():
            if name in case.query:
                chosen = _pick(values, (name, case.query[name]))
                if chosen is not None:
                    case.query[name] = chosen
    body_seeds = SEEDS["body"]
    if isinstance(case.body, dict):
        for name, values in body_seeds.items():
            if name in case.body:
                chosen = _pick(values, (name, repr(case.body[name])))
                if chosen is not None:
                    case.body[name] = chosen
    return case

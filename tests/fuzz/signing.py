"""Signs requests the way a strict Baton API key must: draft-cavage HTTP signatures with
hmac-sha256 over `(request-target) date digest`, a fresh `Date` and the body's `Digest`
(of the empty body too), through Python's `httpsig` client. A unique `X-Request-Id` is signed
too, so that a change sent twice on purpose (schemathesis replays cases) is not a replay."""

import base64
import hashlib
import uuid
from email.utils import formatdate

import requests.auth
from httpsig.requests_auth import HTTPSignatureAuth

SIGNED_HEADERS = ["(request-target)", "date", "digest", "x-request-id"]


def body_bytes(body):
    """The bytes a prepared request will send."""
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    raise TypeError(f"cannot sign a streamed body ({type(body).__name__})")


class SignedAuth(requests.auth.AuthBase):
    """A `requests` auth that signs every request with a strict API key."""

    def __init__(self, key_id, secret):
        self.key_id = key_id
        self.secret = secret

    def __call__(self, request):
        body = body_bytes(request.body)
        request.headers["Date"] = formatdate(usegmt=True)
        request.headers["X-Request-Id"] = uuid.uuid4().hex
        request.headers["Digest"] = (
            "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
        )
        signer = HTTPSignatureAuth(
            key_id=self.key_id,
            secret=self.secret,
            algorithm="hmac-sha256",
            headers=SIGNED_HEADERS,
        )
        return signer(request)


class UserTokenAuth(requests.auth.AuthBase):
    """`Authorization: token USER:SECRET`, OrderlyWeb's login."""

    def __init__(self, token):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"token {self.token}"
        return request

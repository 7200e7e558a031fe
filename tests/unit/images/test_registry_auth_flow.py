"""The Bearer token flow of the distribution API (what Docker Hub, GHCR, Harbor speak), against
an in-process registry double: scopes asked for, tokens reused per scope, refused credentials one
clear error with one token request (no retry storm). docker-registry with htpasswd (Basic) is
exercised for real in tests/e2e/images."""

from __future__ import annotations

import base64

import httpx
import pytest

from mlrt_iac.errors import PermanentError, RetryableError
from mlrt_iac.images.registry import Registry
from mlrt_iac.images.types import RegistryAuth


class FakeRegistry:
    def __init__(self) -> None:
        self.token_requests: list[httpx.QueryParams] = []
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        if request.url.host == "auth.example.com":
            self.token_requests.append(request.url.params)
            good = "Basic " + base64.b64encode(b"alice:secret").decode()
            if request.headers.get("authorization") != good:
                return httpx.Response(401, json={"details": "incorrect username or password"})
            return httpx.Response(
                200, json={"token": "tok-" + "+".join(request.url.params.get_list("scope"))}
            )
        challenge = 'Bearer realm="https://auth.example.com/token",service="registry.example.com"'
        auth = request.headers.get("authorization", "")
        if request.url.path == "/v2/" or not auth.startswith("Bearer tok-"):
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        if request.url.path == "/v2/team/svc/blobs/sha256:" + "a" * 64:
            return httpx.Response(200 if "push" in auth else 403)
        if request.url.path.endswith("/busy"):
            return httpx.Response(503, text="overloaded")
        return httpx.Response(404)


def _registry(fake: FakeRegistry, password: str = "secret") -> Registry:
    return Registry(
        "registry.example.com", auth=RegistryAuth("alice", password), transport=httpx.MockTransport(fake)
    )


def test_bearer_tokens_per_scope_are_fetched_once() -> None:
    fake = FakeRegistry()
    reg = _registry(fake)
    digest = "sha256:" + "a" * 64
    assert reg.has_blob("team/svc", digest) is True
    assert reg.has_blob("team/svc", digest) is True
    assert [p.get_list("scope") for p in fake.token_requests] == [["repository:team/svc:pull,push"]]
    assert fake.token_requests[0]["service"] == "registry.example.com"
    assert reg.has_blob("team/svc", "sha256:" + "b" * 64) is False  # 404: absent, not an error


def test_refused_credentials_are_one_error_without_retries() -> None:
    fake = FakeRegistry()
    reg = _registry(fake, password="wrong")
    with pytest.raises(PermanentError) as info:
        reg.has_blob("team/svc", "sha256:" + "a" * 64)
    assert info.value.summary == "Registry registry.example.com refused the credentials of 'alice'"
    assert len(fake.token_requests) == 1 and fake.calls.count("GET /v2/") == 1


def test_server_errors_are_retryable() -> None:
    fake = FakeRegistry()
    with pytest.raises(RetryableError) as info:
        _registry(fake).request("GET", "/v2/team/svc/busy", ("repository:team/svc:pull",), ok=(200,))
    assert "503" in info.value.summary

"""A small client for the OCI distribution API (what Docker's registry, Harbor, ECR, GCR and the
CNCF Distribution registry speak): manifests, blob HEAD / mount / upload / download, and the
auth challenge (Basic, or the Bearer token flow).

Credentials are tried once: a registry that answers 401 to them gets one clear PermanentError,
never a retry loop that could lock the account. A refused or timed-out connection names the
host:port. Server errors (5xx, 429) are RetryableError: the engine retries within its timeouts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin

import httpx

from mlrt_iac.errors import PermanentError, RetryableError
from mlrt_iac.images.types import RegistryAuth

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
_CHUNK = 1 << 20
_PARAM = re.compile(r'(\w+)="([^"]*)"')


def _scope(repository: str, actions: str) -> str:
    return f"repository:{repository}:{actions}"


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in ("localhost", "[::1]") or name.startswith("127.")


class Registry:
    """One registry host, with its credentials and the tokens it handed out."""

    def __init__(
        self,
        host: str,
        *,
        insecure: bool = False,
        auth: RegistryAuth | None = None,
        http_fallback: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.host = host
        self.base = f"{'http' if insecure else 'https'}://{host}"
        # As Docker does for loopback registries: https first, plain http when TLS fails.
        self._http_fallback = http_fallback and not insecure
        self.auth = auth
        self._client = httpx.Client(
            timeout=httpx.Timeout(30.0, read=300.0), follow_redirects=True, transport=transport
        )
        self._challenge: tuple[str, dict[str, str]] | None = None  # (scheme, params), once pinged
        self._tokens: dict[tuple[str, ...], str] = {}

    def close(self) -> None:
        self._client.close()

    # --- transport and auth ------------------------------------------------------------------
    def _unreachable(self, exc: Exception) -> PermanentError:
        return PermanentError(
            f"Cannot reach the registry at {self.host}",
            f"{type(exc).__name__}: {exc}. Check that the registry runs and listens on {self.host}"
            " (and whether it speaks https or plain http: `insecure`).",
        )

    def _raw(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        try:
            return self._client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException as exc:
            raise RetryableError(f"The registry at {self.host} timed out", str(exc), delay=5.0) from exc
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def _refused(self, what: str) -> PermanentError:
        if self.auth is None:
            return PermanentError(
                f"Registry {self.host} requires credentials",
                f"{what}. Log in (`docker login {self.host}` writes ~/.docker/config.json) or give the"
                " target's username and password.",
            )
        return PermanentError(
            f"Registry {self.host} refused the credentials of {self.auth.username!r}",
            f"{what}. Check the username and password (or the entry for {self.host} in the Docker"
            " config file); mlrt does not retry refused credentials.",
        )

    def _ping(self) -> tuple[str, dict[str, str]]:
        if self._challenge is None:
            try:
                resp = self._raw("GET", f"{self.base}/v2/")
            except PermanentError:
                if not self._http_fallback:
                    raise
                self.base = f"http://{self.host}"
                resp = self._raw("GET", f"{self.base}/v2/")
            header = resp.headers.get("www-authenticate", "")
            if resp.status_code == 401 and header:
                scheme, _, rest = header.partition(" ")
                self._challenge = (scheme.lower(), dict(_PARAM.findall(rest)))
            elif resp.status_code in (200, 401):
                self._challenge = ("none", {})
            else:
                raise self._status_error(resp, "GET /v2/")
        return self._challenge

    def _auth_header(self, scopes: tuple[str, ...]) -> dict[str, str]:
        scheme, params = self._ping()
        if scheme == "basic":
            if self.auth is None:
                raise self._refused("It asks for Basic credentials and none were found")
            return {"Authorization": httpx.BasicAuth(self.auth.username, self.auth.password)._auth_header}
        if scheme == "bearer":
            token = self._tokens.get(scopes)
            if token is None:
                token = self._token(params, scopes)
                self._tokens[scopes] = token
            return {"Authorization": f"Bearer {token}"}
        return {}

    def _token(self, params: dict[str, str], scopes: tuple[str, ...]) -> str:
        realm = params.get("realm")
        if not realm:
            raise PermanentError(f"Registry {self.host} sent a Bearer challenge without a realm", str(params))
        query: list[tuple[str, str]] = [("scope", s) for s in scopes]
        if params.get("service"):
            query.append(("service", params["service"]))
        auth = httpx.BasicAuth(self.auth.username, self.auth.password) if self.auth else None
        try:
            resp = self._client.get(realm, params=query, auth=auth)  # type: ignore[arg-type]
        except httpx.TransportError as exc:
            raise PermanentError(
                f"Cannot reach the token service of {self.host} at {realm}", str(exc)
            ) from exc
        if resp.status_code in (401, 403):
            raise self._refused(f"The token service {realm} answered {resp.status_code}")
        if resp.status_code != 200:
            raise self._status_error(resp, f"GET {realm}")
        body = resp.json()
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise PermanentError(f"The token service of {self.host} returned no token", resp.text[:300])
        return token

    def _status_error(self, resp: httpx.Response, what: str) -> PermanentError | RetryableError:
        detail = f"{what} answered {resp.status_code}: {resp.text[:500]}"
        if resp.status_code == 429 or resp.status_code >= 500:
            return RetryableError(
                f"Registry {self.host} is unavailable ({resp.status_code})", detail, delay=5.0
            )
        if resp.status_code == 403:
            return PermanentError(f"Registry {self.host} denied {what}", detail)
        return PermanentError(f"Registry {self.host} rejected {what} ({resp.status_code})", detail)

    def request(
        self, method: str, path: str, scopes: tuple[str, ...], *, ok: tuple[int, ...], **kwargs: object
    ) -> httpx.Response:
        """One authorised request; a 401 here means the credentials were refused."""
        headers = {**dict(kwargs.pop("headers", {}) or {}), **self._auth_header(scopes)}  # type: ignore[call-overload]
        url = path if path.startswith("http") else urljoin(self.base, path)
        resp = self._raw(method, url, headers=headers, **kwargs)
        if resp.status_code == 401:
            raise self._refused(f"{method} {path} answered 401")
        if resp.status_code not in ok:
            raise self._status_error(resp, f"{method} {path}")
        return resp

    # --- manifests ---------------------------------------------------------------------------
    def get_manifest(self, repository: str, ref: str) -> tuple[bytes, str]:
        """(bytes, media type) of a manifest or index, by tag or digest."""
        resp = self.request(
            "GET",
            f"/v2/{repository}/manifests/{ref}",
            (_scope(repository, "pull"),),
            ok=(200, 404),
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
        )
        if resp.status_code == 404:
            raise PermanentError(
                f"Image {self.host}/{repository}:{ref} not found",
                "The base image must exist in the registry before mlrt builds on it.",
            )
        return resp.content, resp.headers.get("content-type", "").split(";")[0].strip()

    def manifest_digest(self, repository: str, ref: str) -> str | None:
        resp = self.request(
            "HEAD",
            f"/v2/{repository}/manifests/{ref}",
            (_scope(repository, "pull,push"),),
            ok=(200, 404),
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
        )
        return resp.headers.get("docker-content-digest") if resp.status_code == 200 else None

    def put_manifest(self, repository: str, tag: str, body: bytes, media_type: str) -> None:
        self.request(
            "PUT",
            f"/v2/{repository}/manifests/{tag}",
            (_scope(repository, "pull,push"),),
            ok=(200, 201, 202),
            content=body,
            headers={"Content-Type": media_type},
        )

    # --- blobs -------------------------------------------------------------------------------
    def has_blob(self, repository: str, digest: str) -> bool:
        resp = self.request(
            "HEAD", f"/v2/{repository}/blobs/{digest}", (_scope(repository, "pull,push"),), ok=(200, 404)
        )
        return resp.status_code == 200

    def get_blob(self, repository: str, digest: str) -> bytes:
        return self.request(
            "GET", f"/v2/{repository}/blobs/{digest}", (_scope(repository, "pull"),), ok=(200,)
        ).content

    @contextmanager
    def stream_blob(self, repository: str, digest: str) -> Iterator[Iterator[bytes]]:
        """The blob's bytes as they arrive (for registry-to-registry copies, never on disk)."""
        headers = self._auth_header((_scope(repository, "pull"),))
        try:
            with self._client.stream(
                "GET", urljoin(self.base, f"/v2/{repository}/blobs/{digest}"), headers=headers
            ) as resp:
                if resp.status_code != 200:
                    resp.read()
                    raise self._status_error(resp, f"GET blob {digest} from {repository}")
                yield resp.iter_bytes(_CHUNK)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def mount_blob(self, repository: str, digest: str, source: str) -> bool:
        """Cross-repository mount on this registry; False when the registry declined it."""
        scopes = (_scope(repository, "pull,push"), _scope(source, "pull"))
        resp = self.request(
            "POST", f"/v2/{repository}/blobs/uploads/?mount={digest}&from={source}", scopes, ok=(201, 202)
        )
        if resp.status_code == 202 and resp.headers.get("location"):
            # Declined: the registry opened an upload session instead; cancel it.
            self._raw(
                "DELETE", urljoin(self.base, resp.headers["location"]), headers=self._auth_header(scopes)
            )
        return resp.status_code == 201

    def upload_blob(self, repository: str, digest: str, size: int, content: Path | Iterator[bytes]) -> None:
        """Monolithic upload (POST, then PUT ?digest=), streamed from a file or an iterator."""
        scopes = (_scope(repository, "pull,push"),)
        start = self.request("POST", f"/v2/{repository}/blobs/uploads/", scopes, ok=(202,))
        location = urljoin(self.base, start.headers["location"])
        url = f"{location}{'&' if '?' in location else '?'}digest={digest}"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        if isinstance(content, Path):
            with open(content, "rb") as handle:
                self.request("PUT", url, scopes, ok=(201, 204), content=_read_chunks(handle), headers=headers)
        else:
            self.request("PUT", url, scopes, ok=(201, 204), content=content, headers=headers)


def _read_chunks(handle: object) -> Iterator[bytes]:
    while chunk := handle.read(_CHUNK):  # type: ignore[attr-defined]
        yield chunk

"""A provider for engine tests: objects are JSON files, operations can be slow or fail on purpose.

Registered through a real entry point (see tests/conftest.py), never imported by the engine.
Configuration (`provider "test" { ... }`, or the MLRT_TEST_PROVIDER JSON env var, env winning):
  root          where objects live (default <project>/.mlrt/test-objects)
  delay         seconds each create/update/delete takes
  fail_create   names whose create fails with PermanentError
  retry_create  {name: n} the first n creates of that name raise RetryableError
  force_new     attribute names whose change forces replacement (default ["mode", "type"])
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, ClassVar

from mlrt_iac.errors import PermanentError, RetryableError
from mlrt_iac.provider import (
    CreateResult,
    DiffResult,
    Provider,
    ProviderContext,
    ReadResult,
    ResourceHandler,
    UpdateResult,
)


class _Handler(ResourceHandler):
    computed: ClassVar[tuple[str, ...]] = ()

    @property
    def p(self) -> TestProvider:
        assert isinstance(self.provider, TestProvider)
        return self.provider

    def _path(self, ctx: ProviderContext, id: str) -> Path:
        return self.p.root(ctx) / self.type_name / f"{id}.json"

    def planned_id(self, ctx: ProviderContext, desired: dict[str, Any]) -> str | None:
        return str(desired["name"])

    def diff(self, ctx: ProviderContext, prior: dict[str, Any], desired: dict[str, Any]) -> DiffResult:
        changed = sorted(k for k, v in desired.items() if prior.get(k) != v)
        force = self.p.setting("force_new", ["mode", "type", "name"])
        return DiffResult(changed=changed, requires_replace=[k for k in changed if k in force])

    def read(self, ctx: ProviderContext, id: str, prior: dict[str, Any]) -> ReadResult:
        path = self._path(ctx, id)
        if not path.exists():
            return ReadResult(None)
        return ReadResult(json.loads(path.read_text())["attributes"])

    def _write(self, ctx: ProviderContext, id: str, attrs: dict[str, Any]) -> None:
        path = self._path(ctx, id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"id": id, "attributes": attrs}))
        os.replace(tmp, path)

    def create(self, ctx: ProviderContext, desired: dict[str, Any]) -> CreateResult:
        name = str(desired["name"])
        self.p.pause()
        retries = self.p.setting("retry_create", {})
        if name in retries:
            counter = self.p.root(ctx) / f".retries-{name}"
            n = int(counter.read_text()) if counter.exists() else 0
            if n < int(retries[name]):
                counter.parent.mkdir(parents=True, exist_ok=True)
                counter.write_text(str(n + 1))
                raise RetryableError(f"{name} is busy", delay=0.05)
        if name in self.p.setting("fail_create", []):
            raise PermanentError(f"injected failure creating {name}")
        attrs = dict(desired)
        self._write(ctx, name, attrs)
        return CreateResult(name, attrs)

    def update(
        self, ctx: ProviderContext, id: str, prior: dict[str, Any], desired: dict[str, Any]
    ) -> UpdateResult:
        self.p.pause()
        if not self._path(ctx, id).exists():
            raise PermanentError(f"{id} does not exist")
        self._write(ctx, id, dict(desired))
        return UpdateResult(dict(desired))

    def delete(self, ctx: ProviderContext, id: str, prior: dict[str, Any]) -> None:
        self.p.pause()
        self._path(ctx, id).unlink(missing_ok=True)


def _handler_for(type_name: str) -> type[_Handler]:
    return type(f"Test_{type_name}", (_Handler,), {"type_name": type_name})


class TestProvider(Provider):
    __test__ = False  # not a pytest class
    name = "test"
    version = "0.0.1"
    handler_classes = tuple(
        _handler_for(t)
        for t in ("network_rule", "compute_pool", "image_repository", "external_access_integration")
    )

    def setting(self, key: str, default: Any) -> Any:
        env = os.environ.get("MLRT_TEST_PROVIDER")
        if env:
            data = json.loads(env)
            if key in data:
                return data[key]
        return self.config.get(key, default)

    def root(self, ctx: ProviderContext) -> Path:
        r = self.setting("root", None)
        return Path(r) if r else ctx.data_dir / "test-objects"

    def pause(self) -> None:
        delay = float(self.setting("delay", 0.0))
        if delay:
            time.sleep(delay)

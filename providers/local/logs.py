"""`mlrt logs` for the local provider: the files its trainings and services write.

A training's logs are its run's worker files (`.mlrt/runs/<run_id>/worker-<rank>.log`, one per
rank; `-instance N` picks rank N); following ends when the run has ended (its launcher.pid is
gone). A service's logs are its current instances' files (`.mlrt/services/<name>/
instance-<generation>-<i>.log`; `-instance N` picks instance N); following goes on, through
rolling updates (the next generation's files join in), until Ctrl-C or the service is deleted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from mlrt_iac.errors import PermanentError
from mlrt_iac.provider import Attributes, LogLine, LogQuery, ProviderContext
from providers.kit.logs import Source, file_logs
from providers.kit.records import read_json

_WORKER = re.compile(r"worker-(\d+)\.log")


def training_logs(
    ctx: ProviderContext, id: str, attributes: Attributes, query: LogQuery
) -> Iterator[LogLine]:
    run_dir = ctx.data_dir / "runs" / id
    if not run_dir.is_dir():
        raise PermanentError(
            f"The logs of run {id} of {ctx.address} are gone",
            f"{run_dir} does not exist: the run's folder was removed.",
        )

    def discover() -> list[Source]:
        found = []
        for path in run_dir.glob("worker-*.log"):
            m = _WORKER.fullmatch(path.name)
            if m and (query.instance is None or int(m.group(1)) == query.instance):
                found.append((int(m.group(1)), path))
        return [(f"rank {rank}", path) for rank, path in sorted(found)]

    return file_logs(ctx, discover, query, lambda: (run_dir / "launcher.pid").exists())


def service_logs(ctx: ProviderContext, id: str, attributes: Attributes, query: LogQuery) -> Iterator[LogLine]:
    service_dir = ctx.data_dir / "services" / id

    def record() -> dict[str, object]:
        data = read_json(service_dir / "processes.json")
        return data if isinstance(data, dict) else {}

    if not record():
        raise PermanentError(
            f"{ctx.address} has no logs here",
            f"{service_dir / 'processes.json'} is missing: the service was deleted or never started.",
        )

    def discover() -> list[Source]:
        generation = str(record().get("generation") or 0)
        found: list[tuple[int, Path]] = []
        for path in service_dir.glob(f"instance-{generation}-*.log"):
            index = path.name[len(f"instance-{generation}-") : -len(".log")]
            if index.isdigit() and (query.instance is None or int(index) == query.instance):
                found.append((int(index), path))
        return [(f"instance {i}", path) for i, path in sorted(found)]

    return file_logs(ctx, discover, query, lambda: bool(record()))

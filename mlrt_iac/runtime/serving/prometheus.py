"""Render an instance's shared counters in the Prometheus text exposition format (version 0.0.4)."""

from __future__ import annotations

import numpy as np

from mlrt_iac.runtime.serving.shared import BUCKETS, CODES, SharedState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render_metrics(
    state: SharedState, instance: str, max_queue: int, workers: int, served: tuple[str, ...]
) -> bytes:
    """Totals over every worker of the instance, labelled with the instance id."""
    lay = state.layout
    total = state.table.sum(axis=0)
    inst = f'instance="{instance}"'
    lines: list[str] = []
    lines += [
        "# HELP mlrt_serving_requests_total Requests answered, by endpoint and HTTP status.",
        "# TYPE mlrt_serving_requests_total counter",
    ]
    code_names = [str(c) for c in CODES] + ["other"]
    for e, endpoint in enumerate(lay.endpoints):
        if endpoint in lay.functions and endpoint not in served:
            continue
        for c, code in enumerate(code_names):
            value = total[lay.requests_at + e * lay.n_codes + c]
            if value or code == "200":
                lines.append(
                    f'mlrt_serving_requests_total{{{inst},function="{endpoint}",code="{code}"}} {_fmt(value)}'
                )
    lines += [
        "# HELP mlrt_serving_request_duration_seconds Time from request to answer, "
        "by function (answered requests, rejections included).",
        "# TYPE mlrt_serving_request_duration_seconds histogram",
    ]
    for f, function in enumerate(lay.functions):
        if function not in served:
            continue
        base = lay.hist_at + f * lay.hist_width
        counts = total[base : base + len(BUCKETS) + 1]
        cumulative = np.cumsum(counts)
        labels = f'{inst},function="{function}"'
        for bound, value in zip(BUCKETS, cumulative):
            lines.append(
                f'mlrt_serving_request_duration_seconds_bucket{{{labels},le="{bound}"}} {_fmt(value)}'
            )
        lines.append(
            f'mlrt_serving_request_duration_seconds_bucket{{{labels},le="+Inf"}} {_fmt(cumulative[-1])}'
        )
        lines.append(
            f"mlrt_serving_request_duration_seconds_sum{{{labels}}} {_fmt(total[base + lay.hist_width - 1])}"
        )
        lines.append(f"mlrt_serving_request_duration_seconds_count{{{labels}}} {_fmt(cumulative[-1])}")
    lines += [
        "# HELP mlrt_serving_rejections_total Requests refused with 503 because the queue "
        "was full (admission control).",
        "# TYPE mlrt_serving_rejections_total counter",
    ]
    for f, function in enumerate(lay.functions):
        if function not in served:
            continue
        lines.append(
            f'mlrt_serving_rejections_total{{{inst},function="{function}"}} '
            f"{_fmt(total[lay.rejected_at + f])}"
        )
    lines += [
        "# HELP mlrt_serving_queue_depth Requests admitted and waiting for a worker.",
        "# TYPE mlrt_serving_queue_depth gauge",
        f"mlrt_serving_queue_depth{{{inst}}} {_fmt(total[lay.queued_at])}",
        "# HELP mlrt_serving_queue_capacity Most requests that may wait (max_queue).",
        "# TYPE mlrt_serving_queue_capacity gauge",
        f"mlrt_serving_queue_capacity{{{inst}}} {max_queue}",
        "# HELP mlrt_serving_in_flight Requests in progress: body being read, waiting or running.",
        "# TYPE mlrt_serving_in_flight gauge",
        f"mlrt_serving_in_flight{{{inst}}} {_fmt(total[lay.inflight_at])}",
        "# HELP mlrt_serving_workers Worker processes of the instance.",
        "# TYPE mlrt_serving_workers gauge",
        f"mlrt_serving_workers{{{inst}}} {workers}",
    ]
    return ("\n".join(lines) + "\n").encode()

"""What one worker's per-request writes to the shared counters add up to on a scrape."""

from __future__ import annotations

from mlrt_iac.runtime.serving.model import KNOWN_FUNCTIONS
from mlrt_iac.runtime.serving.prometheus import render_metrics
from mlrt_iac.runtime.serving.shared import SharedState, spawn_context


def _samples(state: SharedState) -> dict[str, str]:
    text = render_metrics(state, "0", 4, state.workers, KNOWN_FUNCTIONS).decode()
    return dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))


def test_latencies_land_in_the_bucket_whose_bound_they_reach_and_codes_in_their_row() -> None:
    state = SharedState(spawn_context(), 2, KNOWN_FUNCTIONS, max_queue=4)
    predict = KNOWN_FUNCTIONS.index("predict")
    state.record(0, predict, 200, 0.0025, predict)  # exactly a bound: that bucket (le is <=)
    state.record(1, predict, 200, 0.0026, predict)  # just above: the next one
    state.record(1, predict, 503, 60.0, predict)  # beyond the last bound: +Inf only
    state.record(0, predict, 418, None, None)  # a code not listed: "other", no latency
    state.record_rejection(1, predict)
    state.set_inflight(0, 3)
    got = _samples(state)
    bucket = 'mlrt_serving_request_duration_seconds_bucket{instance="0",function="predict",le="%s"}'
    assert got[bucket % "0.001"] == "0"
    assert got[bucket % "0.0025"] == "1"
    assert got[bucket % "0.005"] == "2"
    assert got[bucket % "10.0"] == "2"
    assert got[bucket % "+Inf"] == "3"
    assert float(got['mlrt_serving_request_duration_seconds_sum{instance="0",function="predict"}']) == (
        0.0025 + 0.0026 + 60.0
    )
    requests = 'mlrt_serving_requests_total{instance="0",function="predict",code="%s"}'
    assert (got[requests % "200"], got[requests % "503"], got[requests % "other"]) == ("2", "1", "1")
    assert got['mlrt_serving_rejections_total{instance="0",function="predict"}'] == "1"
    assert got['mlrt_serving_in_flight{instance="0"}'] == "3"

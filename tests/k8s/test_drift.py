"""Drift lines (providers/kubernetes/drift.py): readable per field, owners named."""

from __future__ import annotations

from typing import Any

from providers.kubernetes.drift import describe, field_drift


def job(runtime_env: str, command: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": "t", "namespace": "ns"},
        "spec": {
            "runtimeEnvYAML": runtime_env,
            "entrypoint": "python -m mlrt_iac.runtime.launch " + " ".join(command),
            "submitterPodTemplate": {"spec": {"containers": [{"name": "s", "command": command}]}},
        },
    }


def test_long_values_show_what_differs_not_a_cut_prefix() -> None:
    """Issue 11: lines were cut at 60 characters, so both sides read the same."""
    base = ["--spec-env", "MLRT_JOB_SPEC", "--workers", "3", "--max-queue", "8", "--model-uri", "/models/m"]
    other = list(base)
    other[3] = "5"
    env_a = (
        'env_vars:\n  MLRT_EGRESS: ""\n  MLRT_JOB_SPEC: \'{"framework":"xgboost","num_boost_round":200}\'\n'
    )
    env_b = env_a.replace("200", "300")
    lines = field_drift(job(env_a, base), job(env_b, other))
    by_field = {line.split(": ", 1)[0].split(" ", 2)[2]: line.split(": ", 1)[1] for line in lines}
    entry = by_field[".spec.entrypoint"]
    assert "workers 3" in entry and "workers 5" in entry and len(entry) < 120
    assert by_field['.spec.submitterPodTemplate.spec.containers[name="s"].command'] == 'items [3] "3" -> "5"'
    env = by_field[".spec.runtimeEnvYAML"]
    assert env.startswith("changed (- wanted, + live):")
    assert "-  MLRT_JOB_SPEC" in env and "+  MLRT_JOB_SPEC" in env and "300" in env


def test_short_and_missing_values() -> None:
    assert describe(2, 5) == "2 -> 5"
    assert describe("a", "b") == '"a" -> "b"'
    from providers.kubernetes.drift import _MISSING

    assert describe(True, _MISSING) == "true -> (unset)"


def test_atomic_list_owned_whole_by_another_manager() -> None:
    """RayCluster's workerGroupSpecs is atomic in the CRD: a kubectl edit of one replica count
    makes kubectl-edit own the whole list, and the drift line says so."""
    want = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "cpu", "namespace": "ns"},
        "spec": {"workerGroupSpecs": [{"groupName": "workers", "replicas": 1}]},
    }
    live = {
        **want,
        "metadata": {
            "name": "cpu",
            "namespace": "ns",
            "managedFields": [
                {"manager": "mlrt", "operation": "Apply", "fieldsV1": {"f:spec": {"f:rayVersion": {}}}},
                {
                    "manager": "kubectl-edit",
                    "operation": "Update",
                    "fieldsV1": {"f:spec": {"f:workerGroupSpecs": {}}},
                },
            ],
        },
        "spec": {"workerGroupSpecs": [{"groupName": "workers", "replicas": 3, "numOfHosts": 1}]},
    }
    assert field_drift(want, live, force=False) == [
        "RayCluster ns/cpu .spec.workerGroupSpecs[0].replicas: 1 -> 3 (field "
        ".spec.workerGroupSpecs[0].replicas is now owned by kubectl-edit; apply will fail with a "
        "conflict, as the provider sets force_conflicts = false (set it to true to take the field "
        "back, or revert the change))"
    ]

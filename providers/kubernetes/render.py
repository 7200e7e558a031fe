"""The pure renderer: mlrt resources → Kubernetes manifests. No cluster needed.

`apply` and `mlrt render` both call `render_resource`, so what a GitOps repository commits is
exactly what the provider would apply. Output order is deterministic (objects per resource in a
fixed order, resources in input order) and contains no timestamps or random values.

Choices (see also config.py):
- A compute_pool is a KubeRay RayCluster: a small head that runs no tasks (`num-cpus: "0"`) plus
  one worker group whose pods are sized by the instance family (one pod per pool node);
  `replicas = active_nodes`, `minReplicas = min_nodes`, `maxReplicas = max_nodes`, the in-tree
  autoscaler on when min < max (its `idleTimeoutSeconds` = auto_suspend_secs: idle workers go
  away), `suspend` = the `suspended` switch when set, else `initially_suspended`.
- A training is a RayJob that submits to its pool's RayCluster (`clusterSelector`). The job spec
  the runtime launcher reads travels inline, as the env var `MLRT_JOB_SPEC` in `runtimeEnvYAML`:
  entrypoint `python -m mlrt_iac.runtime.launch --spec-env MLRT_JOB_SPEC`.
- A service is a Deployment whose pods are one instance each (sized by the family). An
  initContainer copies `model` (any pyarrow filesystem URI: s3://, gs://, hdfs://, or a path in
  the image / a mounted volume) into an emptyDir at /models/model with `pyarrow.fs.copy_files`,
  then `python -m mlrt_iac.runtime.serving` serves it on port 8080.
- A service that names an image_repository runs the image apply built for it (handlers.py), by
  digest, with the repository's pull secret: the model is in the image at /mlrt/model, so there
  is no init container. `mlrt render` reads no state, so it shows such a service as before its
  first build (the provider's image, fetching the model) and warns that the image is built at
  apply.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from mlrt_iac.errors import PermanentError
from mlrt_iac.model import InstanceFamily
from mlrt_iac.provider import AttributePath, Related, RenderItem, RenderOutput, filled, object_name
from mlrt_iac.values import UNKNOWN, Sensitive

from . import egress as eg
from . import quota as rq
from . import secrets as sec
from .config import KubernetesConfig
from .naming import ADDRESS_ANNOTATION, WORKLOAD_LABEL, base_labels, dns_name, label_value

Manifest = dict[str, Any]
Attributes = dict[str, Any]
DASHBOARD_PORT = 8265

HEAD_CPU, HEAD_MEMORY_GIB = 1, 4  # the head runs no tasks; it hosts GCS and the dashboard
SUBMITTER_CPU, SUBMITTER_MEMORY = "200m", "512Mi"
SERVING_PORT = 8080
FETCH_MODEL = "import sys, pyarrow.fs as fs; fs.copy_files(sys.argv[1], sys.argv[2])"
FALLBACK_FAMILY = "CPU_X64_S"
# Where an image mlrt built holds the model and the project's code (mlrt_iac.images.build).
BAKED_MODEL_DIR, APP_DIR = (
    "/mlrt/model",
    "/mlrt/app",
)  # sizes a service whose pool is not among the resources rendered


@dataclass
class RenderIndex:
    """What a resource needs to know about the resources it names: pools, EAIs, repositories."""

    pools: dict[str, Attributes] = field(default_factory=dict)
    egress: dict[str, list[str]] = field(default_factory=dict)  # EAI name -> entries
    repos: dict[str, Attributes] = field(default_factory=dict)

    @classmethod
    def from_items(cls, items: Iterable[RenderItem]) -> RenderIndex:
        items = list(items)
        rules = {
            object_name(i.address, i.attributes): i.attributes for i in items if i.type == "network_rule"
        }
        index = cls()
        for i in items:
            name = object_name(i.address, i.attributes)
            if i.type == "compute_pool":
                index.pools[name] = i.attributes
            elif i.type == "image_repository":
                index.repos[name] = i.attributes
            elif i.type == "external_access_integration":
                index.egress[name] = eai_entries(i.attributes, rules)
        return index

    @classmethod
    def from_related(cls, related: Mapping[str, Related]) -> RenderIndex:
        """At apply time the engine passes the referenced resources, typed and named."""
        index = cls()
        for ref in related.values():
            attrs = known(ref.attributes)
            if ref.type == "compute_pool":
                index.pools[ref.name] = attrs
            elif ref.type == "image_repository":
                index.repos[ref.name] = attrs
            elif ref.type == "external_access_integration":
                eff = attrs.get("effective_egress")
                index.egress[ref.name] = (
                    [str(e) for e in eff] if isinstance(eff, list) and attrs.get("enabled", True) else []
                )
        return index


def _name(address: str, attrs: Mapping[str, Any]) -> str:
    """The provider-side name (`mlrt_iac.provider.object_name`) of read-only attributes."""
    return object_name(address, dict(attrs))


def extend(out: RenderOutput, other: RenderOutput) -> None:
    """Append `other`'s manifests and warnings to `out`."""
    out.manifests.extend(other.manifests)
    out.warnings.extend(other.warnings)


def eai_entries(eai: Mapping[str, Any], rules: Mapping[str, Mapping[str, Any]]) -> list[str]:
    if eai.get("enabled", True) is False:
        return []
    out: list[str] = []
    for rule_name in eai.get("allowed_network_rules") or []:
        rule = rules.get(str(rule_name))
        if rule is not None:
            out.extend(eg.entries_from_rule(dict(rule)))
    return sorted(set(out))


def pool_namespace(cfg: KubernetesConfig, pool: str) -> str:
    return cfg.namespace or dns_name(f"mlrt-{pool}")


def _meta(
    name: str,
    namespace: str | None,
    address: str,
    extra: Mapping[str, str] | None = None,
    user: Mapping[str, str] | None = None,
) -> Attributes:
    """Object metadata: the user's labels (the pool's `labels`), then mlrt's own, which win."""
    labels = {str(k): str(v) for k, v in (user or {}).items()}
    labels.update(base_labels(address))
    labels.update(extra or {})
    meta: Attributes = {"name": name, "labels": labels, "annotations": {ADDRESS_ANNOTATION: address}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _mem(gib: float) -> str:
    return f"{int(gib)}Gi" if float(gib).is_integer() else f"{int(gib * 1024)}Mi"


def _cpu(cpus: float) -> str:
    return str(int(cpus)) if float(cpus).is_integer() else f"{int(cpus * 1000)}m"


def _resources(cpus: float, memory_gib: float, gpus: int) -> Attributes:
    req: Attributes = {"cpu": _cpu(cpus), "memory": _mem(memory_gib)}
    lim: Attributes = {"cpu": _cpu(cpus), "memory": _mem(memory_gib)}
    if gpus:
        req["nvidia.com/gpu"] = lim["nvidia.com/gpu"] = str(gpus)
    return {"requests": req, "limits": lim}


def _gpu_placement(cfg: KubernetesConfig, gpus: int) -> Attributes:
    if not gpus:
        return {}
    out: Attributes = {"tolerations": [dict(t) for t in cfg.gpu_tolerations]}
    if cfg.gpu_node_selector:
        out["nodeSelector"] = dict(cfg.gpu_node_selector)
    return out


def pool_family(cfg: KubernetesConfig, pool: Mapping[str, Any] | None) -> InstanceFamily:
    """The instance family of a pool, from the model's catalogue (built-in plus the provider
    block's `instance_family` ones); the engine has rejected unknown names at plan time."""
    name = str((pool or {}).get("instance_family") or FALLBACK_FAMILY)
    fam = cfg.families.get(name)
    if fam is None:
        raise PermanentError("Unknown instance family", cfg.families.unknown_detail(name))
    return fam


def _int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _filled(attrs: Mapping[str, Any], key: str, address: str) -> int:
    """An integer argument the engine fills in (schema default or derived): never re-derived
    here, so render, apply and the other providers agree on it."""
    value = attrs.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PermanentError(
        f"{address}: {key} is not known",
        f"Rendering needs {key} (the engine fills its default once the values it depends on "
        "are known). Apply what it depends on first, or set it explicitly.",
    )


def _timeout(attrs: Mapping[str, Any], op: str) -> int | None:
    t = attrs.get("timeouts")
    if isinstance(t, Mapping) and isinstance(t.get(op), (int, float)):
        return int(t[op])
    return None


# --- compute_pool ---------------------------------------------------------------------------


def _suspend(attrs: Mapping[str, Any]) -> bool:
    """`RayCluster.spec.suspend` (KubeRay deletes the pods and keeps the object): the in-place
    `suspended` switch when set, else `initially_suspended` (then the manifest keeps saying so,
    as a GitOps repository would)."""
    if attrs.get("suspended") is not None:
        return bool(attrs["suspended"])
    return bool(attrs.get("initially_suspended", False))


def raycluster_name(pool: str) -> str:
    return dns_name(pool, 48)  # KubeRay derives longer pod/service names from it


def render_pool(address: str, attrs: Attributes, cfg: KubernetesConfig) -> RenderOutput:
    name = object_name(address, attrs)
    ns = pool_namespace(cfg, name)
    fam = pool_family(cfg, attrs)
    min_n = _filled(attrs, "min_nodes", address)
    max_n = max(_filled(attrs, "max_nodes", address), min_n)
    active = _filled(attrs, "active_nodes", address)
    out = RenderOutput()
    user = attrs.get("labels") or {}
    if cfg.namespace is None:
        out.manifests.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns, None, address, user=user)}
        )
        # `spec.hard` and the reservations: filled in below, once the RayCluster is known.
        out.manifests.append(
            {
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": _meta(quota_name(name), ns, address, user=user),
                "spec": {"hard": {}},
            }
        )
    worker_pod: Attributes = {
        "containers": [
            {
                "name": "ray-worker",
                "image": cfg.image,
                "resources": _resources(fam.cpus, fam.memory_gib, fam.gpus),
            }
        ]
    }
    worker_pod.update(_gpu_placement(cfg, fam.gpus))
    head_pod: Attributes = {
        # Jobs' drivers run on the head: as this account they may read the Secrets that their
        # trainings' Roles name (secrets.py), and nothing else.
        "serviceAccountName": head_service_account(name),
        "containers": [
            {
                "name": "ray-head",
                "image": cfg.image,
                "resources": _resources(HEAD_CPU, HEAD_MEMORY_GIB, 0),
                "ports": [
                    {"containerPort": 6379, "name": "gcs-server"},
                    {"containerPort": DASHBOARD_PORT, "name": "dashboard"},
                    {"containerPort": 10001, "name": "client"},
                ],
            }
        ],
    }
    pod_labels = {**{str(k): str(v) for k, v in user.items()}, **base_labels(address)}
    cluster: Manifest = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": _meta(raycluster_name(name), ns, address, user=user),
        "spec": {
            "rayVersion": cfg.ray_version,
            "enableInTreeAutoscaling": min_n < max_n,
            "suspend": _suspend(attrs),
            "headGroupSpec": {
                "rayStartParams": {"num-cpus": "0", "dashboard-host": "0.0.0.0"},
                "template": {"metadata": {"labels": dict(pod_labels)}, "spec": head_pod},
            },
            "workerGroupSpecs": [
                {
                    "groupName": "workers",
                    "replicas": min(max(active, min_n), max_n),
                    "minReplicas": min_n,
                    "maxReplicas": max_n,
                    "rayStartParams": {},
                    "template": {"metadata": {"labels": dict(pod_labels)}, "spec": worker_pod},
                }
            ],
        },
    }
    if min_n < max_n:
        cluster["spec"]["autoscalerOptions"] = {
            "idleTimeoutSeconds": _filled(attrs, "auto_suspend_secs", address)
        }
    out.manifests.append(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(head_service_account(name), ns, address, user=user),
        }
    )
    out.manifests.append(cluster)
    out.manifests.append(_head_policy(name, ns, address, user))
    for i, obj in enumerate(out.manifests):
        if obj["kind"] == "ResourceQuota":  # the pool's own share; workloads add theirs (quota.py)
            own = {rq.key_of(address): rq.encode(rq.reservation([cluster]))}
            out.manifests[i] = rq.with_reservations(obj, own)
    return out


def quota_name(pool: str) -> str:
    return f"{dns_name(pool)}-quota"


def head_service_account(pool: str) -> str:
    return f"{raycluster_name(pool)}-head"


SUBMITTER_ROLE = {"mlrt.dev/role": "ray-job-submitter"}


def _head_policy(pool: str, ns: str, address: str, user: Mapping[str, Any]) -> Manifest:
    """A NetworkPolicy in front of the RayCluster's head pod.

    The dashboard must listen on the pod's address (`dashboard-host: 0.0.0.0`) for KubeRay, but
    it accepts job submissions: code execution for whoever reaches it. Only the cluster's own
    pods reach the head (GCS, object transfer, client); KubeRay's operator (any namespace) and
    the job submitter pods mlrt renders reach the dashboard's port and nothing else.
    """
    cluster = raycluster_name(pool)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(f"{cluster}-head", ns, address, user=user),
        "spec": {
            "podSelector": {"matchLabels": {"ray.io/cluster": cluster, "ray.io/node-type": "head"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": {"ray.io/cluster": cluster}}}]},
                {
                    "from": [
                        {
                            "namespaceSelector": {},
                            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "kuberay-operator"}},
                        },
                        {"podSelector": {"matchLabels": dict(SUBMITTER_ROLE)}},
                    ],
                    "ports": [{"port": DASHBOARD_PORT, "protocol": "TCP"}],
                },
            ],
        },
    }


# --- image_repository -----------------------------------------------------------------------


def repository_url(attrs: Mapping[str, Any], cfg: KubernetesConfig, address: str = "") -> str:
    registry = str(attrs.get("registry") or cfg.registry).rstrip("/")
    return f"{registry}/{dns_name(_name(address, attrs))}"


def pull_secret(attrs: Mapping[str, Any], cfg: KubernetesConfig, address: str = "") -> str:
    return cfg.image_pull_secret or f"{dns_name(_name(address, attrs))}-pull"


# --- egress ---------------------------------------------------------------------------------


def _egress_objects(
    address: str,
    workload: str,
    ns: str,
    selector: dict[str, str],
    eais: list[str],
    index: RenderIndex,
    cfg: KubernetesConfig,
) -> RenderOutput:
    out = RenderOutput()
    if not eais:
        return out
    entries = [eg.parse_entry(e) for name in eais for e in index.egress.get(name, [])]
    meta = _meta(f"{workload}-egress", ns, address)
    out.manifests.append(
        eg.network_policy(
            meta["name"],
            ns,
            meta["labels"],
            meta["annotations"],
            selector,
            entries,
            cfg.fqdn_policies == "cilium",
        )
    )
    hosts = sorted({f"{e.host}:{e.port}" for e in entries if not e.is_ip})
    if cfg.fqdn_policies == "cilium":
        cmeta = _meta(f"{workload}-fqdn", ns, address)
        cnp = eg.cilium_policy(cmeta["name"], ns, cmeta["labels"], cmeta["annotations"], selector, entries)
        if cnp is not None:
            out.manifests.append(cnp)
    elif hosts:
        out.warnings.append(
            f"{address}: HOST_PORT rules ({', '.join(hosts)}) are recorded but not enforced: a "
            "plain NetworkPolicy cannot match host names, so their ports are open to any address. "
            'Set fqdn_policies = "cilium" in the kubernetes provider to enforce them.'
        )
    return out


def _eai_list(attrs: Mapping[str, Any]) -> list[str]:
    value = attrs.get("external_access_integrations") or []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


# --- training -------------------------------------------------------------------------------


def job_spec(address: str, attrs: Mapping[str, Any], cfg: KubernetesConfig, egress: list[str]) -> Attributes:
    """The JSON document the runtime launcher reads (same fields the other providers pass)."""
    name = _name(address, attrs)
    root = str(attrs.get("artifact_location") or cfg.artifact_root).rstrip("/")
    run_id = attrs.get("run_id") if isinstance(attrs.get("run_id"), str) else None
    model_dir = f"{root}/{name}/{run_id}" if run_id else f"{root}/{name}"
    keys = (
        "framework",
        "dataset",
        "params",
        "num_boost_round",
        "n_estimators",
        "entrypoint",
        "hyper_params",
        "scaling",
    )
    spec: Attributes = {"address": address, "name": name, "model_dir": model_dir, "egress": egress}
    if run_id:
        spec["run_id"] = run_id
    for k in keys:
        if attrs.get(k) is not None:
            spec[k] = attrs[k]
    return spec


def render_training(
    address: str,
    attrs: Attributes,
    index: RenderIndex,
    cfg: KubernetesConfig,
    sensitive: tuple[AttributePath, ...] = (),
    with_secrets: bool = True,
) -> RenderOutput:
    name = object_name(address, attrs)
    pool = str(attrs.get("compute_pool") or "")
    ns = pool_namespace(cfg, pool)
    cluster = raycluster_name(pool)
    eais = _eai_list(attrs)
    egress = sorted({e for n in eais for e in index.egress.get(n, [])})
    spec, secret_values = sec.extract(job_spec(address, attrs, cfg, egress), sensitive)
    secret_objects: list[Manifest] = []
    warnings: list[str] = []
    if secret_values:
        secret = sec.secret_name(name)
        spec = sec.reference(spec, ns, secret)
        meta = _meta(secret, ns, address)
        if with_secrets:
            secret_objects.append(sec.secret_manifest(meta, secret_values))
        else:
            warnings.append(sec.left_out_warning(address, ns, secret, list(secret_values), "The job"))
        secret_objects.extend(sec.reader_rbac(meta, secret, ns, head_service_account(pool)))
    env = {
        "MLRT_JOB_SPEC": json.dumps(spec, sort_keys=True, separators=(",", ":")),
        "MLRT_EGRESS": ",".join(egress),
    }
    image = str(attrs.get("image") or cfg.image)
    job: Manifest = {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": _meta(dns_name(name), ns, address, {WORKLOAD_LABEL: label_value(address)}),
        "spec": {
            "entrypoint": "python -m mlrt_iac.runtime.launch --spec-env MLRT_JOB_SPEC",
            "clusterSelector": {"ray.io/cluster": cluster},
            "runtimeEnvYAML": yaml.safe_dump({"env_vars": env}, sort_keys=True, width=1 << 20),
            "submitterPodTemplate": {
                "metadata": {"labels": dict(SUBMITTER_ROLE)},  # let through the head's policy
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "ray-job-submitter",
                            "image": image,
                            "resources": {
                                "requests": {"cpu": SUBMITTER_CPU, "memory": SUBMITTER_MEMORY},
                                "limits": {"cpu": SUBMITTER_CPU, "memory": SUBMITTER_MEMORY},
                            },
                        }
                    ],
                },
            },
        },
    }
    deadline = _timeout(attrs, "create")
    if deadline:
        job["spec"]["activeDeadlineSeconds"] = deadline
    out = RenderOutput([*secret_objects, job], warnings)
    # The job's code runs on the pool's RayCluster pods, so the policy selects those.
    extend(
        out,
        _egress_objects(
            address, dns_name(f"{name}-train"), ns, {"ray.io/cluster": cluster}, eais, index, cfg
        ),
    )
    return out


# --- service --------------------------------------------------------------------------------


def service_endpoint(attrs: Mapping[str, Any], cfg: KubernetesConfig, address: str = "") -> str:
    name = dns_name(_name(address, attrs))
    ns = pool_namespace(cfg, str(attrs.get("compute_pool") or ""))
    return f"http://{name}.{ns}.svc.cluster.local:{SERVING_PORT}"


def built_image(attrs: Mapping[str, Any]) -> str | None:
    """The digest-pinned image (`host/repo@sha256:...`) apply built for a service that names an
    image_repository, from its attributes (apply passes the fresh build; a read re-renders
    from state); None before the first build."""
    repo, image = attrs.get("image_repository"), attrs.get("image")
    if isinstance(repo, str) and repo and isinstance(image, str) and "@sha256:" in image:
        return image
    return None


def service_image(
    attrs: Mapping[str, Any], index: RenderIndex, cfg: KubernetesConfig
) -> tuple[str, str | None]:
    """The serving image and its pull secret. A service that names an image_repository runs the
    image apply built and pushed there (pulled with the repository's pull secret); before that
    build exists (`mlrt render` of a configuration not yet applied) it shows the provider's
    runtime image, which fetches the model as a service without a repository does."""
    repo_name = attrs.get("image_repository")
    if isinstance(repo_name, str) and repo_name:
        repo = index.repos.get(repo_name, {"name": repo_name})
        return built_image(attrs) or cfg.image, pull_secret(repo, cfg)
    return cfg.image, None


def _image_warnings(
    address: str, attrs: Mapping[str, Any], index: RenderIndex, cfg: KubernetesConfig
) -> list[str]:
    """What a reader of the rendered Deployment of a service with an image_repository must know:
    the image is not built yet, and an image on `scratch` cannot run (no Python)."""
    repo_name = attrs.get("image_repository")
    if not isinstance(repo_name, str) or not repo_name:
        return []
    out: list[str] = []
    if built_image(attrs) is None:
        repo = index.repos.get(repo_name, {"name": repo_name})
        out.append(
            f"{address}: its image is built at apply and pushed to {repository_url(repo, cfg)}; "
            f"until then this Deployment shows the provider's image {cfg.image}, which fetches the "
            "model. Apply to build it; the applied Deployment runs it by digest."
        )
    if not (attrs.get("base_image") or cfg.base_image):
        out.append(scratch_warning(address))
    return out


def scratch_warning(address: str) -> str:
    return (
        f"{address}: its image is built on scratch (no base_image): mlrt's layers hold no Python "
        "interpreter, so its pods cannot start on a cluster. Set base_image on the service or on "
        "the kubernetes provider to an image with the Python mlrt runs with."
    )


def render_service(
    address: str,
    attrs: Attributes,
    index: RenderIndex,
    cfg: KubernetesConfig,
    sensitive: tuple[AttributePath, ...] = (),
    with_secrets: bool = True,
) -> RenderOutput:
    name = dns_name(object_name(address, attrs))
    pool_name = str(attrs.get("compute_pool") or "")
    ns = pool_namespace(cfg, pool_name)
    fam = pool_family(cfg, index.pools.get(pool_name))
    gpus = _filled(attrs, "gpu_requests", address)
    replicas = 0 if attrs.get("suspended") else _filled(attrs, "max_instances", address)
    workers = _filled(attrs, "num_workers", address)
    max_queue = _filled(attrs, "max_queue", address)
    model = str(attrs.get("model") or "")
    warnings = []
    if not model:
        warnings.append(
            f"{address}: its model is known only after apply (a training's model_uri), so the "
            "rendered Deployment has no model to fetch. Apply the training, then render again."
        )
    image, secret = service_image(attrs, index, cfg)
    # An image apply built carries the model at /mlrt/model and the project's code at
    # /mlrt/app (mlrt_iac.images): nothing to fetch, and model_class imports from the image.
    baked = built_image(attrs) is not None
    warnings.extend(_image_warnings(address, attrs, index, cfg))
    model_class_args: list[str] = []
    if attrs.get("model_class") and baked:
        model_class_args = ["--model-class", str(attrs["model_class"]), "--project-dir", APP_DIR]
    elif attrs.get("model_class"):
        model_class_args = ["--model-class", str(attrs["model_class"])]
        warnings.append(
            f'{address}: model_class "{attrs["model_class"]}" is imported inside the serving '
            f"container ({image}); this provider does not copy the project's code into that "
            "image, so its module must be installed there."
        )
    fetch_env: list[Attributes] = []
    secret_objects: list[Manifest] = []
    if model and not baked and any(p and p[0] == "model" for p in sensitive):
        # The URI may carry credentials: it comes from a Secret, expanded by Kubernetes.
        model_secret = sec.secret_name(name)
        meta = _meta(model_secret, ns, address)
        if with_secrets:
            secret_objects.append(sec.secret_manifest(meta, {"model": model}, as_json=False))
        else:
            warnings.append(
                sec.left_out_warning(
                    address, ns, model_secret, ["model"], "The model-fetching init container"
                )
            )
        fetch_env.append(
            {"name": "MLRT_MODEL_URI", "valueFrom": {"secretKeyRef": {"name": model_secret, "key": "model"}}}
        )
        model = "$(MLRT_MODEL_URI)"
    selector = {"mlrt.dev/service": name, WORKLOAD_LABEL: label_value(address)}
    functions = [str(f) for f in filled(attrs, "functions", address)]
    env = [{"name": "MLRT_FUNCTIONS", "value": ",".join(functions)}]
    # the server's limits: rows per model call (a larger request is cut) and bytes per body (413)
    limit_args: list[str] = []
    if attrs.get("max_batch_rows") is not None:
        limit_args += ["--max-batch-rows", str(int(attrs["max_batch_rows"]))]
    if attrs.get("max_request_bytes") is not None:
        limit_args += ["--max-body-bytes", str(int(attrs["max_request_bytes"]))]
    probe = {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10}
    fetch: list[Attributes] = (
        []
        if baked
        else [
            {
                "name": "fetch-model",
                "image": image,
                "command": ["python", "-c", FETCH_MODEL, model, "/models/model"],
                **({"env": fetch_env} if fetch_env else {}),
                "volumeMounts": [{"name": "model", "mountPath": "/models"}],
                "resources": {
                    "requests": {"cpu": "500m", "memory": "1Gi"},
                    "limits": {"cpu": "500m", "memory": "1Gi"},
                },
            }
        ]
    )
    mounts = [] if baked else [{"name": "model", "mountPath": "/models"}]
    pod: Attributes = {
        **({"initContainers": fetch} if fetch else {}),
        "containers": [
            {
                "name": "server",
                "image": image,
                "command": [
                    "python",
                    "-m",
                    "mlrt_iac.runtime.serving",
                    "--model-uri",
                    BAKED_MODEL_DIR if baked else "/models/model",
                    "--host",
                    "0.0.0.0",
                    "--port",
                    str(SERVING_PORT),
                    "--workers",
                    str(workers),
                    "--max-queue",
                    str(max_queue),
                    *limit_args,
                    *model_class_args,
                ],
                "ports": [{"containerPort": SERVING_PORT, "name": "http", "protocol": "TCP"}],
                "env": env,
                "readinessProbe": dict(probe, initialDelaySeconds=5),
                "livenessProbe": dict(probe, initialDelaySeconds=30, failureThreshold=6),
                "resources": _resources(fam.cpus, fam.memory_gib, gpus),
                **({"volumeMounts": mounts} if mounts else {}),
            }
        ],
        **({} if baked else {"volumes": [{"name": "model", "emptyDir": {}}]}),
    }
    if secret:
        pod["imagePullSecrets"] = [{"name": secret}]
    if gpus:
        pod.update(_gpu_placement(cfg, gpus))
    template_labels = base_labels(address)
    template_labels.update(selector)
    out = RenderOutput(list(secret_objects), warnings)
    out.manifests.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(name, ns, address),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": dict(selector)},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": template_labels, "annotations": {ADDRESS_ANNOTATION: address}},
                    "spec": pod,
                },
            },
        }
    )
    out.manifests.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(name, ns, address),
            "spec": {
                "type": "ClusterIP",
                "selector": dict(selector),
                "ports": [{"name": "http", "port": SERVING_PORT, "targetPort": "http", "protocol": "TCP"}],
            },
        }
    )
    if attrs.get("ingress_enabled"):
        ing_spec: Attributes = {
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": name, "port": {"name": "http"}}},
                            }
                        ]
                    }
                }
            ]
        }
        if cfg.ingress_class:
            ing_spec["ingressClassName"] = cfg.ingress_class
        out.manifests.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": _meta(name, ns, address),
                "spec": ing_spec,
            }
        )
    out.manifests.append(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _meta(name, ns, address),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(selector)}},
        }
    )
    extend(out, _egress_objects(address, name, ns, dict(selector), _eai_list(attrs), index, cfg))
    return out


# --- entry points ---------------------------------------------------------------------------


def known(value: Any) -> Any:
    """Values known only after apply become None (unset); `Sensitive` wrappers are unwrapped:
    what is sensitive reaches the renderer as attribute paths, which secrets.py keeps out of
    the manifests."""
    if value is UNKNOWN:
        return None
    if isinstance(value, Sensitive):
        return known(value.value)
    if isinstance(value, dict):
        return {k: known(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [known(v) for v in value]
    return value


def render_resource(
    rtype: str,
    address: str,
    attrs: Attributes,
    index: RenderIndex,
    cfg: KubernetesConfig,
    sensitive: tuple[AttributePath, ...] = (),
    with_secrets: bool = True,
) -> RenderOutput:
    """The manifests of one resource (empty for types realised without objects).

    `sensitive` lists the attribute paths whose values must not appear in a manifest (see
    secrets.py); `with_secrets` adds the Secret holding them (apply), else a warning says it
    was left out (`mlrt render`).
    """
    attrs = known(attrs)
    sec.refuse_inline(rtype, address, sensitive)
    if rtype == "compute_pool":
        return render_pool(address, attrs, cfg)
    if rtype == "training":
        return render_training(address, attrs, index, cfg, sensitive, with_secrets)
    if rtype == "service":
        return render_service(address, attrs, index, cfg, sensitive, with_secrets)
    # image_repository, network_rule, external_access_integration: no objects of their own
    # (a registry URL and pull-secret reference; egress is rendered per workload).
    return RenderOutput()


def render_items(items: list[RenderItem], cfg: KubernetesConfig) -> RenderOutput:
    """Every manifest for a whole configuration, references resolved by name among `items`."""
    items = [RenderItem(i.address, i.type, known(i.attributes), i.sensitive_paths) for i in items]
    index = RenderIndex.from_items(items)
    out = RenderOutput()
    shares: dict[str, dict[str, str]] = {}  # namespace -> the workloads' quota reservations
    for item in items:
        rendered = render_resource(
            item.type, item.address, item.attributes, index, cfg, item.sensitive_paths, with_secrets=False
        )
        extend(out, rendered)
        if item.type in ("training", "service") and rendered.manifests:
            ns = str(rendered.manifests[-1]["metadata"].get("namespace") or "")
            charge = rq.encode(rq.reservation(rendered.manifests))
            if charge:
                shares.setdefault(ns, {})[rq.key_of(item.address)] = charge
    # Each pool's quota holds the reservations of the workloads in its namespace (quota.py).
    for i, obj in enumerate(out.manifests):
        if obj["kind"] == "ResourceQuota":
            ns = str(obj["metadata"].get("namespace") or "")
            own = rq.reservations_of(obj)
            out.manifests[i] = rq.with_reservations(obj, {**shares.get(ns, {}), **own})
    return out

"""Typed schemas of every resource block (Snowflake's vocabulary: compute pools, image repositories,
network rules, external access integrations, trainings, services).

Each model holds a block's arguments with their defaults plus its computed attributes
(fields marked computed: None until a provider fills them; setting them in HCL is an error).
Models only check types and simple bounds; rules that span fields or need the catalogue live
in `checks.py` and `cross.py`, so that values unknown until apply can be skipped there.

Conversions follow Terraform: "3" is a fine number, "abc" is not; numbers are fine strings.
References to whole resources (`compute_pool = compute_pool.cpu`) are reduced to the
referenced object's name before validation (see `prepare.py`); the fields below are names.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_serializer

from ..values import UNKNOWN


def _upper(v: Any) -> Any:
    return v.upper() if isinstance(v, str) else v


def _lower(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


def _str_to_list(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


def _single_block(v: Any) -> Any:
    """A nested block written once may arrive as a one-element list from the parser."""
    if isinstance(v, list) and len(v) == 1 and isinstance(v[0], dict):
        return v[0]
    return v


def _labelled_blocks(v: Any) -> Any:
    """`dataset "a" {}` blocks may arrive as a list of {"a": {...}} maps; merge them."""
    if isinstance(v, list) and all(isinstance(x, dict) for x in v):
        merged: dict[str, Any] = {}
        for x in v:
            merged.update(x)
        return merged
    return v


_UNKNOWN_MARK = "\x00mlrt:unknown\x00"


def _put_back_unknown(value: Any) -> Any:
    if isinstance(value, str) and value == _UNKNOWN_MARK:
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _put_back_unknown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_put_back_unknown(v) for v in value]
    return value


def computed(default: Any = None, description: str = "") -> Any:
    """A computed attribute: known after apply, never written in configuration."""
    return Field(default=default, description=description, json_schema_extra={"computed": True})


class _Block(BaseModel):
    """Base of every schema: unknown arguments are errors; numbers convert to strings.

    defer_build: a model's validator is built when it first validates (a command that meets no
    `image_repository` block never pays for that schema; the bases are never built at all)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, defer_build=True)

    # field -> (nested model, labelled) for nested blocks: `scaling {}` / `dataset "x" {}`.
    BLOCKS: ClassVar[dict[str, tuple[type[_Block], bool]]] = {}


class ResourceModel(_Block):
    """Arguments every resource type takes, plus bookkeeping the engine reads back."""

    # field -> resource type it refers to; LIST_REFS: those holding a list of references.
    REF_FIELDS: ClassVar[dict[str, str]] = {}
    LIST_REFS: ClassVar[frozenset[str]] = frozenset()

    name: str | None = Field(
        None,
        description="Name of the provider object (default: the block label, plus -KEY under count/for_each); normalised to a DNS label.",
    )
    comment: str | None = Field(None, description="Free text kept in state and shown by `mlrt state show`.")

    _references: dict[str, tuple[str, ...]] = PrivateAttr(default_factory=dict)
    _ref_names: dict[str, list[tuple[str, bool]]] = PrivateAttr(default_factory=dict)
    _ref_values: dict[str, list[dict[str, Any]]] = PrivateAttr(default_factory=dict)
    _sensitive_paths: tuple[tuple[str, ...], ...] = PrivateAttr(default=())

    @property
    def references(self) -> dict[str, tuple[str, ...]]:
        """Reference field -> addresses of the resources it names (filled by cross_check)."""
        return self._references

    def to_attributes(self) -> dict[str, Any]:
        """Plain attribute values (UNKNOWN kept where not known yet), for plans and providers."""
        return self.model_dump()

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        """BaseModel.model_dump, except that UNKNOWN survives in every mode (json included)
        instead of raising, and no serializer warnings are emitted for it."""
        kwargs.setdefault("warnings", False)
        if kwargs.get("mode") != "json":
            return super().model_dump(**kwargs)
        seen: list[bool] = []

        def fallback(value: Any) -> Any:
            if value is UNKNOWN:
                seen.append(True)
                return _UNKNOWN_MARK
            raise TypeError(f"cannot serialize {type(value).__name__}")

        data = super().model_dump(fallback=fallback, **kwargs)
        return _put_back_unknown(data) if seen else data

    @property
    def sensitive_paths(self) -> tuple[tuple[str, ...], ...]:
        """Attribute paths whose configured value was sensitive."""
        return self._sensitive_paths


# --- compute_pool -----------------------------------------------------------------------------


class Node(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str = Field(description="Node name, unique in the pool (e.g. cpu-node-0).")
    cpus: float = Field(description="vCPUs the node has (the family's, capped by the machine on local).")
    gpus: int = Field(0, description="GPUs the node has.")
    memory: float = Field(0, description="Memory of the node in GiB.")


class ComputePool(ResourceModel):
    instance_family: str = Field(
        description="Node type: a built-in family (CPU_X64_XS ... GPU_NV_L) or one declared in the provider."
    )
    min_nodes: int = Field(1, description="Nodes kept running at least (> 0).")
    max_nodes: int = Field(1, description="Nodes the pool may scale to (>= min_nodes).")
    active_nodes: int | None = Field(
        None,
        description="Desired running nodes, min_nodes <= active_nodes <= max_nodes (default: min_nodes).",
    )
    auto_resume: bool = Field(
        True,
        description="Resume a suspended pool when a training or service needs it; false makes "
        "a workload on a suspended pool a plan error.",
    )
    auto_suspend_secs: int = Field(
        3600, ge=0, description="Idle seconds before the pool suspends (0: never)."
    )
    initially_suspended: bool = Field(
        False,
        description="Create the pool suspended (creation-only; ignored once the pool exists, "
        "as in Snowflake).",
    )
    suspended: bool | None = Field(
        None,
        description="Keep the pool suspended (true) or running (false), changed in place; "
        "unset: mlrt leaves the pool's state alone (initially_suspended at creation, then "
        "auto-resume and auto-suspend).",
    )
    scale_timeout_secs: int = Field(
        720, gt=0, description="Seconds a scale operation may take before it is rolled back."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Labels put on the pool's objects.")

    nodes: list[Node] | None = computed(description="Running nodes: name, cpus, gpus, memory.")
    state: str | None = computed(description="ACTIVE, SUSPENDED or IDLE.")
    address: str | None = computed(description="Where the pool is reached (e.g. a Ray address).")


# --- image_repository -------------------------------------------------------------------------


class ImageRepository(ResourceModel):
    registry: str | None = Field(None, description="Registry host (default: the provider's).")

    repository_url: str | None = computed(description="URL images are pushed to and pulled from.")


# --- network_rule / external_access_integration ------------------------------------------------


class NetworkRule(ResourceModel):
    mode: Annotated[Literal["EGRESS", "INGRESS"], BeforeValidator(_upper)] = Field(
        description="EGRESS or INGRESS."
    )
    type: Annotated[Literal["HOST_PORT", "IPV4"], BeforeValidator(_upper)] = Field(
        description="HOST_PORT (host[:port]) or IPV4 (address or CIDR)."
    )
    value_list: list[str] = Field(
        description="Entries: host[:port] with optional *. wildcard, 0.0.0.0:PORT for any host; or IPv4 address/CIDR."
    )


class ExternalAccessIntegration(ResourceModel):
    REF_FIELDS: ClassVar[dict[str, str]] = {
        "allowed_network_rules": "network_rule",
        "allowed_secrets": "secret",
    }
    LIST_REFS: ClassVar[frozenset[str]] = frozenset({"allowed_network_rules", "allowed_secrets"})

    allowed_network_rules: list[str] = Field(description="EGRESS network rules (references or names).")
    enabled: bool = Field(
        True, description="A disabled integration grants nothing; builds that need it fail at plan."
    )
    allowed_secrets: list[str] = Field(
        default_factory=list, description="Secrets workloads may read (references or names)."
    )

    effective_egress: list[str] | None = computed(description="Resolved host:port list of the allowed rules.")


# --- training --------------------------------------------------------------------------------


class Dataset(_Block):
    source: Annotated[list[str], BeforeValidator(_str_to_list)] = Field(
        description="Parquet/CSV/Arrow file, directory or glob (or a list of them)."
    )
    input_cols: list[str] | None = Field(
        None, description="Feature columns (default: every column but the label)."
    )
    label_col: str | None = Field(None, description="Target column (required for xgboost and lightgbm).")
    shard: bool = Field(
        True, description="Give each worker its own shard of the rows (false: every worker reads all rows)."
    )


class Scaling(_Block):
    num_nodes: int = Field(
        1, ge=1, description="Nodes of the pool the training spans (<= the pool's max_nodes)."
    )
    num_workers_per_node: int = Field(1, ge=1, description="Worker processes per node.")
    num_cpus_per_worker: float = Field(1, gt=0, description="CPUs reserved per worker.")
    num_gpus_per_worker: float = Field(0, ge=0, description="GPUs reserved per worker.")
    use_gpu: bool = Field(
        False, description="Train on GPUs (one per worker unless num_gpus_per_worker says otherwise)."
    )

    @field_serializer("num_cpus_per_worker", "num_gpus_per_worker")
    def _whole_numbers(self, v: Any) -> Any:
        """Show 1 rather than 1.0 in plans and state; fractions stay as written."""
        return int(v) if isinstance(v, float) and v.is_integer() else v

    @property
    def gpus_per_worker(self) -> float:
        """GPUs a worker asks for, as Ray reads ScalingConfig: use_gpu alone means one."""
        if self.num_gpus_per_worker:
            return self.num_gpus_per_worker
        return 1.0 if self.use_gpu is True else 0.0


Framework = Literal["xgboost", "lightgbm", "pytorch"]


class Training(ResourceModel):
    REF_FIELDS: ClassVar[dict[str, str]] = {
        "compute_pool": "compute_pool",
        "external_access_integrations": "external_access_integration",
    }
    LIST_REFS: ClassVar[frozenset[str]] = frozenset({"external_access_integrations"})
    BLOCKS: ClassVar[dict[str, tuple[type[_Block], bool]]] = {
        "dataset": (Dataset, True),
        "scaling": (Scaling, False),
    }

    compute_pool: str = Field(description="The pool it runs on (reference or name).")
    framework: Annotated[Framework, BeforeValidator(_lower)] = Field(
        description="xgboost, lightgbm or pytorch."
    )
    dataset: Annotated[dict[str, Dataset], BeforeValidator(_labelled_blocks)] = Field(
        default_factory=dict, description='`dataset "NAME" { }` blocks, by label.'
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Framework parameters (e.g. xgboost's objective, max_depth)."
    )
    num_boost_round: int | None = Field(None, ge=1, description="Boosting rounds (xgboost, lightgbm).")
    n_estimators: int | None = Field(None, ge=1, description="Alias of num_boost_round (xgboost, lightgbm).")
    entrypoint: str | None = Field(None, description='"module:function" to run (required for pytorch).')
    hyper_params: dict[str, Any] = Field(
        default_factory=dict, description="Values the training function reads with get_hyper_params()."
    )
    scaling: Annotated[Scaling, BeforeValidator(_single_block)] = Field(
        default_factory=lambda: Scaling.model_validate({}),
        description="`scaling { }` block: nodes, workers, CPUs and GPUs.",
    )
    image: str | None = Field(
        None,
        description="Container image to run in, trusted as is: mlrt builds none for this training "
        "(providers that use images).",
    )
    pip_requirements: list[str] = Field(
        default_factory=list,
        description='Python packages the workload needs, as pip requirement strings ("scikit-learn>=1.4"): '
        "installed into the image mlrt builds, or into the Ray job's runtime_env.",
    )
    base_image: str | None = Field(
        None,
        description="Image mlrt builds on, by tag or digest (default: the provider's base image).",
    )
    external_access_integrations: list[str] = Field(
        default_factory=list, description="Integrations granting egress (references or names)."
    )
    artifact_location: str | None = Field(
        None,
        description="Where model versions are written, one folder per run (default: .mlrt/models/<training>/).",
    )
    retrain_on: Annotated[Literal["inputs", "never"], BeforeValidator(_lower)] = Field(
        "inputs", description="inputs: re-run when data, code or parameters change; never."
    )
    keep_versions: int = Field(
        3,
        description="Model versions kept (>= 1); older ones are removed after a run, never one a service uses.",
    )

    run_id: str | None = computed(description="Identifier of the last run.")
    status: str | None = computed(description="Status of the last run.")
    metrics: dict[str, Any] | None = computed(description="Metrics the run reported.")
    model_uri: str | None = computed(description="Where the trained model is stored.")
    input_fingerprint: str | None = computed(description="Hash of data, code and parameters of the last run.")
    started_at: str | None = computed(description="When the last run started.")
    finished_at: str | None = computed(description="When the last run finished.")
    versions: list[dict[str, Any]] | None = computed(
        description="Model versions kept, oldest first: id, model_uri, created_at."
    )


# --- service ---------------------------------------------------------------------------------


class Service(ResourceModel):
    REF_FIELDS: ClassVar[dict[str, str]] = {
        "compute_pool": "compute_pool",
        "image_repository": "image_repository",
        "build_external_access_integration": "external_access_integration",
    }

    compute_pool: str = Field(description="The pool it runs on (reference or name).")
    model: str = Field(description="A training's model_uri or a path to a saved model.")
    functions: list[str] = Field(
        default_factory=lambda: ["predict"], description="Model methods exposed as endpoints."
    )
    model_class: str | None = Field(
        None,
        description='"module:Name" in the project that makes the model: a torch.nn.Module subclass '
        "for a PyTorch state dict, a loader function, or a custom class whose methods are the "
        "functions.",
    )
    image_repository: str | None = Field(
        None, description="Where the service image is pushed (reference or name)."
    )
    build_external_access_integration: str | None = Field(
        None, description="Integration the image build uses to reach package indexes."
    )
    pip_requirements: list[str] = Field(
        default_factory=list,
        description='Python packages the model needs, as pip requirement strings ("scikit-learn>=1.4"): '
        "installed into the service image (fetched through build_external_access_integration).",
    )
    base_image: str | None = Field(
        None,
        description="Image the service image is built on, by tag or digest (default: the provider's base image).",
    )
    ingress_enabled: bool = Field(False, description="Expose the endpoint outside the pool.")
    gpu_requests: int = Field(0, ge=0, description="GPUs per instance.")
    max_instances: int = Field(1, ge=1, description="Instances (min = max, as Snowflake advises).")
    num_workers: int | None = Field(
        None, ge=1, description="Inference workers per instance (default: 2 x vCPUs + 1 on CPU, 1 with GPUs)."
    )
    max_batch_rows: int | None = Field(
        None,
        ge=1,
        description="Rows handed to the model in one call at most: a larger request is cut into calls "
        "of this many rows and answered in one response (default: no limit).",
    )
    max_request_bytes: int | None = Field(
        None,
        ge=1,
        description="Bytes of one request body at most; larger requests get a 413 with a JSON error "
        "(default: 64 MiB).",
    )
    max_queue: int | None = Field(
        None,
        ge=1,
        description="Requests queued before the server answers 503 (admission control; default: 4 x num_workers).",
    )
    suspended: bool = Field(False, description="Keep the service defined but stopped.")

    endpoint: str | None = computed(description="Base URL of the service.")
    functions_urls: dict[str, str] | None = computed(description="Function name -> URL.")
    status: str | None = computed(description="READY, PENDING, SUSPENDED or FAILED.")
    status_message: str | None = computed(
        description="Why the service is not READY (FAILED: the last error lines of its instances); null when READY."
    )
    image: str | None = computed(description="Image the service runs.")


RESOURCE_MODELS: dict[str, type[ResourceModel]] = {
    "compute_pool": ComputePool,
    "image_repository": ImageRepository,
    "network_rule": NetworkRule,
    "external_access_integration": ExternalAccessIntegration,
    "training": Training,
    "service": Service,
}


def _computed_of(cls: type[BaseModel]) -> tuple[str, ...]:
    out = []
    for name, info in cls.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("computed"):
            out.append(name)
    return tuple(out)


_COMPUTED: dict[str, tuple[str, ...]] = {t: _computed_of(c) for t, c in RESOURCE_MODELS.items()}


def computed_attributes(type_name: str) -> tuple[str, ...]:
    """Attributes of a type known only after apply (empty for an unknown type)."""
    return _COMPUTED.get(type_name, ())

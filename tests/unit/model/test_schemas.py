"""Per-block validation: Terraform-style summaries, detail text and the reported line."""

from mlrt_iac.config.instances import ResourceInstance
from mlrt_iac.model import RESOURCE_MODELS, computed_attributes
from mlrt_iac.values import UNKNOWN, Sensitive

from ._helpers import POOL, line_of, make, only, run, training


def pool(attrs: dict[str, object], line: int = 1, **lines: int) -> ResourceInstance:
    return make("compute_pool", "cpu", attrs, line=line, attr_lines=lines)


# --- minimal blocks of every type pass, with the table's defaults -------------------------------


def test_every_type_accepts_a_minimal_block_with_defaults() -> None:
    models, diags = run(
        make("compute_pool", "cpu", {"instance_family": "CPU_X64_S"}),
        make("image_repository", "img", {}),
        make("network_rule", "pypi", {"mode": "EGRESS", "type": "HOST_PORT", "value_list": ["pypi.org"]}),
        make(
            "external_access_integration",
            "eai",
            {"allowed_network_rules": [{"name": "pypi"}]},
            deps={"network_rule.pypi"},
        ),
        make("training", "t", training(), deps={"compute_pool.cpu"}),
        make(
            "service",
            "s",
            {"compute_pool": {"name": "cpu"}, "model": "models/m.json"},
            deps={"compute_pool.cpu"},
        ),
    )
    assert not diags, [(d.summary, d.detail) for d in diags]
    p = models["compute_pool.cpu"]
    assert (
        p.min_nodes,
        p.max_nodes,
        p.active_nodes,
        p.auto_resume,
        p.auto_suspend_secs,
        p.initially_suspended,
        p.scale_timeout_secs,
    ) == (1, 1, 1, True, 3600, False, 720)
    t = models["training.t"]
    assert t.retrain_on == "inputs" and t.scaling.num_nodes == 1 and t.scaling.use_gpu is False
    assert t.dataset["train"].source == ["data/train.parquet"] and t.dataset["train"].shard is True
    s = models["service.s"]
    assert s.functions == ["predict"] and s.max_instances == 1 and s.gpu_requests == 0
    assert s.ingress_enabled is False and s.suspended is False
    assert models["external_access_integration.eai"].effective_egress == ["pypi.org:443"]
    assert models["external_access_integration.eai"].enabled is True
    assert all(m.name == a.split(".")[1] for a, m in models.items())
    assert all(m.comment is None for m in models.values())


def test_computed_attributes_per_type() -> None:
    assert computed_attributes("compute_pool") == ("nodes", "state", "address")
    assert computed_attributes("image_repository") == ("repository_url",)
    assert computed_attributes("network_rule") == ()
    assert computed_attributes("external_access_integration") == ("effective_egress",)
    assert set(computed_attributes("training")) == {
        "run_id",
        "status",
        "metrics",
        "model_uri",
        "input_fingerprint",
        "started_at",
        "finished_at",
        "versions",
    }
    assert set(computed_attributes("service")) == {
        "endpoint",
        "functions_urls",
        "status",
        "status_message",
        "image",
    }
    assert computed_attributes("nope") == ()
    assert set(RESOURCE_MODELS) == {
        "compute_pool",
        "image_repository",
        "network_rule",
        "external_access_integration",
        "training",
        "service",
    }


def test_setting_a_computed_attribute_is_an_error() -> None:
    _, diags = run(make("training", "t", training(model_uri="x"), attr_lines={"model_uri": 8}))
    d = only(diags, "Unsupported argument")
    assert '"model_uri"' in d.detail and "known after apply" in d.detail and line_of(d) == 8


# --- the bad inputs ----------------------------------------------------------------------


def test_unknown_argument_suggests_nearest() -> None:
    _, diags = run(pool({"instance_family": "CPU_X64_S", "max_nodez": 3}, line=1, max_nodez=4))
    d = only(diags, "Unsupported argument")
    assert d.detail == 'An argument named "max_nodez" is not expected here. Did you mean "max_nodes"?'
    assert line_of(d) == 4


def test_unknown_argument_without_close_match_has_no_suggestion() -> None:
    _, diags = run(pool({"instance_family": "CPU_X64_S", "colour": "red"}, colour=2))
    d = only(diags, "Unsupported argument")
    assert d.detail == 'An argument named "colour" is not expected here.'


def test_missing_required_argument_points_at_block() -> None:
    _, diags = run(pool({"min_nodes": 1}, line=12))
    d = only(diags, "Missing required argument")
    assert d.detail == 'The argument "instance_family" is required, but no definition was found.'
    assert line_of(d) == 12


def test_wrong_type_string_for_number() -> None:
    _, diags = run(pool({"instance_family": "CPU_X64_S", "min_nodes": "abc"}, min_nodes=3))
    d = only(diags, "Incorrect attribute value type")
    assert d.detail == 'Inappropriate value for attribute "min_nodes": a number is required.'
    assert line_of(d) == 3


def test_convertible_strings_are_fine_like_terraform() -> None:
    models, diags = run(
        pool({"instance_family": "CPU_X64_S", "min_nodes": "2", "max_nodes": "3", "auto_resume": "false"})
    )
    assert not diags
    m = models["compute_pool.cpu"]
    assert (m.min_nodes, m.max_nodes, m.auto_resume) == (2, 3, False)


def test_fractional_number_for_whole_number() -> None:
    _, diags = run(pool({"instance_family": "CPU_X64_S", "max_nodes": 2.5}, max_nodes=6))
    d = only(diags, "Incorrect attribute value type")
    assert "a whole number is required" in d.detail and line_of(d) == 6


def test_wrong_type_bool_and_list() -> None:
    _, diags = run(
        make(
            "network_rule",
            "r",
            {"mode": "EGRESS", "type": "HOST_PORT", "value_list": "pypi.org"},
            attr_lines={"value_list": 2},
        ),
        pool({"instance_family": "CPU_X64_S", "auto_resume": "maybe"}, auto_resume=9),
    )
    errs = [d for d in diags if d.summary == "Incorrect attribute value type"]
    assert [(e.detail, line_of(e)) for e in errs] == [
        ('Inappropriate value for attribute "value_list": a list is required.', 2),
        ('Inappropriate value for attribute "auto_resume": a bool is required.', 9),
    ]


def test_min_nodes_greater_than_max_nodes() -> None:
    _, diags = run(pool({"instance_family": "CPU_X64_S", "min_nodes": 3, "max_nodes": 2}, min_nodes=5))
    d = only(diags, "Invalid value")
    assert "min_nodes (3) is greater than max_nodes (2)" in d.detail and line_of(d) == 5


def test_min_nodes_must_be_positive() -> None:
    _, diags = run(pool({"instance_family": "CPU_X64_S", "min_nodes": 0}, min_nodes=2))
    d = only(diags, "Invalid value")
    assert "must be greater than 0" in d.detail and line_of(d) == 2


def test_active_nodes_between_min_and_max() -> None:
    models, diags = run(
        pool({"instance_family": "CPU_X64_S", "min_nodes": 1, "max_nodes": 3, "active_nodes": 2})
    )
    assert not diags and models["compute_pool.cpu"].active_nodes == 2
    _, diags = run(
        pool(
            {"instance_family": "CPU_X64_S", "min_nodes": 1, "max_nodes": 3, "active_nodes": 4},
            active_nodes=7,
        )
    )
    d = only(diags, "Invalid value")
    assert "active_nodes (4) is above max_nodes (3)" in d.detail and line_of(d) == 7


def test_bounds_from_the_schema_are_invalid_values() -> None:
    _, diags = run(pool({"instance_family": "CPU_X64_S", "auto_suspend_secs": -1}, auto_suspend_secs=4))
    d = only(diags, "Invalid value")
    assert d.detail == 'Inappropriate value for attribute "auto_suspend_secs": must be at least 0, got -1.'
    assert line_of(d) == 4


def test_unknown_framework() -> None:
    _, diags = run(make("training", "t", training(framework="tensorflow"), attr_lines={"framework": 3}))
    d = only(diags, "Invalid value")
    assert 'The value "tensorflow" is not valid for "framework"' in d.detail
    assert '"xgboost", "lightgbm", "pytorch"' in d.detail and line_of(d) == 3


def test_every_problem_is_reported_at_once() -> None:
    _, diags = run(
        pool({"instance_family": "NOPE", "min_nodes": 5, "max_nodes": 2, "max_nodez": 1}),
        make("training", "t", training(framework="jax")),
        make("network_rule", "r", {"mode": "EGRESS", "type": "HOST_PORT", "value_list": ["a:0", "b:-1"]}),
    )
    # max_nodez is a schema error, so the pool's range checks do not run; the rest all show up
    assert sorted(d.summary for d in diags) == [
        "Invalid network rule entry",
        "Invalid network rule entry",
        "Invalid value",
        "Unsupported argument",
    ]


# --- nested blocks -------------------------------------------------------------------------------


def test_nested_unknown_argument_uses_dotted_range_and_nested_names() -> None:
    _, diags = run(
        make(
            "training",
            "t",
            training(scaling={"num_nodez": 2}),
            attr_lines={"scaling": 10, "scaling.num_nodez": 11},
        )
    )
    d = only(diags, "Unsupported argument")
    assert 'Did you mean "num_nodes"?' in d.detail and line_of(d) == 11


def test_nested_bound_and_missing_in_labelled_block() -> None:
    _, diags = run(
        make(
            "training",
            "t",
            training(scaling={"num_nodes": 0}, dataset={"train": {"label_col": "y"}}),
            line=1,
            attr_lines={"scaling.num_nodes": 4, "dataset.train": 6},
        )
    )
    bound = only(diags, "Invalid value")
    assert 'attribute "num_nodes": must be at least 1' in bound.detail and line_of(bound) == 4
    missing = only(diags, "Missing required argument")
    assert missing.detail == 'The argument "source" is required, but no definition was found.'
    assert line_of(missing) == 6


def test_dataset_source_accepts_string_or_list() -> None:
    models, diags = run(
        make(
            "training",
            "t",
            training(
                dataset={
                    "train": {
                        "source": ["a.parquet", "b/*.parquet"],
                        "label_col": "y",
                        "input_cols": ["x1"],
                        "shard": False,
                    },
                    "valid": {"source": "v.csv", "label_col": "y"},
                }
            ),
        )
    )
    ds = models["training.t"].dataset
    assert (
        not diags and ds["train"].source == ["a.parquet", "b/*.parquet"] and ds["valid"].source == ["v.csv"]
    )
    assert ds["train"].input_cols == ["x1"] and ds["train"].shard is False


# --- framework-specific rules ---------------------------------------------------------------------


def test_pytorch_needs_entrypoint() -> None:
    _, diags = run(make("training", "t", training(framework="pytorch"), line=20))
    d = only(diags, "Missing required argument")
    assert '"entrypoint" is required when framework is "pytorch"' in d.detail and line_of(d) == 20
    models, diags = run(make("training", "t", training(framework="pytorch", entrypoint="pkg.train:main")))
    assert not diags and models["training.t"].entrypoint == "pkg.train:main"


def test_entrypoint_format() -> None:
    _, diags = run(
        make(
            "training",
            "t",
            training(framework="pytorch", entrypoint="train.py"),
            attr_lines={"entrypoint": 3},
        )
    )
    d = only(diags, "Invalid value")
    assert '"module:function"' in d.detail and line_of(d) == 3


def test_num_boost_round_only_for_boosted_trees() -> None:
    models, diags = run(make("training", "t", training(framework="lightgbm", n_estimators=50)))
    assert not diags and models["training.t"].n_estimators == 50
    _, diags = run(
        make(
            "training",
            "t",
            training(framework="pytorch", entrypoint="m:f", num_boost_round=10),
            attr_lines={"num_boost_round": 5},
        )
    )
    d = only(diags, "Unsupported argument")
    assert "only to xgboost and lightgbm" in d.detail and line_of(d) == 5


def test_num_boost_round_and_n_estimators_conflict() -> None:
    _, diags = run(
        make("training", "t", training(num_boost_round=10, n_estimators=10), attr_lines={"n_estimators": 7})
    )
    d = only(diags, "Conflicting arguments")
    assert "keep only one" in d.detail and line_of(d) == 7


def test_boosted_trees_need_a_labelled_dataset() -> None:
    _, diags = run(
        make("training", "t", {"compute_pool": "cpu", "framework": "xgboost"}, line=3),
        make("compute_pool", "cpu", POOL),
    )
    d = only(diags, "Missing required block")
    assert 'at least one dataset "NAME"' in d.detail and line_of(d) == 3
    _, diags = run(
        make(
            "training",
            "t",
            training(dataset={"train": {"source": "a.parquet"}}),
            attr_lines={"dataset.train": 9},
        ),
        make("compute_pool", "cpu", POOL),
    )
    d = only(diags, "Missing required argument")
    assert '"label_col" is required in dataset "train"' in d.detail and line_of(d) == 9


def test_label_column_not_in_input_cols() -> None:
    _, diags = run(
        make(
            "training",
            "t",
            training(dataset={"train": {"source": "a", "label_col": "y", "input_cols": ["x", "y"]}}),
            attr_lines={"dataset.train.input_cols": 4},
        )
    )
    d = only(diags, "Invalid value")
    assert 'label column "y" is also listed in input_cols' in d.detail and line_of(d) == 4


def test_retrain_on_enum() -> None:
    _, diags = run(make("training", "t", training(retrain_on="always"), attr_lines={"retrain_on": 2}))
    d = only(diags, "Invalid value")
    assert '"inputs", "never"' in d.detail and line_of(d) == 2


def test_service_functions_must_be_method_names() -> None:
    _, diags = run(
        make(
            "service",
            "s",
            {"compute_pool": "cpu", "model": "m", "functions": ["predict", "do it"]},
            attr_lines={"functions": 3},
        ),
        make("compute_pool", "cpu", POOL),
    )
    d = only(diags, "Invalid value")
    assert '"do it"' in d.detail and line_of(d) == 3


def test_reference_field_with_wrong_type() -> None:
    _, diags = run(make("service", "s", {"compute_pool": 5.5, "model": "m"}, attr_lines={"compute_pool": 2}))
    d = only(diags, "Incorrect attribute value type")
    assert "a reference to a compute_pool (compute_pool.NAME) or its name is required" in d.detail
    assert line_of(d) == 2
    _, diags = run(make("service", "s", {"compute_pool": {"nodes": []}, "model": "m"}))
    assert only(diags, "Incorrect attribute value type")


def test_unsupported_resource_type() -> None:
    _, diags = run(make("compute_pol", "p", {}, line=2))
    d = only(diags, "Unsupported resource type")
    assert 'Did you mean "compute_pool"?' in d.detail and line_of(d) == 2


# --- unknown and sensitive values -----------------------------------------------------------------


def test_unknown_required_argument_counts_as_present_and_stays_unknown() -> None:
    models, diags = run(
        make("service", "s", {"compute_pool": UNKNOWN, "model": UNKNOWN}),
        make("network_rule", "r", {"mode": UNKNOWN, "type": "IPV4", "value_list": UNKNOWN}),
    )
    assert not diags
    assert models["service.s"].model is UNKNOWN and models["service.s"].compute_pool is UNKNOWN
    assert models["network_rule.r"].mode is UNKNOWN
    assert models["service.s"].to_attributes()["model"] is UNKNOWN


def test_unknown_values_skip_type_and_range_checks() -> None:
    models, diags = run(
        pool({"instance_family": UNKNOWN, "min_nodes": 3, "max_nodes": UNKNOWN}),
        make(
            "training",
            "t",
            training(
                scaling={"num_nodes": UNKNOWN, "use_gpu": True}, framework="xgboost", params={"eta": UNKNOWN}
            ),
            deps={"compute_pool.cpu"},
        ),
    )
    assert not diags, [(d.summary, d.detail) for d in diags]
    p = models["compute_pool.cpu"]
    assert p.max_nodes is UNKNOWN and p.instance_family is UNKNOWN and p.active_nodes == 3
    t = models["training.t"]
    assert t.scaling.num_nodes is UNKNOWN and t.params == {"eta": UNKNOWN}


def test_unknown_list_element_keeps_known_ones_checked() -> None:
    models, diags = run(
        make("network_rule", "r", {"mode": "EGRESS", "type": "HOST_PORT", "value_list": ["ok.io", UNKNOWN]})
    )
    assert not diags and models["network_rule.r"].value_list == ["ok.io", UNKNOWN]
    _, diags = run(
        make(
            "network_rule", "r", {"mode": "EGRESS", "type": "HOST_PORT", "value_list": [UNKNOWN, "bad host"]}
        )
    )
    assert 'Entry 1 of value_list, "bad host"' in only(diags, "Invalid network rule entry").detail


def test_sensitive_values_validate_as_their_inner_value_and_are_not_printed() -> None:
    models, diags = run(make("image_repository", "img", {"registry": Sensitive("registry.internal:5000")}))
    assert not diags
    m = models["image_repository.img"]
    assert m.registry == "registry.internal:5000" and m.sensitive_paths == (("registry",),)
    _, diags = run(make("training", "t", training(framework=Sensitive("secret-fw"))))
    d = only(diags, "Invalid value")
    assert "secret-fw" not in d.detail and "(sensitive value)" in d.detail


def test_type_errors_inside_lists_and_maps_name_the_element() -> None:
    _, diags = run(
        pool({"instance_family": "CPU_X64_S", "labels": {"team": ["a"]}}, labels=6),
        make(
            "network_rule",
            "r",
            {"mode": "EGRESS", "type": "IPV4", "value_list": ["1.2.3.4", True]},
            attr_lines={"value_list": 9},
        ),
    )
    errs = [d for d in diags if d.summary == "Incorrect attribute value type"]
    assert [(e.detail, line_of(e)) for e in errs] == [
        ('Inappropriate value for key "team" of attribute "labels": a string is required.', 6),
        ('Inappropriate value for element 1 of attribute "value_list": a string is required.', 9),
    ]


def test_keep_versions_below_one_names_the_training_and_its_line() -> None:
    for bad in (0, -2):
        _, diags = run(make("training", "t", training(keep_versions=bad), attr_lines={"keep_versions": 6}))
        d = only(diags, "Invalid value")
        assert d.detail.startswith(f"training.t must keep at least one model version: keep_versions = {bad}.")
        assert line_of(d) == 6
    models, diags = run(make("training", "t", training()), make("training", "u", training(keep_versions=1)))
    assert not diags.has_errors
    assert models["training.t"].keep_versions == 3 and models["training.u"].keep_versions == 1

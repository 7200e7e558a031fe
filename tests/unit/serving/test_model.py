"""Loading model artifacts: native predictions, probabilities, and clear load errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlrt_iac.runtime.serving.errors import ModelLoadError
from mlrt_iac.runtime.serving.model import load_model
from tests.unit.serving.helpers import COLS, make_xgboost, training_data, write_metadata


def test_xgboost_predict_is_booster_predict(xgb_model: tuple[Path, Any]) -> None:
    import xgboost as xgb

    model_dir, booster = xgb_model
    x, _ = training_data(100, seed=3)
    model = load_model(model_dir)
    assert set(model.functions) == {"predict", "predict_proba"}
    expected = booster.predict(xgb.DMatrix(x, feature_names=COLS))
    np.testing.assert_array_equal(model.functions["predict"](x), expected)
    proba = model.functions["predict_proba"](x)
    np.testing.assert_allclose(proba[:, 1], expected)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("objective", ["multi:softprob", "multi:softmax"])
def test_xgboost_multiclass_probabilities(tmp_path: Path, objective: str) -> None:
    import xgboost as xgb

    booster = make_xgboost(tmp_path, objective, classes=3)
    x, _ = training_data(50, seed=4)
    model = load_model(tmp_path)
    np.testing.assert_array_equal(
        model.functions["predict"](x), booster.predict(xgb.DMatrix(x, feature_names=COLS))
    )
    proba = model.functions["predict_proba"](x)
    assert proba.shape == (50, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    if objective == "multi:softmax":  # the most probable class is the predicted label
        np.testing.assert_array_equal(proba.argmax(axis=1), model.functions["predict"](x))


def test_regression_has_no_predict_proba(tmp_path: Path) -> None:
    make_xgboost(tmp_path, "reg:squarederror")
    assert set(load_model(tmp_path).functions) == {"predict"}
    with pytest.raises(ModelLoadError, match="no function predict_proba; it offers predict"):
        load_model(tmp_path, ("predict", "predict_proba"))


def test_lightgbm_predict_is_booster_predict(lgb_model: tuple[Path, Any]) -> None:
    model_dir, booster = lgb_model
    x, _ = training_data(100, seed=5)
    model = load_model(model_dir, ("predict", "predict_proba"))
    np.testing.assert_array_equal(model.functions["predict"](x), booster.predict(x))
    np.testing.assert_allclose(model.functions["predict_proba"](x)[:, 1], booster.predict(x))


def test_torchscript_model(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(len(COLS), 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    torch.jit.save(torch.jit.script(net), str(tmp_path / "model.pt"))
    write_metadata(tmp_path, "pytorch", "model.pt", None, 3)
    x, _ = training_data(20, seed=6)
    model = load_model(tmp_path)
    with torch.no_grad():
        expected = net(torch.from_numpy(x.astype(np.float32))).numpy()
    np.testing.assert_allclose(model.functions["predict"](x), expected, rtol=1e-6)
    proba = model.functions["predict_proba"](x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(proba.argmax(axis=1), expected.argmax(axis=1))


def test_load_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="No model metadata"):
        load_model(tmp_path)
    (tmp_path / "metadata.json").write_text(json.dumps({"framework": "sklearn"}))
    with pytest.raises(ModelLoadError, match="unknown framework 'sklearn'"):
        load_model(tmp_path)
    write_metadata(tmp_path, "xgboost", "model.ubj", None, None)
    with pytest.raises(ModelLoadError, match="model_file 'model.ubj' does not exist"):
        load_model(tmp_path)
    (tmp_path / "model.ubj").write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="Cannot load the xgboost model"):
        load_model(tmp_path)


def test_unknown_function_is_refused(xgb_model: tuple[Path, Any]) -> None:
    with pytest.raises(ModelLoadError, match="Unknown function explain"):
        load_model(xgb_model[0], ("predict", "explain"))

"""Models as trainings save them: a PyTorch state dict plus the project's class, torch.export,
TorchScript, and custom classes with named methods over typed rows (issue 12, item 4)."""

from __future__ import annotations

import json
import textwrap
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from mlrt_iac.runtime.serving.batch import BatchSpec, answer_batch
from mlrt_iac.runtime.serving.custom import TableFunction
from mlrt_iac.runtime.serving.errors import ModelLoadError
from mlrt_iac.runtime.serving.model import load_model, torch_file_kind
from tests.unit.serving.helpers import COLS, Server, free_port, training_data, write_metadata

NET = """
import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))

    def forward(self, x):
        return self.body(x)

    def embed(self, frame):
        with torch.no_grad():
            return self.body[0](torch.tensor(frame.to_numpy(dtype="float32")))


class Wider(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(8, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
        self.extra = torch.nn.Linear(1, 1)

    def forward(self, x):
        return self.body(x)


def make_net(model_dir):
    assert (model_dir / "metadata.json").exists()
    return Net()


class Broken(torch.nn.Module):
    def __init__(self):
        raise RuntimeError("needs a config file")
"""

ENCODER = """
import json

import numpy as np


class Encoder:
    '''The seed's sentence-encoder shape: strings in, one vector per row out.'''

    def load(self, model_dir):
        self.vocab = json.loads((model_dir / "vocab.json").read_text())

    def encode(self, frame):
        out = np.zeros((len(frame), len(self.vocab)), dtype=np.float32)
        for i, text in enumerate(frame["text"]):
            for word in (text or "").split():
                if word in self.vocab:
                    out[i, self.vocab[word]] += 1
        return out * frame["weight"].to_numpy(dtype=np.float32)[:, None]

    def describe(self, frame):
        # strings, booleans, nulls and objects as results
        return [
            {"text": t, "loud": bool(f) if f is not None else None, "words": len((t or "").split())}
            for t, f in zip(frame["text"], frame["loud"])
        ]

    def _private(self, frame):
        return frame
"""


def _project(tmp_path: Path, source: str) -> tuple[Path, str]:
    """A project directory holding `source` as a module of a unique name (imports are cached)."""
    project = tmp_path / "project"
    project.mkdir(parents=True, exist_ok=True)
    name = f"m_{uuid.uuid4().hex[:8]}"
    (project / f"{name}.py").write_text(textwrap.dedent(source))
    return project, name


def _net_and_state(tmp_path: Path) -> tuple[Path, str, object]:
    import importlib
    import sys

    import torch

    project, mod = _project(tmp_path, NET)
    sys.path.insert(0, str(project))
    try:
        net_cls = importlib.import_module(mod).Net
    finally:
        sys.path.remove(str(project))
    torch.manual_seed(0)
    net = net_cls().eval()
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    torch.save(net.state_dict(), model_dir / "model.pt")  # as the seeds save
    write_metadata(model_dir, "pytorch", "model.pt", None, 3)
    return project, mod, net


def _forward(net: object, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        out: np.ndarray = net(torch.from_numpy(x.astype(np.float32))).numpy()  # type: ignore[operator]
    return out


def test_state_dict_with_model_class(tmp_path: Path) -> None:
    project, mod, net = _net_and_state(tmp_path)
    model_dir = tmp_path / "model"
    assert torch_file_kind(model_dir / "model.pt") == "checkpoint"
    with warnings.catch_warnings():  # the default path uses no deprecated API (TorchScript is)
        warnings.simplefilter("error", DeprecationWarning)
        model = load_model(
            model_dir, ("predict", "predict_proba"), model_class=f"{mod}:Net", project_dir=project
        )
    x, _ = training_data(20, seed=6)
    expected = _forward(net, x)
    np.testing.assert_allclose(model.functions["predict"](x), expected, rtol=1e-6)
    np.testing.assert_array_equal(model.functions["predict_proba"](x).argmax(axis=1), expected.argmax(axis=1))
    # a loader function works too, and gets the model directory
    by_loader = load_model(model_dir, ("predict",), model_class=f"{mod}:make_net", project_dir=project)
    np.testing.assert_allclose(by_loader.functions["predict"](x), expected, rtol=1e-6)


def test_state_dict_module_serves_its_own_methods_over_rows(tmp_path: Path) -> None:
    project, mod, net = _net_and_state(tmp_path)
    model = load_model(
        tmp_path / "model", ("predict", "embed"), model_class=f"{mod}:Net", project_dir=project
    )
    spec = BatchSpec(model.input_cols, model.input_dtype, 100, 4096, model.column_kinds)
    x, _ = training_data(3, seed=1)
    body = json.dumps({"data": [[i, *row] for i, row in enumerate(x.tolist())]}).encode()
    [(code, answer)] = answer_batch([(body, model.functions["embed"])], spec)
    assert code == 200, answer
    rows = json.loads(answer)["data"]
    import torch

    with torch.no_grad():
        expected = net.body[0](torch.from_numpy(x.astype(np.float32))).numpy()  # type: ignore[attr-defined]
    assert [r[0] for r in rows] == [0, 1, 2]
    np.testing.assert_allclose([r[1] for r in rows], expected, rtol=1e-5)


def test_state_dict_without_model_class_says_so(tmp_path: Path) -> None:
    _net_and_state(tmp_path)
    with pytest.raises(ModelLoadError, match=r'state dict.*Set model_class = "module:Class"') as info:
        load_model(tmp_path / "model")
    assert "constants.pkl" not in str(info.value)


def test_state_dict_that_does_not_match_names_the_keys(tmp_path: Path) -> None:
    project, mod, _ = _net_and_state(tmp_path)
    with pytest.raises(ModelLoadError) as info:
        load_model(tmp_path / "model", model_class=f"{mod}:Wider", project_dir=project)
    text = str(info.value)
    assert f"does not match model_class {mod}:Wider" in text
    assert "missing keys: extra.weight, extra.bias" in text
    assert "body.0.weight (saved (4, 8)" in text


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:Net", "cannot import the module 'no_such_module_xyz'"),
        ("{mod}:Missing", "has no 'Missing'"),
        ("{mod}:Broken", "Making the model object failed with RuntimeError: needs a config file"),
        ("{mod}", 'is not of the form "module:Name"'),
    ],
)
def test_model_class_problems_are_load_errors(tmp_path: Path, spec: str, message: str) -> None:
    project, mod, _ = _net_and_state(tmp_path)
    with pytest.raises(ModelLoadError, match=None) as info:
        load_model(tmp_path / "model", model_class=spec.format(mod=mod), project_dir=project)
    assert message in str(info.value)


def test_a_module_that_fails_to_import_is_a_load_error(tmp_path: Path) -> None:
    project, mod = _project(tmp_path, "import not_installed_anywhere_xyz\n")
    _net_and_state(tmp_path)
    with pytest.raises(
        ModelLoadError, match="ModuleNotFoundError: No module named 'not_installed_anywhere_xyz'"
    ):
        load_model(tmp_path / "model", model_class=f"{mod}:Net", project_dir=project)


def test_torch_export_program(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(len(COLS), 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)).eval()
    program = torch.export.export(
        net, (torch.zeros(2, len(COLS)),), dynamic_shapes=({0: torch.export.Dim("rows")},)
    )
    torch.export.save(program, str(tmp_path / "model.pt2"))
    write_metadata(tmp_path, "pytorch", "model.pt2", None, None)
    assert torch_file_kind(tmp_path / "model.pt2") == "export"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        model = load_model(tmp_path, ("predict",))
    x, _ = training_data(7, seed=2)
    np.testing.assert_allclose(model.functions["predict"](x), _forward(net, x).reshape(-1), rtol=1e-6)


def test_whole_pickled_module_is_refused_with_what_to_do(tmp_path: Path) -> None:
    import torch

    torch.save(torch.nn.Linear(len(COLS), 1), tmp_path / "model.pt")
    write_metadata(tmp_path, "pytorch", "model.pt", None, None)
    with pytest.raises(ModelLoadError, match=r"torch.save\(model.state_dict\(\), path\)"):
        load_model(tmp_path, model_class="torch.nn:Identity")


def _encoder_model(tmp_path: Path) -> tuple[Path, Path, str]:
    project, mod = _project(tmp_path, ENCODER)
    model_dir = tmp_path / "encoder"
    model_dir.mkdir()
    (model_dir / "vocab.json").write_text(json.dumps({"hello": 0, "world": 1, "mlrt": 2}))
    meta = {
        "framework": "custom",
        "input_cols": ["text", "weight", "loud"],
        "input_dtypes": {"text": "object", "weight": "float64", "loud": "bool"},
    }
    (model_dir / "metadata.json").write_text(json.dumps(meta))
    return project, model_dir, mod


def test_custom_class_encodes_strings_to_vectors(tmp_path: Path) -> None:
    project, model_dir, mod = _encoder_model(tmp_path)
    model = load_model(model_dir, ("encode", "describe"), model_class=f"{mod}:Encoder", project_dir=project)
    assert set(model.functions) == {"encode", "describe"}
    spec = BatchSpec(model.input_cols, model.input_dtype, 100, 4096, model.column_kinds)
    first = json.dumps({"data": [[0, "hello world", 1, True], [1, None, 2.5, None]]}).encode()
    second = json.dumps({"data": [[7, "mlrt mlrt hello", 2, False]]}).encode()
    bad = json.dumps({"data": [[0, "hello", "heavy", True]]}).encode()
    answers = answer_batch(
        [
            (first, model.functions["encode"]),
            (second, model.functions["encode"]),
            (bad, model.functions["encode"]),
            (first, model.functions["describe"]),
        ],
        spec,
    )
    assert answers[0] == (200, b'{"data":[[0,[1.0,1.0,0.0]],[1,[0.0,0.0,0.0]]]}')
    assert answers[1] == (200, b'{"data":[[7,[2.0,0.0,4.0]]]}')
    code, body = answers[2]
    error = json.loads(body)
    assert code == 400 and error["row"] == 0 and error["column"] == 2
    assert "column 2 (weight): 'heavy' is a string; the column takes a number or null" in error["error"]
    assert json.loads(answers[3][1]) == {
        "data": [
            [0, {"text": "hello world", "loud": True, "words": 2}],
            [1, {"text": None, "loud": None, "words": 0}],
        ]
    }


def test_custom_model_requests_are_cut_by_max_batch_rows(tmp_path: Path) -> None:
    """Typed rows of a custom model split into frames of at most max_batch_rows rows: the answer
    is the one a single call gives, in order (vectors and objects per row)."""
    project, model_dir, mod = _encoder_model(tmp_path)
    model = load_model(model_dir, ("encode", "describe"), model_class=f"{mod}:Encoder", project_dir=project)
    words = ["hello", "world", "mlrt", "other"]
    rows = [[i * 3, " ".join(words[: i % 5]) or None, i % 7, bool(i % 2)] for i in range(23)]
    body = json.dumps({"data": rows}).encode()
    whole = BatchSpec(model.input_cols, model.input_dtype, 100, 4096, model.column_kinds)
    cut = BatchSpec(model.input_cols, model.input_dtype, 100, 4096, model.column_kinds, 5)
    for name in ("encode", "describe"):
        fn = model.functions[name]
        assert isinstance(fn, TableFunction)
        sizes: list[int] = []
        method = fn.method

        def sized(frame: Any, method: Any = method, sizes: list[int] = sizes) -> Any:
            sizes.append(len(frame))
            return method(frame)

        counting = TableFunction(name, sized, fn.input_cols, fn.kinds)
        [expected] = answer_batch([(body, fn)], whole)
        [got] = answer_batch([(body, counting)], cut)
        assert sizes == [5, 5, 5, 5, 3]
        assert got == expected and got[0] == 200
        assert [r[0] for r in json.loads(got[1])["data"]] == [i * 3 for i in range(23)]


def test_custom_class_without_the_method_lists_what_it_has(tmp_path: Path) -> None:
    project, model_dir, mod = _encoder_model(tmp_path)
    with pytest.raises(ModelLoadError) as info:
        load_model(model_dir, ("predict",), model_class=f"{mod}:Encoder", project_dir=project)
    assert f'The model class "{mod}:Encoder" has no function predict; it offers describe, encode' in str(
        info.value
    )


def test_custom_model_needs_its_class(tmp_path: Path) -> None:
    _, model_dir, _ = _encoder_model(tmp_path)
    with pytest.raises(ModelLoadError, match="a custom model needs the service's model_class"):
        load_model(model_dir, ("encode",))


def test_a_method_returning_the_wrong_count_is_a_500(tmp_path: Path) -> None:
    project, mod = _project(
        tmp_path,
        """
        class Short:
            def predict(self, frame):
                return [1]
        """,
    )
    _, model_dir, _ = _encoder_model(tmp_path)
    model = load_model(model_dir, ("predict",), model_class=f"{mod}:Short", project_dir=project)
    spec = BatchSpec(model.input_cols, model.input_dtype, 100, 4096, model.column_kinds)
    body = json.dumps({"data": [[0, "a", 1, True], [1, "b", 2, False]]}).encode()
    [(code, answer)] = answer_batch([(body, model.functions["predict"])], spec)
    assert code == 500
    assert "predict returned 1 results for 2 rows" in json.loads(answer)["error"]


@pytest.mark.slow
def test_server_answers_a_custom_string_model_and_a_state_dict_model(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    """A real inference server process for each: typed rows in, vectors out; the state dict
    model's predict is its forward; a string in a numeric column is a 400 naming row and column."""
    project, model_dir, mod = _encoder_model(tmp_path)
    encoder = start_server(
        model_dir,
        extra=[
            "--functions",
            "encode,describe",
            "--model-class",
            f"{mod}:Encoder",
            "--project-dir",
            str(project),
        ],
    )
    r = httpx.post(encoder.url + "/encode", json={"data": [[3, "hello mlrt", 2, True], [4, None, 1, None]]})
    assert r.status_code == 200, r.text
    assert r.json() == {"data": [[3, [2.0, 0.0, 2.0]], [4, [0.0, 0.0, 0.0]]]}
    r = httpx.post(encoder.url + "/encode", json={"data": [[0, "hello", "two", True]]})
    assert r.status_code == 400 and r.json()["column"] == 2 and "'two' is a string" in r.json()["error"]
    assert httpx.get(encoder.url + "/health").json()["functions"] == ["encode", "describe"]

    net_project, net_mod, net = _net_and_state(tmp_path / "net")
    server = start_server(
        tmp_path / "net" / "model",
        extra=["--model-class", f"{net_mod}:Net", "--project-dir", str(net_project)],
    )
    x, _ = training_data(4, seed=9)
    r = httpx.post(server.url + "/predict", json={"data": [[i, *row] for i, row in enumerate(x.tolist())]})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose([row[1] for row in r.json()["data"]], _forward(net, x), rtol=1e-5)
    r = httpx.post(
        server.url + "/predict", json={"data": [[0, *x[0].tolist()], [1, "hello", *x[1, 1:].tolist()]]}
    )
    assert r.status_code == 400
    assert r.json()["row"] == 1 and r.json()["column"] == 1 and "'hello' is not a number" in r.json()["error"]


@pytest.mark.slow
def test_server_start_fails_with_the_cause_and_no_traceback(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    project, mod, _ = _net_and_state(tmp_path)
    server = Server(
        tmp_path / "model",
        free_port(),
        extra=["--model-class", f"{mod}:Wider", "--project-dir", str(project)],
    )
    with pytest.raises(AssertionError, match="server exited with 1"):
        server.start(tmp_path)
    text = server.log_text()
    assert "Error: cannot start the inference server" in text
    assert f"does not match model_class {mod}:Wider: missing keys: extra.weight, extra.bias" in text
    assert "Traceback" not in text


@pytest.mark.slow
def test_server_hands_the_model_at_most_max_batch_rows_rows_per_call(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    """A real server with --max-batch-rows 40 and a custom model that answers, per row, its text
    and how many rows its call got: a 100-row request is one response, rows in order, from calls
    of 40, 40 and 20 rows; over --max-request-rows it is a 413, over --max-body-bytes a 413, JSON."""
    project, model_dir, mod = _encoder_model(tmp_path)
    project, mod = _project(
        tmp_path,
        """
        class Sizer:
            def predict(self, frame):
                return [[text, len(frame)] for text in frame["text"]]
        """,
    )
    server = start_server(
        model_dir,
        extra=[
            "--model-class",
            f"{mod}:Sizer",
            "--project-dir",
            str(project),
            "--max-batch-rows",
            "40",
            "--max-request-rows",
            "150",
            "--max-body-bytes",
            "20000",
        ],
    )
    rows = [[1000 - i, f"row {i}", i, i % 2 == 0] for i in range(100)]
    r = httpx.post(server.url + "/predict", json={"data": rows}, timeout=30)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert [d[0] for d in data] == [1000 - i for i in range(100)]
    assert [d[1][0] for d in data] == [f"row {i}" for i in range(100)]
    assert [d[1][1] for d in data] == [40] * 80 + [20] * 20
    r = httpx.post(server.url + "/predict", json={"data": rows + rows[:51]}, timeout=30)
    assert r.status_code == 413 and "at most 150 rows" in r.json()["error"]
    r = httpx.post(server.url + "/predict", json={"data": [[0, "x" * 30000, 1, True]]}, timeout=30)
    assert r.status_code == 413 and r.headers["content-type"] == "application/json"
    assert "at most 20000" in r.json()["error"]

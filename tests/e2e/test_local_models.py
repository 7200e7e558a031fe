"""Models as the seeds save them, served through `mlrt apply` on the local provider (issue 12,
item 4): a PyTorch state dict (`torch.save(model.state_dict(), ...)`) rebuilt from the service's
`model_class`, and a custom class whose `encode` takes strings and answers vectors."""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .helpers import read_state, run_mlrt

NET = textwrap.dedent("""
    import torch


    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))

        def forward(self, x):
            return self.body(x)


    class Wider(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))

        def forward(self, x):
            return self.body(x)
""")

# The seed's way: a plain training loop, then torch.save(model.state_dict(), ...).
TRAIN = textwrap.dedent("""
    import json
    import os

    import torch

    from mlrt_iac.runtime import get_context
    from net import Net


    def train():
        ctx = get_context()
        torch.manual_seed(0)
        model = Net()
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        cols = ["a", "b", "c", "d"]
        for batch in ctx.get_dataset_map()["train"].to_torch_dataset(batch_size=64):
            x = torch.stack([batch[c].float() for c in cols], dim=1)
            loss = torch.nn.functional.mse_loss(model(x).squeeze(1), batch["y"].float())
            opt.zero_grad()
            loss.backward()
            opt.step()
        torch.save(model.state_dict(), os.path.join(ctx.get_model_dir(), "model.pt"))


    def vocab():
        ctx = get_context()
        texts = ctx.get_dataset_map()["train"].to_pandas()["text"]
        words = sorted({w for t in texts for w in t.split()})
        index = {w: i for i, w in enumerate(words)}
        with open(os.path.join(ctx.get_model_dir(), "vocab.json"), "w") as f:
            json.dump(index, f)
        torch.save({"size": torch.tensor(len(words))}, os.path.join(ctx.get_model_dir(), "model.pt"))
""")

# A custom model: strings in, a vector per row out (the seed's sentence-encoder shape).
ENCODER = textwrap.dedent("""
    import json

    import numpy as np


    class Encoder:
        def load(self, model_dir):
            self.vocab = json.loads((model_dir / "vocab.json").read_text())

        def encode(self, frame):
            out = np.zeros((len(frame), len(self.vocab)), dtype=np.float32)
            for i, text in enumerate(frame["text"]):
                for word in (text or "").split():
                    if word in self.vocab:
                        out[i, self.vocab[word]] += 1.0
            return out

        def tokens(self, frame):
            return [None if t is None else len(t.split()) for t in frame["text"]]
""")

HCL = """
compute_pool "cpu" {
  instance_family = "CPU_X64_S"
}

training "net" {
  compute_pool = compute_pool.cpu
  framework    = "pytorch"
  entrypoint   = "train:train"

  dataset "train" {
    source    = "data/numbers.parquet"
    label_col = "y"
  }
}

training "words" {
  compute_pool = compute_pool.cpu
  framework    = "pytorch"
  entrypoint   = "train:vocab"

  dataset "train" {
    source = "data/texts.parquet"
  }
}

service "net" {
  compute_pool = compute_pool.cpu
  model        = training.net.model_uri
  model_class  = "net:Net"
  num_workers  = 1
}

service "words" {
  compute_pool = compute_pool.cpu
  model        = training.words.model_uri
  model_class  = "encoder:Encoder"
  functions    = ["encode", "tokens"]
  num_workers  = 1
}
"""


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "seeds"
    (project / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4))
    pq.write_table(
        pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "d": x[:, 3], "y": x @ [1.0, -2.0, 0.5, 0.0]}),
        project / "data" / "numbers.parquet",
    )
    pq.write_table(
        pa.table({"text": ["hello world", "serving models", "hello mlrt"]}),
        project / "data" / "texts.parquet",
    )
    (project / "net.py").write_text(NET)
    (project / "train.py").write_text(TRAIN)
    (project / "encoder.py").write_text(ENCODER)
    (project / "main.hcl").write_text(HCL)
    return project


def test_seed_state_dict_and_custom_string_model_are_served(tmp_path: Path) -> None:
    import torch

    project = _project(tmp_path)
    try:
        applied = run_mlrt(project, "apply", "-auto-approve", "-no-color", timeout=600)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        state = {r["address"]: r["attributes"] for r in read_state(project)["resources"]}

        # the state dict model answers exactly what the saved weights compute
        model_dir = Path(state["training.net"]["model_uri"])
        assert json.loads((model_dir / "metadata.json").read_text())["input_cols"] == ["a", "b", "c", "d"]
        import sys

        sys.path.insert(0, str(project))
        try:
            from net import Net
        finally:
            sys.path.remove(str(project))
        net = Net()
        net.load_state_dict(torch.load(model_dir / "model.pt", weights_only=True))
        net.eval()
        rows = np.random.default_rng(1).normal(size=(5, 4))
        with torch.no_grad():
            expected = net(torch.from_numpy(rows.astype(np.float32))).numpy().reshape(-1)
        url = state["service.net"]["functions_urls"]["predict"]
        code, body = _post(url, {"data": [[i, *r] for i, r in enumerate(rows.tolist())]})
        assert code == 200, body
        assert [r[0] for r in body["data"]] == [0, 1, 2, 3, 4]
        np.testing.assert_allclose([r[1] for r in body["data"]], expected, rtol=1e-5)
        code, body = _post(url, {"data": [[0, 1.0, "two", 3.0, 4.0]]})
        assert code == 400 and body["row"] == 0 and body["column"] == 2, body
        assert "column 2 (b): 'two' is not a number" in body["error"]

        # the custom model: strings in, a vector (one count per vocabulary word) out
        urls = state["service.words"]["functions_urls"]
        vocab = json.loads((Path(state["training.words"]["model_uri"]) / "vocab.json").read_text())
        code, body = _post(urls["encode"], {"data": [[10, "hello hello world"], [11, None]]})
        assert code == 200, body
        first = [0.0] * len(vocab)
        first[vocab["hello"]], first[vocab["world"]] = 2.0, 1.0
        assert body == {"data": [[10, first], [11, [0.0] * len(vocab)]]}
        assert _post(urls["tokens"], {"data": [[0, "a b c"], [1, None]]}) == (
            200,
            {"data": [[0, 3], [1, None]]},
        )
        code, body = _post(urls["encode"], {"data": [[0, 42]]})
        assert code == 400 and "42 is a number; the column takes a string or null" in body["error"]

        # a class that does not match the saved weights: apply fails, saying which keys differ
        (project / "main.hcl").write_text(HCL.replace('"net:Net"', '"net:Wider"'))
        failed = run_mlrt(project, "apply", "-auto-approve", "-no-color", timeout=300)
        out = failed.stdout + failed.stderr
        assert failed.returncode == 1, out
        assert "does not match model_class net:Wider" in out and "body.0.weight (saved (8, 4)" in out
        assert "Traceback" not in out
        # the instances already serving keep serving
        assert _post(url, {"data": [[0, *rows[0].tolist()]]})[0] == 200
    finally:
        run_mlrt(project, "destroy", "-auto-approve", timeout=180)

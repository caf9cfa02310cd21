"""`spikeforge export RUN --nir` and `spikeforge import FILE [--out]` on a tiny run folder."""

import json

import nir
import numpy as np
import pytest
import torch

from formats import make_idx_folder
from spikeforge.cli import main
from spikeforge.cli._rundir import write_json
from spikeforge.interop import import_nir, load_model, save_model
from spikeforge.learning import TrainConfig
from spikeforge.models import build_model, resolve_model_config


@pytest.fixture
def run_folder(tmp_path):
    """A run folder as `spikeforge train` writes it (untrained weights, learned heterogeneous taus)."""
    torch.manual_seed(0)
    data = make_idx_folder(tmp_path / "idx", n_train=40, n_test=10)
    cfg = resolve_model_config(
        {
            "model": "conv",
            "channels": [4],
            "hidden": [12],
            "input_shape": [1, 8, 8],
            "n_classes": 4,
            "backend": "torch",
            "learn": ["tau_mem", "threshold"],
        }
    )
    model = build_model(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "log_tau" in name:
                p.add_(0.4 * torch.randn_like(p))
        model[1].running_mean.normal_()
        model[1].running_var.uniform_(0.5, 2.0)
    out = tmp_path / "runs" / "tiny"
    out.mkdir(parents=True)
    save_model(out / "model.safetensors", model, cfg)
    train = TrainConfig(epochs=1, timesteps=6, encoding="rate", batch_size=4)
    write_json(out / "config.json", {"dataset": f"idx:{data}", "model_config": cfg, "train": train.to_dict()})
    return out, model.eval()


def test_export_then_import_round_trips_to_a_run_folder(run_folder, tmp_path, capsys):
    out, model = run_folder
    path = tmp_path / "model.nir"
    assert main(["export", str(out), "--nir", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "Conv2d" in printed and "LIF" in printed and "dt=1 ms" in printed
    assert "subtract" in printed  # the reset NIR cannot express is reported
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left
    x = (torch.rand(12, 3, 1, 8, 8) < 0.4).float()
    torch.testing.assert_close(import_nir(path)(x)[0], model(x)[0], rtol=0, atol=0)

    again = tmp_path / "runs" / "back"
    assert main(["import", str(path), "--out", str(again)]) == 0
    printed = capsys.readouterr().out
    assert "from spikeforge" in printed and "Output" in printed
    assert {p.name for p in again.iterdir()} == {"model.safetensors", "config.json", "model.nir", ".spikeforge-run"}
    rebuilt, _ = load_model(again / "model.safetensors")
    torch.testing.assert_close(rebuilt(x)[0], model(x)[0], rtol=0, atol=0)
    assert json.loads((again / "config.json").read_text()) == json.loads((out / "config.json").read_text())
    # the rebuilt folder is a working run: evaluate reads it
    assert main(["evaluate", str(again), "--json"]) == 0


def test_import_of_a_foreign_graph_needs_dt_and_refuses_out(tmp_path, capsys):
    w = np.eye(3, dtype=np.float32)
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([3])),
        nir.Affine(weight=w, bias=np.zeros(3)),
        nir.LIF(tau=np.full(3, 0.01), r=np.full(3, 100.0), v_leak=np.zeros(3), v_threshold=np.ones(3)),
        nir.Output(output_type=np.array([3])),
    )
    path = tmp_path / "foreign.nir"
    nir.write(path, graph)
    assert main(["import", str(path)]) == 2
    assert "dt: the graph carries no time step" in capsys.readouterr().err
    assert main(["import", str(path), "--dt", "1e-4", "--integrator", "euler"]) == 0
    assert "from another library" in capsys.readouterr().out
    assert main(["import", str(path), "--dt", "1e-4", "--out", str(tmp_path / "x")]) == 2
    assert "not exported from a spikeforge run" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_export_errors_are_clear_and_write_nothing(run_folder, tmp_path, capsys):
    out, _ = run_folder
    assert main(["export", str(tmp_path / "nope"), "--nir", str(tmp_path / "m.nir")]) == 2
    assert "has no model.safetensors" in capsys.readouterr().err
    (tmp_path / "m.nir").write_text("keep")
    assert main(["export", str(out), "--nir", str(tmp_path / "m.nir")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "m.nir").read_text() == "keep"
    (out / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes()[:200])
    assert main(["export", str(out), "--nir", str(tmp_path / "n.nir"), "--overwrite"]) == 2
    assert "truncated" in capsys.readouterr().err
    assert not (tmp_path / "n.nir").exists()
    assert main(["import", str(tmp_path / "m.nir")]) == 2
    assert "not a readable NIR graph" in capsys.readouterr().err

"""Bad input on the command line (issue 15): every command refuses it with exit status 2 and one line
``spikeforge CMD: error: ...`` on stderr that names the option and what arrived, and leaves no half-written file.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from formats import make_idx_folder
from spikeforge.cli import main
from spikeforge.interop import save_model
from spikeforge.learning import TrainConfig
from spikeforge.models import build_model, resolve_model_config


def fails(capsys, argv: list[str], *fragments: str) -> str:
    """``main(argv)`` returns 2 and prints one ``spikeforge CMD: error:`` line holding every fragment."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"spikeforge {argv[0]}: error: "), err
    for fragment in fragments:
        assert fragment.lower() in err.lower(), f"{fragment!r} not in {err!r}"
    assert "Traceback" not in err
    return err


@pytest.fixture
def run_folder(tmp_path):
    """A run folder as `spikeforge train` writes it (untrained MLP on a 4-class 8x8 IDX set)."""
    torch.manual_seed(0)
    data = make_idx_folder(tmp_path / "idx", n_train=40, n_test=12)
    cfg = resolve_model_config({"model": "mlp", "hidden": [8], "input_shape": [1, 8, 8], "n_classes": 4})
    out = tmp_path / "runs" / "tiny"
    out.mkdir(parents=True)
    save_model(out / "model.safetensors", build_model(cfg), cfg)
    train = TrainConfig(epochs=1, timesteps=4, batch_size=8)
    config = {"dataset": f"idx:{data}", "model_config": cfg, "train": train.to_dict()}
    (out / "config.json").write_text(json.dumps(config))
    return out


def _ts_pair(folder, channels: int = 1, labels=("a", "b")):
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{':'.join(['1,2,3'] * channels)}:{labels[i % len(labels)]}\n" for i in range(8))
    for part in ("TRAIN", "TEST"):
        (folder / f"toy_{part}.ts").write_text(f"@classLabel true {' '.join(labels)}\n@data\n{rows}")
    return folder / "toy_TRAIN.ts"


# -- train -----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--dataset", "cifar10"], ("--dataset", "cifar10")),
        (["--dataset", "idx:"], ("--dataset", "'idx:'")),
        (["--dataset", ""], ("--dataset", "''")),
        (["--epochs", "0"], ("epochs", "0")),
        (["--timesteps", "0"], ("timesteps", "0")),
        (["--batch-size", "0"], ("batch_size", "0")),
        (["--lr", "nan"], ("lr", "nan")),
        (["--lr", "inf"], ("lr", "inf")),
        (["--weight-decay", "-1"], ("weight_decay", "-1")),
        (["--hidden", "12,x"], ("--hidden", "12,x")),
        (["--hidden", "0"], ("hidden", "[0]")),
        (["--backend", "fpga"], ("backend", "fpga")),
    ],
    ids=lambda v: "_".join(v) if isinstance(v, list) else "",
)
def test_train_bad_options(tmp_path, capsys, argv, fragments):
    out = tmp_path / "run"
    fails(capsys, ["train", *argv, "--out", str(out), "--quiet"], *fragments)
    assert not out.exists()


@pytest.mark.parametrize("hidden", ["", ",,"])
def test_train_empty_hidden_is_refused(tmp_path, capsys, hidden):
    """The user's report: `--hidden ""` trained a model without a hidden layer."""
    out = tmp_path / "run"
    fails(
        capsys, ["train", "--hidden", hidden, "--epochs", "1", "--out", str(out), "--quiet"], "--hidden", repr(hidden)
    )
    assert not out.exists()


def test_train_huge_seed_is_named(tmp_path, capsys):
    """The user's report: a huge --seed said 'Overflow when unpacking long long'."""
    out = tmp_path / "run"
    err = fails(capsys, ["train", "--seed", str(10**23), "--out", str(out), "--quiet"], "seed", str(10**23))
    assert "long long" not in err


def test_train_config_with_a_yaml_syntax_error(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("epochs: [1, 2\n")
    fails(capsys, ["train", "--config", str(config), "--out", str(tmp_path / "r")], "--config", "bad.yaml", "YAML")


@pytest.mark.parametrize("text", ["", "{", "[1, 2"], ids=["empty", "brace", "list"])
def test_train_config_that_is_not_json(tmp_path, capsys, text):
    config = tmp_path / "config.json"
    config.write_text(text)
    fails(capsys, ["train", "--config", str(config), "--out", str(tmp_path / "r")], "--config", "config.json")


def test_train_config_that_is_missing_or_not_a_mapping(tmp_path, capsys):
    fails(capsys, ["train", "--config", str(tmp_path / "none.json")], "--config", "none.json", "not found")
    config = tmp_path / "list.json"
    config.write_text("[1, 2]")
    fails(capsys, ["train", "--config", str(config), "--out", str(tmp_path / "r")], "--config", "mapping", "list")


def test_train_first_spike_readout_on_images(tmp_path, capsys):
    """The user's report: `--readout first` on digits ended in a raw traceback (its scores carry no gradient)."""
    out = tmp_path / "run"
    fails(capsys, ["train", "--readout", "first", "--epochs", "1", "--out", str(out), "--quiet"], "--readout", "first")
    assert not out.exists()


def test_train_idx_label_255_is_refused(tmp_path, capsys):
    """The user's report: an IDX label of 255 trained a 256-class model."""
    from formats import write_idx
    from spikeforge.data import IDX_FILES

    data = make_idx_folder(tmp_path / "idx")
    labels = np.arange(60) % 4
    labels[0] = 255
    write_idx(data / IDX_FILES["train_labels"], labels)
    out = tmp_path / "run"
    fails(capsys, ["train", "--dataset", f"idx:{data}", "--out", str(out), "--quiet"], "labels", "255")
    assert not out.exists()


# -- evaluate and profile ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["evaluate", "profile"])
@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ("config.json", "empty")),
        ("{", ("config.json", "not valid JSON", "line 1")),
        ("[1]", ("config.json", "lacks", "dataset")),
        ('{"dataset": "digits"}', ("config.json", "lacks", "model_config")),
    ],
    ids=["empty", "broken", "list", "partial"],
)
def test_run_with_a_bad_config_json(run_folder, capsys, command, text, fragments):
    """The user's report: an empty config.json ended in a raw traceback (now: named, with what is wrong)."""
    (run_folder / "config.json").write_text(text)
    fails(capsys, [command, str(run_folder)], *fragments)


@pytest.mark.parametrize("command", ["evaluate", "profile", "export"])
def test_run_folder_missing_or_with_a_broken_model(run_folder, tmp_path, capsys, command):
    extra = ["--nir", str(tmp_path / "m.nir")] if command == "export" else []
    fails(capsys, [command, str(tmp_path / "nope"), *extra], "run", "nope")
    (run_folder / "model.safetensors").write_bytes(b"\x00" * 16)
    fails(capsys, [command, str(run_folder), *extra], "model.safetensors")
    assert not (tmp_path / "m.nir").exists()


def test_evaluate_on_a_data_set_of_the_wrong_shape(run_folder, tmp_path, capsys):
    """The user's report: evaluating on a data set of the wrong shape ended in a raw traceback."""
    ts = _ts_pair(tmp_path / "ts")
    fails(capsys, ["evaluate", str(run_folder), "--dataset", str(ts)], "--dataset", "[1]", "[1, 8, 8]")


def test_evaluate_on_a_data_set_with_more_classes(run_folder, tmp_path, capsys):
    from formats import write_idx
    from spikeforge.data import IDX_FILES

    data = make_idx_folder(tmp_path / "wide", n_train=60, n_test=20)
    for part, n in (("train", 60), ("test", 20)):
        write_idx(data / IDX_FILES[f"{part}_labels"], np.arange(n) % 6)
    fails(capsys, ["evaluate", str(run_folder), "--dataset", f"idx:{data}"], "--dataset", "labels up to 5", "4 classes")


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [("cifar10", ("dataset", "cifar10")), ("idx:/nonexistent/x", ("/nonexistent/x", "not found"))],
)
def test_evaluate_on_an_unknown_or_missing_data_set(run_folder, capsys, spec, fragments):
    fails(capsys, ["evaluate", str(run_folder), "--dataset", spec], *fragments)


@pytest.mark.parametrize(
    ("content", "name", "fragments"),
    [
        (None, "none.json", ("energy table", "none.json", "not found")),
        ('{"add": -1}', "neg.json", ("add", "-1")),
        ('{"add": "x"}', "text.json", ("add", "'x'")),
        ('{"adds": 1}', "key.json", ("unknown", "adds")),
        ("{", "broken.json", ("broken.json",)),
        ("add: [1, 2\n", "broken.yaml", ("broken.yaml",)),
        ("[1, 2]", "list.json", ("mapping", "list")),
    ],
    ids=["missing", "negative", "text", "unknown-key", "broken-json", "broken-yaml", "list"],
)
def test_profile_bad_energy_tables(run_folder, tmp_path, capsys, content, name, fragments):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    fails(capsys, ["profile", str(run_folder), "--energy", str(path)], *fragments)


@pytest.mark.parametrize("batches", ["0", "-3"])
def test_profile_bad_batches(run_folder, capsys, batches):
    fails(capsys, ["profile", str(run_folder), "--batches", batches], "--batches", batches)


# -- export and import --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("overwrite", [False, True])
def test_export_onto_a_directory(run_folder, tmp_path, capsys, overwrite):
    """The user's report: exporting NIR onto a directory ended in a raw traceback."""
    target = tmp_path / "adir"
    target.mkdir()
    fails(
        capsys,
        ["export", str(run_folder), "--nir", str(target), *(["--overwrite"] if overwrite else [])],
        "--nir",
        "directory",
    )
    assert list(target.iterdir()) == [] and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_export_onto_an_existing_file(run_folder, tmp_path, capsys):
    target = tmp_path / "m.nir"
    target.write_text("keep")
    fails(capsys, ["export", str(run_folder), "--nir", str(target)], "--nir", "already exists", "--overwrite")
    assert target.read_text() == "keep"


@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda p: p, ("nope.nir", "not found")),
        (lambda p: (p.write_text("hello"), p)[1], ("nope.nir", "not a readable NIR")),
        (lambda p: (p.mkdir(), p)[1], ("nope.nir", "directory")),
        (lambda p: (p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64), p)[1], ("nope.nir", "not a readable NIR")),
    ],
    ids=["missing", "text", "directory", "truncated-hdf5"],
)
def test_import_bad_files(tmp_path, capsys, make, fragments):
    path = make(tmp_path / "nope.nir")
    fails(capsys, ["import", str(path)], *fragments)


@pytest.mark.parametrize("dt", ["0", "-1e-3", "nan", "inf"])
def test_import_bad_dt(run_folder, tmp_path, capsys, dt):
    path = tmp_path / "m.nir"
    assert main(["export", str(run_folder), "--nir", str(path)]) == 0
    capsys.readouterr()
    fails(capsys, ["import", str(path), f"--dt={dt}"], "--dt", repr(float(dt)))


def test_import_out_folder_exists(run_folder, tmp_path, capsys):
    path = tmp_path / "m.nir"
    assert main(["export", str(run_folder), "--nir", str(path)]) == 0
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    capsys.readouterr()
    fails(capsys, ["import", str(path), "--out", str(out)], "taken", "exists")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


# -- simulate ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["izhikevich", "--current", "10", "--duration", "100000000s"], ("--duration", "--dt", "cap", "2,000,000")),
        (["izhikevich", "--current", "10", "--dt", "1us", "--duration", "1000s"], ("--duration", "--dt", "cap")),
        (["izhikevich", "--fi-curve", "0:9999:1", "--duration", "100s"], ("--duration", "currents", "cap")),
        (["network", "brunel", "--duration", "100000s"], ("--duration", "--dt", "cap")),
        (["izhikevich", "--current", "10", "--duration", "0ms"], ("--duration", "positive", "0ms")),
        (["izhikevich", "--current", "10", "--duration", ""], ("--duration", "''")),
        (["izhikevich", "--current", "10", "--duration", "5"], ("--duration", "unit", "'5'")),
        (["izhikevich", "--current", "10", "--dt=-1ms"], ("--dt", "-1ms")),
        (["izhikevich", "--current", "10", "--dt", "nanms"], ("--dt", "nanms")),
        (["izhikevich", "--current", "10", "--dt", "2s", "--duration", "1s"], ("--dt", "longer", "--duration")),
        (["izhikevich", "--current", ""], ("--current", "''")),
        (["izhikevich", "--current", "nan"], ("--current", "finite", "nan")),
        (["izhikevich", "--current", "inf"], ("--current", "finite", "inf")),
        (["izhikevich", "--current", "1,x"], ("--current", "1,x")),
        (["izhikevich", "--fi-curve", "0:10:0"], ("--fi-curve", "STEP > 0")),
        (["izhikevich", "--fi-curve", "0:10"], ("--fi-curve", "0:10")),
        (["izhikevich", "--fi-curve", "0:1e9:1"], ("--fi-curve", "too many")),
        (["izhikevich", "--current", "10", "--param", "a=nan"], ("a", "nan")),
        (["izhikevich", "--current", "10", "--param", "a"], ("--param", "NAME=VALUE", "'a'")),
        (["izhikevich", "--current", "10", "--param", "zz=1"], ("--param", "'zz'")),
        (["izhikevich", "--current", "10", "--param", "v_peak=inf"], ("v_peak", "inf")),
        (["izhikevich", "--preset", "nope"], ("--preset", "nope")),
        (["hodgkin-huxley", "--current", "10", "--param", "substeps=0"], ("substeps", "0")),
        (["hodgkin-huxley", "--current", "10", "--param", "v_threshold=nan"], ("v_threshold", "nan")),
        (["hodgkin-huxley", "--current", "10", "--param", "C_m=-1"], ("C_m", "-1")),
        (["cubalif", "--current", "10", "--param", "threshold=-1"], ("threshold", "-1")),
        (["squid", "--current", "10"], ("MODEL", "squid")),
        (["network", "hopfield"], ("network", "hopfield")),
        (["network", "brunel", "--regime", "chaos", "--duration", "10ms"], ("regime", "chaos")),
        (["network", "brunel", "--duration", "10ms", "--seed", str(10**23)], ("--seed", str(10**23))),
        (["network", "brunel", "--duration", "10ms", "--seed", "-1"], ("--seed", "-1")),
        (["network", "brunel", "--current", "5"], ("--current", "network")),
    ],
    ids=lambda v: "_".join(v)[:60] if isinstance(v, list) else "",
)
def test_simulate_refuses(capsys, argv, fragments):
    err = fails(capsys, ["simulate", *argv], *fragments)
    assert "long long" not in err


def test_simulate_absurd_duration_is_refused_at_once(capsys):
    import time

    start = time.perf_counter()
    fails(capsys, ["simulate", "izhikevich", "--current", "10", "--duration", "100000000s"], "cap")
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    ("model", "current"), [("hodgkin-huxley", "10,1e6"), ("morris-lecar", "1e6"), ("hindmarsh-rose", "1e9")]
)
def test_simulate_blow_up_names_the_step_and_variable(capsys, model, current):
    """The user's report: a Hodgkin-Huxley run whose state went NaN reported '0 spikes'."""
    argv = ["simulate", model, "--current", current, "--duration", "20ms", "--dt", "0.01ms"]
    err = fails(capsys, argv, "--current", "diverged at step", "state.")
    assert "0 spikes" not in err


def test_simulate_blow_up_with_a_plot_writes_no_file(tmp_path, capsys):
    plot = tmp_path / "hh.png"
    argv = ["hodgkin-huxley", "--current", "1e6", "--duration", "5ms", "--dt", "0.01ms", "--plot", str(plot)]
    fails(capsys, ["simulate", *argv], "diverged")
    assert list(tmp_path.iterdir()) == []


def test_simulate_plot_onto_a_directory(tmp_path, capsys):
    target = tmp_path / "adir"
    target.mkdir()
    fails(
        capsys,
        ["simulate", "izhikevich", "--current", "10", "--duration", "5ms", "--plot", str(target)],
        "--plot",
        "directory",
    )

import pickle

import pytest
import torch

from spikeforge.interop import ModelFileError, load_model, save_model
from spikeforge.models import build_model

CONFIG = {"model": "mlp", "input_shape": [1, 8, 8], "n_classes": 10, "hidden": [32]}


class _Boom:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_round_trip_gives_identical_outputs(tmp_path):
    model = build_model(CONFIG)
    path = save_model(tmp_path / "m.safetensors", model, CONFIG)
    loaded, config = load_model(path)
    assert config["hidden"] == [32]
    x = torch.rand(5, 3, 1, 8, 8)
    torch.testing.assert_close(loaded(x)[0], model.eval()(x)[0])


def test_pickle_payload_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"weights": _Boom()}))
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(path)
    torch.save({"a": torch.ones(2)}, tmp_path / "torch.pt")
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(tmp_path / "torch.pt")
    assert not (tmp_path / "PWNED").exists()


def test_truncated_file_is_refused(tmp_path):
    path = save_model(tmp_path / "m.safetensors", build_model(CONFIG), CONFIG)
    data = path.read_bytes()
    for cut in (4, 100, len(data) - 10):
        path.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match=r"truncated|too short"):
            load_model(path)


def test_tensors_not_matching_config_are_refused(tmp_path):
    path = save_model(tmp_path / "m.safetensors", build_model(CONFIG), {**CONFIG, "hidden": [64]})
    with pytest.raises(ModelFileError, match="shape mismatch"):
        load_model(path)


def test_foreign_safetensors_without_config_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.ones(2)}, tmp_path / "plain.safetensors")
    with pytest.raises(ModelFileError, match="without spikeforge metadata"):
        load_model(tmp_path / "plain.safetensors")


def test_failed_save_leaves_no_file(tmp_path):
    with pytest.raises(TypeError, match="JSON"):
        save_model(tmp_path / "m.safetensors", build_model(CONFIG), {**CONFIG, "bad": object()})
    assert list(tmp_path.iterdir()) == []

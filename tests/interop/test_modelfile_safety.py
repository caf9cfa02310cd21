"""Model files (issue 6, section 4): hostile or broken files give a clear error and execute nothing.

Complements test_modelfile.py: every pickle protocol, legacy torch.save, a loader that never reaches pickle, cuts at
every region of the file, and tensors that disagree with the config by key as well as by shape.
"""

import pickle

import pytest
import torch

from spikeforge.interop import ModelFileError, load_model, read_model_file, save_model
from spikeforge.models import build_model

CONFIG = {"model": "mlp", "input_shape": [1, 4, 4], "n_classes": 3, "hidden": [8], "backend": "torch"}


class _Boom:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_of_any_protocol_is_refused_and_not_run(protocol, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"state_dict": _Boom()}, protocol=protocol))
    with pytest.raises(ModelFileError, match=r"pickle|not safetensors|too short") as err:
        load_model(path)
    assert str(path) in str(err.value)
    assert not (tmp_path / "PWNED").exists()


def test_legacy_torch_save_is_refused(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(path)


def test_loading_never_touches_pickle(tmp_path, monkeypatch):
    """A valid file loads with every unpickling entry point disabled: nothing in the path can run code."""
    path = save_model(tmp_path / "m.safetensors", build_model(CONFIG), CONFIG)
    # this config's header is 640 bytes, so the file starts b"\x80\x02" like a pickle: it must still load
    assert path.read_bytes()[:2] == b"\x80\x02"

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling was attempted")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    model, config = load_model(path)
    assert config["hidden"] == [8] and sum(p.numel() for p in model.parameters()) > 0


def test_cut_anywhere_is_a_clear_error(tmp_path):
    path = save_model(tmp_path / "m.safetensors", build_model(CONFIG), CONFIG)
    data = path.read_bytes()
    header = int.from_bytes(data[:8], "little")
    for cut in (0, 7, 8):  # too short to tell from a cut pickle (this header starts b"\x80\x02"): any clear refusal
        path.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match=r"too short|pickle"):
            read_model_file(path)
    for cut in (9, 8 + header // 2, 8 + header, 8 + header + 1, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match=r"truncated|corrupt"):
            read_model_file(path)


@pytest.mark.parametrize("edit", ["missing", "unexpected", "shape"])
def test_tensors_not_matching_the_config_name_the_tensor(edit, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = save_model(tmp_path / "m.safetensors", build_model(CONFIG), CONFIG)

    with safe_open(path, "pt") as f:
        meta = f.metadata()
    tensors = load_file(path)
    if edit == "missing":
        del tensors["1.weight"]
    elif edit == "unexpected":
        tensors["9.weight"] = torch.zeros(2)
    else:
        tensors["1.weight"] = torch.zeros(8, 15)
    save_file(tensors, path, metadata=meta)
    expected = {
        "missing": r"missing \['1.weight'\]",
        "unexpected": r"unexpected \['9.weight'\]",
        "shape": r"shape mismatch \['1.weight: file \(8, 15\) vs config \(8, 16\)'\]",
    }[edit]
    with pytest.raises(ModelFileError, match=expected):
        load_model(path)


def test_config_that_builds_nothing_is_refused(tmp_path):
    path = save_model(tmp_path / "m.safetensors", build_model(CONFIG), {**CONFIG, "model": "transformer"})
    with pytest.raises(ModelFileError, match="config does not describe a buildable model"):
        load_model(path)

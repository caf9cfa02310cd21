"""Model names come from MODELS alone: each entry builds its network and says what input it takes."""

import pytest

from spikeforge.models import MODELS, build_model, models_for, resolve_model_config


def test_models_in_the_order_shown_with_their_inputs():
    assert list(MODELS) == ["mlp", "conv", "recurrent", "delay", "gru", "converted"]
    assert models_for("images") == ["mlp", "conv"]
    assert models_for("series") == ["mlp", "recurrent", "delay", "gru"]
    assert [name for name, kind in MODELS.items() if not kind.spiking] == ["gru"]
    # converted networks are rebuilt from the graph spikeforge.convert stores, never trained by `spikeforge train`
    assert [name for name, kind in MODELS.items() if not kind.trainable] == ["converted"]


def test_an_entry_is_its_builder():
    cfg = resolve_model_config({"model": "mlp", "hidden": [4], "input_shape": [3], "n_classes": 2})
    assert type(MODELS["mlp"](cfg)) is type(build_model(cfg))


@pytest.mark.parametrize(
    ("model", "shape", "message"),
    [
        ("conv", [3], "model 'conv': expected image input [C, H, W]"),
        ("gru", [1, 8, 8], "model 'gru': expected sequence input [T, B, C]"),
    ],
)
def test_input_checks_read_the_registry(model, shape, message):
    with pytest.raises(ValueError) as err:
        resolve_model_config({"model": model, "input_shape": shape, "n_classes": 2})
    assert message in str(err.value)

"""The registry's refusal names the call by dtype, device and shape, never by tensor values."""

import pytest
import torch

import spikeforge as sf
from spikeforge import kernels


def test_unsupported_call_is_described_briefly():
    if "cpu" not in kernels.available("lif"):
        pytest.skip("fused kernels not built here")
    x = torch.rand(50, 4, 300, dtype=torch.float16)  # the fused kernel takes float32/float64 only
    lif = sf.LIF(300, backend="cpu", dtype=torch.float16)
    with pytest.raises(ValueError, match="does not support this call") as err:
        lif(x)
    msg = str(err.value)
    assert "dtype=torch.float16" in msg and "shape=(50, 4, 300)" in msg
    assert "tensor([" not in msg and len(msg) < 1000

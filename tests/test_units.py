import math
import subprocess
import sys

import pytest
import torch

from spikeforge.units import check_dt, decay, ms, tau_from_decay


def test_decay_is_exact_exponential_and_invertible():
    assert float(decay(20 * ms, 1 * ms)) == pytest.approx(math.exp(-1 / 20), rel=1e-7)
    tau = torch.tensor([5 * ms, 20 * ms, 100 * ms], dtype=torch.float64)
    assert torch.allclose(tau_from_decay(decay(tau, 0.5 * ms), 0.5 * ms).double(), tau)


@pytest.mark.parametrize("bad", [0.0, -1e-3, float("nan"), float("inf"), 100.0])
def test_check_dt_rejects_bad_steps(bad):
    with pytest.raises(ValueError, match="dt"):
        check_dt(bad)


def test_check_dt_rejects_non_numbers():
    with pytest.raises(TypeError, match="dt"):
        check_dt("1ms")


def test_import_is_light():
    code = (
        "import sys, spikeforge; heavy = [m for m in ('matplotlib', 'sklearn', 'rich', 'safetensors', 'scipy', "
        "'yaml', 'h5py') if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

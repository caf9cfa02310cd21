import pickle

import pytest
import torch

from spikeforge import surrogate as sg

BUILTIN = [
    sg.FastSigmoid(),
    sg.FastSigmoid(slope=5.0),
    sg.Sigmoid(),
    sg.Sigmoid(slope=2.0),
    sg.ATan(),
    sg.ATan(alpha=4.0),
    sg.Triangle(),
    sg.Triangle(width=0.5),
    sg.Boxcar(),
    sg.Boxcar(width=0.4),
    sg.StraightThrough(),
]


def _grid():
    # avoid the kinks of the piecewise surrogates (0, +-width, +-width/2), where derivatives are one-sided
    x = torch.linspace(-3, 3, 601, dtype=torch.float64)
    kinks = torch.tensor([0.0, 1.0, -1.0, 0.5, -0.5, 0.25, -0.25, 0.2, -0.2], dtype=torch.float64)
    keep = ((x[:, None] - kinks[None]).abs() > 1e-3).all(1)
    return x[keep]


@pytest.mark.parametrize("s", BUILTIN, ids=repr)
def test_backward_equals_autograd_of_primitive(s):
    x = _grid().requires_grad_(True)
    (expected,) = torch.autograd.grad(s.primitive(x).sum(), x)
    x2 = x.detach().clone().requires_grad_(True)
    z = s(x2)
    (got,) = torch.autograd.grad(z.sum(), x2)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("s", BUILTIN, ids=repr)
def test_forward_is_heaviside(s):
    x = torch.tensor([-1.0, -1e-6, 0.0, 1e-6, 2.0])
    assert s(x).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("s", BUILTIN, ids=repr)
def test_surrogates_pickle_and_compare(s):
    again = pickle.loads(pickle.dumps(s))
    assert again == s and hash(again) == hash(s)
    assert sg.get(s.to_config()) == s


def test_user_defined_surrogate_takes_only_a_primitive():
    class Gaussian(sg.Surrogate):
        def __init__(self, sigma=0.3):
            self.sigma = sigma

        def primitive(self, x):
            return 0.5 * (1 + torch.erf(x / (self.sigma * 2**0.5)))

    s = Gaussian()
    x = torch.linspace(-1, 1, 11, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(s(x).sum(), x)
    expected = torch.exp(-0.5 * (x.detach() / 0.3) ** 2) / (0.3 * (2 * torch.pi) ** 0.5)
    torch.testing.assert_close(g, expected)
    assert "Gaussian(sigma=0.3)" == repr(s)


def test_get_by_name_alias_and_dict():
    assert sg.get("superspike") == sg.FastSigmoid()
    assert sg.get({"name": "atan", "alpha": 3.0}) == sg.ATan(3.0)
    assert isinstance(sg.get(None), sg.FastSigmoid)


def test_bad_surrogates_are_explained():
    with pytest.raises(ValueError, match=r"unknown name 'nope'.*expected one of"):
        sg.get("nope")
    with pytest.raises(ValueError, match="slope"):
        sg.FastSigmoid(slope=-1)
    with pytest.raises(ValueError, match="bad arguments"):
        sg.get({"name": "atan", "slope": 2})

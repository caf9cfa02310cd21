"""Surrogate spike functions: Heaviside forward, smooth derivative backward."""

from __future__ import annotations

import math

import torch

__all__ = [
    "ATan",
    "Boxcar",
    "FastSigmoid",
    "Sigmoid",
    "StraightThrough",
    "Surrogate",
    "Triangle",
    "available",
    "get",
    "heaviside",
]


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """Spike where ``x >= 0`` (``x`` is the membrane minus the threshold), in ``x``'s dtype."""
    return (x >= 0).to(x.dtype)


class _SpikeFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return heaviside(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad_output * ctx.surrogate.derivative(x), None


class Surrogate:
    """Base class of surrogate gradients.

    Forward is always the Heaviside step ``H(x)`` (``x`` = membrane minus threshold). Backward multiplies the
    incoming gradient by :meth:`derivative`, the derivative of a smooth :meth:`primitive` that approximates ``H``.

    A user-defined surrogate needs only ``primitive``; ``derivative`` defaults to autograd of it (slower). Write
    ``derivative`` by hand for speed (the fused CPU kernels call it once per backward over the whole stored
    sequence, ``[T, N]``, so it should be vectorised torch code)::

        class Gaussian(Surrogate):
            def __init__(self, sigma: float = 0.3):
                self.sigma = sigma

            def primitive(self, x):
                return 0.5 * (1 + torch.erf(x / (self.sigma * 2**0.5)))

            def derivative(self, x):
                return torch.exp(-0.5 * (x / self.sigma) ** 2) / (self.sigma * (2 * torch.pi) ** 0.5)

    and pass ``surrogate=Gaussian()`` to any neuron.
    """

    name: str = "custom"
    #: the derivative's id in the fused kernels (C and Triton, ``kernels/cpu/sf_kernels.h``); None: no kernel has it
    kernel_id: int | None = None
    #: the attribute passed to the kernel as its parameter (None: the derivative has none)
    kernel_parameter: str | None = None
    #: the ``kernel_id`` this very class declares (not inherited), set when the class is created
    _own_kernel_id: int | None = None

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._own_kernel_id = cls.__dict__.get("kernel_id")  # read here, once: torch.compile traces kernel_code()

    def kernel_code(self) -> tuple[int, float] | None:
        """``(kernel id, parameter)`` for the fused kernels, or None when no kernel computes this derivative itself.

        Only the class that declares ``kernel_id`` itself has a code. Every other surrogate (a user-defined one, or
        a subclass that overrides :meth:`derivative` without declaring its own id) still runs the fused CPU
        kernels: their backward evaluates :meth:`derivative` once over the whole stored sequence (one vectorised
        call) and runs the recursion with those values; only the GPU kernels need a code.
        """
        kernel_id = type(self)._own_kernel_id
        if kernel_id is None:
            return None
        return kernel_id, float(getattr(self, self.kernel_parameter)) if self.kernel_parameter else 0.0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _SpikeFunction.apply(x, self)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement primitive(x)")

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.primitive(xg).sum(), xg)
        return g

    def _params(self) -> dict[str, float]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._params() == other._params()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self._params().items()))))

    def to_config(self) -> dict:
        """A JSON-able description that :func:`get` turns back into an equal surrogate."""
        return {"name": self.name, **self._params()}


def _check_slope(name: str, value: float) -> float:
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    return float(value)


class FastSigmoid(Surrogate):
    """SuperSpike fast sigmoid (Zenke & Ganguli 2018): derivative ``1 / (1 + slope*|x|)^2``.

    The derivative peaks at 1 at the threshold (the SuperSpike normalisation, also snnTorch's); its primitive is
    ``x / (1 + slope*|x|)`` up to a constant.
    """

    name = "fast_sigmoid"
    kernel_id = 0
    kernel_parameter = "slope"

    def __init__(self, slope: float = 25.0):
        self.slope = _check_slope("slope", slope)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        # d/dx [x / (1 + k|x|)] = 1 / (1 + k|x|)^2
        return x / (1 + self.slope * x.abs())

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return 1.0 / (1.0 + self.slope * x.abs()) ** 2


class Sigmoid(Surrogate):
    """Logistic sigmoid ``sigma(slope*x)``; derivative ``slope * s * (1 - s)``."""

    name = "sigmoid"
    kernel_id = 1
    kernel_parameter = "slope"

    def __init__(self, slope: float = 5.0):
        self.slope = _check_slope("slope", slope)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.slope * x)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(self.slope * x)
        return self.slope * s * (1 - s)


class ATan(Surrogate):
    """Arctangent (Fang et al. 2021): primitive ``1/pi * atan(pi/2 * alpha * x) + 1/2``."""

    name = "atan"
    kernel_id = 2
    kernel_parameter = "alpha"

    def __init__(self, alpha: float = 2.0):
        self.alpha = _check_slope("alpha", alpha)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return torch.atan(math.pi / 2 * self.alpha * x) / math.pi + 0.5

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return self.alpha / 2 / (1 + (math.pi / 2 * self.alpha * x) ** 2)


class Triangle(Surrogate):
    """Triangle (piecewise linear, Bellec et al. 2018): derivative ``max(0, 1 - |x|/width) / width``."""

    name = "triangle"
    kernel_id = 3
    kernel_parameter = "width"

    def __init__(self, width: float = 1.0):
        self.width = _check_slope("width", width)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        u = (x / self.width).clamp(-1.0, 1.0)
        return 0.5 + u - 0.5 * u * u.abs()

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return (1 - (x / self.width).abs()).clamp(min=0) / self.width


class Boxcar(Surrogate):
    """Boxcar / straight-through: derivative ``1/width`` for ``|x| < width/2``, else 0."""

    name = "boxcar"
    kernel_id = 4
    kernel_parameter = "width"

    def __init__(self, width: float = 1.0):
        self.width = _check_slope("width", width)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return (x / self.width + 0.5).clamp(0.0, 1.0)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.abs() < self.width / 2).to(x.dtype)) / self.width


class StraightThrough(Surrogate):
    """Straight-through estimator: derivative 1 everywhere (primitive ``x``)."""

    name = "straight_through"
    kernel_id = 5

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(x)


#: every built-in surrogate by name: the CLI, configs, kernels and error messages read this one table
_REGISTRY: dict[str, type[Surrogate]] = {
    cls.name: cls for cls in (FastSigmoid, Sigmoid, ATan, Triangle, Boxcar, StraightThrough)
}
_ALIASES = {"superspike": "fast_sigmoid", "arctan": "atan", "ste": "straight_through", "rectangle": "boxcar"}


def available() -> list[str]:
    """Names accepted by :func:`get`."""
    return sorted([*_REGISTRY, *_ALIASES])


def get(spec: str | dict | Surrogate | None = None) -> Surrogate:
    """Resolve a surrogate from an instance, a name (``"atan"``), or a config dict (``{"name": "atan", "alpha": 3}``).

    ``None`` gives the default, ``FastSigmoid()``.
    """
    if spec is None:
        return FastSigmoid()
    if isinstance(spec, Surrogate):
        return spec
    if isinstance(spec, dict):
        kwargs = dict(spec)
        name = kwargs.pop("name", None)
        return _from_name(name, kwargs)
    if isinstance(spec, str):
        return _from_name(spec, {})
    raise TypeError(f"surrogate: expected a Surrogate, a name or a dict, got {type(spec).__name__}")


def _from_name(name: object, kwargs: dict) -> Surrogate:
    key = str(name).lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise ValueError(f"surrogate: unknown name {name!r}; expected one of {', '.join(available())}")
    try:
        return _REGISTRY[key](**kwargs)
    except TypeError as err:
        raise ValueError(f"surrogate {name!r}: bad arguments {kwargs}: {err}") from None

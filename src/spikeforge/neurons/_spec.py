"""One record per neuron model (:class:`NeuronSpec`) and the registry of them (:data:`NEURONS`).

Every neuron file ends with ``SPEC = register(NeuronSpec(...))``; ``spikeforge/neurons/__init__.py`` imports each
neuron file by one line, in the order the registry lists them. What reads the registry: ``spikeforge simulate`` (the models it runs, their units and settable
parameters: :class:`SimulateInfo`) and the conformance suite ``tests/neurons/test_conformance.py``, which runs every
registered neuron through the same checks with its typical input (:class:`Drive`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NEURONS", "Drive", "NeuronSpec", "SimulateInfo", "register"]


@dataclass(frozen=True)
class SimulateInfo:
    """How ``spikeforge simulate`` builds and drives a model (its sequence class, with ``dtype=float64``).

    >>> info = SimulateInfo("hodgkin-huxley", "uA/cm^2", "v", "mV", ("g_Na",), max_substep_ms=0.05, aliases=("hh",))
    >>> info.name, info.aliases
    ('hodgkin-huxley', ('hh',))
    """

    #: the model's name on the command line (words joined by hyphens)
    name: str
    #: unit of ``--current`` (the input ``x``)
    current_unit: str
    #: the state field plotted as the membrane, and its unit
    voltage_field: str
    voltage_unit: str
    #: constructor arguments ``--param NAME=VALUE`` may set
    params: tuple[str, ...]
    #: those of ``params`` in seconds (they also accept ``300ms``)
    time_params: tuple[str, ...] = ()
    #: largest RK4 sub-step (ms) for models integrated in sub-steps: the CLI picks enough of them for ``--dt``
    max_substep_ms: float | None = None
    #: other names the CLI accepts for the model
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Drive:
    """A typical input: ``x = offset + amplitude * U[0, 1)`` at time step ``dt`` (s) makes most neurons spike
    within a few dozen steps, from rest. ``kwargs`` are constructor arguments the tests add to the defaults (e.g. an
    optional ``tau_syn``, so that every learnable hyperparameter exists)."""

    amplitude: float
    dt: float
    offset: float = 0.0
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NeuronSpec:
    """Everything spikeforge knows about one neuron model: its classes and functions, what ``learn=`` accepts, how
    the CLI simulates it, and how the tests drive it."""

    #: the kernel-registry and functional name (``"lif"``, ``"hodgkin_huxley"``): ``<name>_step``, ``<name>_seq``
    name: str
    #: one step as a module, and the module over a sequence
    cell: type
    sequence: type
    #: the pure functions (``spikeforge.functional``)
    step: Callable[..., Any]
    seq: Callable[..., Any]
    init: Callable[..., Any]
    #: the hyperparameter and state NamedTuples
    params: type
    state: type
    #: typical input for the conformance suite
    drive: Drive
    #: how ``spikeforge simulate`` runs it; None: the CLI does not simulate this model
    simulate: SimulateInfo | None = None
    #: the sequence module has a NIR mapping (``spikeforge.interop.export_nir`` / ``import_nir``)
    nir: bool = False

    @property
    def learnable(self) -> tuple[str, ...]:
        """Hyperparameters ``learn=`` turns into ``nn.Parameter`` (the sequence class's ``learnable``)."""
        return self.sequence.learnable

    @property
    def exports(self) -> tuple[str, ...]:
        """The public names of the model's file (its ``__all__``), re-exported by :mod:`spikeforge.neurons`."""
        return tuple(sys.modules[self.sequence.__module__].__all__)


#: every neuron model by its kernel-registry / functional name, in the order ``spikeforge/neurons/__init__.py``
#: imports them (``spikeforge simulate`` lists its models in this order)
NEURONS: dict[str, NeuronSpec] = {}


def register(spec: NeuronSpec) -> NeuronSpec:
    """Add ``spec`` to :data:`NEURONS` (each neuron file's last statement) and return it."""
    if spec.name in NEURONS and NEURONS[spec.name] is not spec:
        raise ValueError(f"neuron {spec.name!r} is registered twice ({NEURONS[spec.name].sequence.__module__})")
    NEURONS[spec.name] = spec
    return spec

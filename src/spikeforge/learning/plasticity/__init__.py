r"""Local plasticity: learning rules that are local in space and time (no backpropagation).

Pieces that compose:

- traces (:mod:`._traces`): exponential, all-to-all or nearest-spike pairing, clock-driven (:func:`trace_step`,
  :func:`trace_seq`) or event-driven (:class:`EventTrace`, touched only at spikes);
- spike rules, each returning its change as potentiation and depression correlations: :class:`PairSTDP`
  (additive with ``Bounds(kind="hard")``, multiplicative with ``"soft"``), :class:`TripletSTDP` (Pfister & Gerstner
  2006); rate rules on dense weights: :class:`Hebbian`, :class:`Oja`, :class:`BCM`;
- connections: :class:`Plastic` attaches a spike rule to a ``Linear``, ``EventLinear`` or ``Conv2d`` (batched:
  per-sample changes summed or averaged, ``reduce``); :class:`ThreeFactor` gates a rule by a neuromodulator
  through an eligibility trace, :func:`rstdp` is Izhikevich's reward-modulated STDP; :class:`EventPlastic` runs pair
  STDP event-driven (traces and weights touched only at spikes);
- :class:`Bounds` (hard / soft), :func:`normalize_weights`, :class:`AdaptiveThreshold`, :class:`RateHomeostasis`,
  :func:`lateral_inhibition`, :func:`winner_take_all`;
- :mod:`._diehl_cook`: unsupervised digit recognition after Diehl & Cook 2015 (:class:`DiehlCookConfig`,
  :func:`train_diehl_cook`, :func:`evaluate_diehl_cook`, :func:`save_diehl_cook`, :func:`load_diehl_cook`).

Times are in seconds throughout; weights in the connection's units.
"""

from ._bounds import BOUND_KINDS, Bounds
from ._competition import lateral_inhibition, winner_take_all
from ._connections import REDUCTIONS, Plastic, correlate
from ._diehl_cook import (
    LEARNERS,
    DiehlCook,
    DiehlCookConfig,
    evaluate_diehl_cook,
    load_diehl_cook,
    save_diehl_cook,
    train_diehl_cook,
)
from ._event import EventPlastic
from ._homeostasis import AdaptiveThreshold, RateHomeostasis, normalize_weights
from ._rate import BCM, Hebbian, Oja
from ._stdp import PairSTDP, Update
from ._three_factor import ThreeFactor, rstdp
from ._traces import PAIRINGS, EventTrace, decay_factor, trace_seq, trace_step
from ._triplet import TripletSTDP

__all__ = [
    "BCM",
    "BOUND_KINDS",
    "LEARNERS",
    "PAIRINGS",
    "REDUCTIONS",
    "AdaptiveThreshold",
    "Bounds",
    "DiehlCook",
    "DiehlCookConfig",
    "EventPlastic",
    "EventTrace",
    "Hebbian",
    "Oja",
    "PairSTDP",
    "Plastic",
    "RateHomeostasis",
    "ThreeFactor",
    "TripletSTDP",
    "Update",
    "correlate",
    "decay_factor",
    "evaluate_diehl_cook",
    "lateral_inhibition",
    "load_diehl_cook",
    "normalize_weights",
    "rstdp",
    "save_diehl_cook",
    "trace_seq",
    "trace_step",
    "train_diehl_cook",
    "winner_take_all",
]

"""Gradients without storing the whole sequence: EventProp (exact gradients by the adjoint method, memory
proportional to the number of spikes) and online learning (e-prop, OTTT; memory independent of the sequence
length)."""

__all__: list[str] = []

from ._eprop import FEEDBACK, EProp  # e-prop (Bellec et al. 2020)
from ._eprop_ottt_fit import fit_eprop, fit_ottt  # their training loops (spikeforge train --method)

# EventProp (Wunderlich & Pehle 2021): exact adjoint gradients of current-based LIF networks
from ._eventprop_fit import check_eventprop, evaluate_eventprop, fit_eventprop  # spikeforge train --method eventprop
from ._eventprop_lif import EventLIFParams, SpikeList, event_lif, event_lif_max
from ._eventprop_loss import first_spike_times, max_membrane_loss, ttfs_loss
from ._eventprop_net import EventPropNet, eventprop_w1_step, w1_network
from ._ottt import OTTT  # online training through time (Xiao et al. 2022)

__all__ += ["FEEDBACK", "OTTT", "EProp", "fit_eprop", "fit_ottt"]

__all__ += ["EventLIFParams", "EventPropNet", "SpikeList", "event_lif", "event_lif_max", "eventprop_w1_step"]
__all__ += [
    "check_eventprop",
    "evaluate_eventprop",
    "first_spike_times",
    "fit_eventprop",
    "max_membrane_loss",
    "ttfs_loss",
    "w1_network",
]

"""Neuromorphic hardware targets: each platform's published limits, with the source of every figure.

Data only: :func:`spikeforge.interop.deploy_check` reads it, the ``spikeforge deploy-check --target`` choices come
from :data:`TARGETS`, and docs/hardware_targets.md prints the same table. A limit that could not be confirmed in the
platform's own documentation or papers has ``confirmed=False`` and says why in ``note``; a limit that is ``None``
is not published (or not applicable) and is not checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SOURCES", "TARGETS", "HardwareTarget", "Limit"]

#: where the figures come from (keys used by :class:`Limit`)
SOURCES: dict[str, str] = {
    "loihi2-brief": "Intel Labs, 'Taking Neuromorphic Computing to the Next Level with Loihi 2', technology brief "
    "(2021): 128 neuromorphic cores, up to 1 million neurons and 120 million synapses per chip (as summarised on "
    "open-neuromorphic.org/neuromorphic-computing/hardware/loihi-2-intel/)",
    "loihi1-paper": "Davies et al., 'Loihi: a neuromorphic manycore processor with on-chip learning', IEEE Micro 38(1), "
    "2018: CUBA neurons with 24-bit membrane state and up to 8-bit (1-9 bit) synaptic weights (Loihi 1)",
    "rockpool-xylo": "SynSense, Rockpool documentation, 'Overview of the Xylo family' (rockpool.ai/devices/"
    "xylo-overview.html): Xylo Audio 2 has 16 SNN input channels, 1000 hidden and 8 output neurons, maximum fan-out "
    "64, 8-bit input, recurrent and readout weights, bit-shift decays, subtractive reset; each of the two input "
    "synapses receives events from up to 16 pre-synaptic neurons",
    "samna-speck2e": "SynSense, samna documentation, 'Speck 2e' (synsense-sys-int.gitlab.io/samna/models/"
    "speckSeries/speck2e.html): 9 convolutional layers, 0.32 M neurons, 8-bit weights, 16-bit neuron state, kernels "
    "up to 16x16, up to 1024 features, input up to 128x128, output up to 64x64, fan-out 2 layers",
    "akida-v1": "BrainChip, Akida examples 2.4.0 user guide, 'Akida 1.0 Hardware constraints' (brainchip-inc.github.io/"
    "akida_examples_2.4.0-doc-1/user_guide/1.0_hw_constraints.html): AKD1000 FullyConnected input up to 57334 values, "
    "weights 1, 2 or 4 bits, activations 1, 2 or 4 bits (input layer: 8-bit input); layers InputConv2D, Conv2D, "
    "SeparableConv2D, FullyConnected with quantised ReLU activations",
    "spinnaker2-pe": "Hoppner et al., 'The SpiNNaker 2 Processing Element Architecture for Hybrid Digital Neuromorphic "
    "Computing', arXiv:2103.08392 (2021): processing elements built around an ARM Cortex-M4F core with local SRAM, "
    "neuron models in software",
    "derived": "derived from the figures above (a per-chip figure divided by the cores per chip)",
}


@dataclass(frozen=True)
class Limit:
    """One published figure: its ``value``, the key of its source in :data:`SOURCES`, whether it was confirmed
    there, and a note (what is assumed when it was not)."""

    value: int | tuple | None
    source: str
    confirmed: bool = True
    note: str = ""


@dataclass(frozen=True)
class HardwareTarget:
    """A platform's limits. Counts per chip unless named per core; ``None`` values are not checked.

    ``neuron_models``: spikeforge neuron classes it runs (``()``: none: its units are not spiking neurons with
    state); ``layer_types``: ``"dense"``, ``"conv"``, ``"recurrent"``, ``"delay"``; ``max_layers``: neuron layers
    (Speck: one per core); ``inputs`` / ``hidden`` / ``outputs``: size caps of single-core devices (Xylo).
    """

    name: str
    description: str
    cores: Limit
    neurons_per_core: Limit
    synapses_per_core: Limit
    fan_in: Limit
    fan_out: Limit
    weight_bits: Limit
    state_bits: Limit
    max_delay: Limit
    neuron_models: Limit
    layer_types: Limit
    extra: dict[str, Limit] = field(default_factory=dict)


_ALL_SPIKING = ("LIF", "RLIF", "CubaLIF", "IF", "LI", "ALIF", "RALIF")

#: the one list of hardware targets: name -> limits (the CLI's ``--target`` choices, in this order)
TARGETS: dict[str, HardwareTarget] = {
    "loihi2": HardwareTarget(
        name="loihi2",
        description="Intel Loihi 2 (one chip)",
        cores=Limit(128, "loihi2-brief"),
        neurons_per_core=Limit(8192, "derived", False, "1 M neurons / 128 cores; the per-core figure is not published"),
        synapses_per_core=Limit(
            937_500, "derived", False, "120 M synapses / 128 cores; the real bound is the core's synaptic memory"
        ),
        fan_in=Limit(None, "loihi2-brief", False, "not published; bounded by the core's synaptic memory"),
        fan_out=Limit(None, "loihi2-brief", False, "not published"),
        weight_bits=Limit(8, "loihi1-paper", False, "Loihi 1's 8-bit weights; Loihi 2's not confirmed in its brief"),
        state_bits=Limit(24, "loihi1-paper", False, "Loihi 1's 24-bit membrane; Loihi 2's not confirmed"),
        max_delay=Limit(None, "loihi2-brief", False, "axonal/synaptic delay range not confirmed; not checked"),
        neuron_models=Limit(_ALL_SPIKING, "loihi2-brief", True, "neuron models are programmable (microcode)"),
        layer_types=Limit(("dense", "conv", "recurrent", "delay"), "loihi2-brief"),
    ),
    "akida": HardwareTarget(
        name="akida",
        description="BrainChip Akida 1.0 (AKD1000)",
        cores=Limit(80, "akida-v1", False, "80 neural processors per AKD1000 (product brief, not re-read here)"),
        neurons_per_core=Limit(None, "akida-v1", False, "not published per processor"),
        synapses_per_core=Limit(None, "akida-v1", False, "not published per processor"),
        fan_in=Limit(57334, "akida-v1", True, "FullyConnected input values (W x H x C)"),
        fan_out=Limit(None, "akida-v1", False, "not published"),
        weight_bits=Limit(4, "akida-v1", True, "1, 2 or 4 bits (8 only in the input layer)"),
        state_bits=Limit(4, "akida-v1", True, "activations 1, 2 or 4 bits; no membrane state"),
        max_delay=Limit(0, "akida-v1", True, "no synaptic delays"),
        neuron_models=Limit((), "akida-v1", True, "quantised ReLU activations (event-based CNN), no leaky neurons"),
        layer_types=Limit(("dense", "conv"), "akida-v1"),
    ),
    "xylo": HardwareTarget(
        name="xylo",
        description="SynSense Xylo Audio 2 (one SNN core)",
        cores=Limit(1, "rockpool-xylo"),
        neurons_per_core=Limit(1008, "rockpool-xylo", True, "1000 hidden + 8 output neurons"),
        synapses_per_core=Limit(
            None, "rockpool-xylo", False, "bounded by fan-in and fan-out, not published as a total"
        ),
        fan_in=Limit(32, "rockpool-xylo", True, "two input synapses, 16 pre-synaptic neurons each"),
        fan_out=Limit(64, "rockpool-xylo"),
        weight_bits=Limit(8, "rockpool-xylo"),
        state_bits=Limit(16, "rockpool-xylo", False, "16-bit synaptic and membrane state (not on the overview page)"),
        max_delay=Limit(0, "rockpool-xylo", True, "no synaptic delays"),
        neuron_models=Limit(("LIF", "RLIF", "CubaLIF", "LI"), "rockpool-xylo", True, "LIF with exponential synapses"),
        layer_types=Limit(("dense", "recurrent"), "rockpool-xylo"),
        extra={
            "inputs": Limit(16, "rockpool-xylo"),
            "hidden": Limit(1000, "rockpool-xylo"),
            "outputs": Limit(8, "rockpool-xylo"),
        },
    ),
    "speck": HardwareTarget(
        name="speck",
        description="SynSense Speck 2e (DYNAP-CNN core)",
        cores=Limit(9, "samna-speck2e", True, "9 convolutional layers, one per core"),
        neurons_per_core=Limit(None, "samna-speck2e", False, "0.32 M neurons per chip; per-layer memory not confirmed"),
        synapses_per_core=Limit(None, "samna-speck2e", False, "kernel memory per layer not confirmed"),
        fan_in=Limit(16 * 16 * 1024, "samna-speck2e", True, "kernel up to 16x16 over up to 1024 input features"),
        fan_out=Limit(None, "samna-speck2e", True, "each layer feeds at most 2 layers; per-neuron fan-out not capped"),
        weight_bits=Limit(8, "samna-speck2e"),
        state_bits=Limit(16, "samna-speck2e"),
        max_delay=Limit(0, "samna-speck2e", True, "no synaptic delays"),
        neuron_models=Limit(("IF", "LIF"), "samna-speck2e", True, "integrate-and-fire with an optional leak per layer"),
        layer_types=Limit(("dense", "conv"), "samna-speck2e", True, "dense layers map as convolutions"),
        extra={"neurons": Limit(320_000, "samna-speck2e"), "features": Limit(1024, "samna-speck2e")},
    ),
    "spinnaker2": HardwareTarget(
        name="spinnaker2",
        description="SpiNNaker2 (one chip)",
        cores=Limit(152, "spinnaker2-pe", False, "152 processing elements per chip (recalled, not re-read here)"),
        neurons_per_core=Limit(
            256,
            "spinnaker2-pe",
            False,
            "set by software and memory; 256 assumed (sPyNNaker's usual default on SpiNNaker 1)",
        ),
        synapses_per_core=Limit(None, "spinnaker2-pe", False, "set by the PE's SRAM; not published as a limit"),
        fan_in=Limit(None, "spinnaker2-pe", False, "software-defined"),
        fan_out=Limit(None, "spinnaker2-pe", False, "software-defined"),
        weight_bits=Limit(16, "spinnaker2-pe", False, "software-defined; 16-bit weights assumed"),
        state_bits=Limit(32, "spinnaker2-pe", False, "software-defined; 32-bit fixed-point state assumed"),
        max_delay=Limit(None, "spinnaker2-pe", False, "software-defined; not checked"),
        neuron_models=Limit(_ALL_SPIKING, "spinnaker2-pe", True, "neuron models run in software on the ARM cores"),
        layer_types=Limit(("dense", "conv", "recurrent", "delay"), "spinnaker2-pe"),
    ),
}

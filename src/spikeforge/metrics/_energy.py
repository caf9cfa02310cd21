"""Per-operation energy tables for rough energy *estimates* of spiking and equivalent dense networks.

The default table is Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 45 nm
process: 32-bit float add 0.9 pJ, multiply 3.7 pJ; 8-bit integer add 0.03 pJ, multiply 0.2 pJ; a 64-bit read from
an 8 KB SRAM 10 pJ (32 KB: 20 pJ, 1 MB: 100 pJ; off-chip DRAM 1.3-2.6 nJ).

Counting arithmetic alone flatters spiking networks: in the same table one SRAM read costs about ten float adds,
and a spiking network reads a weight for every synaptic event and reads and writes every membrane at every step.
Once memory access is counted, SNNs come out ahead only at low spike counts per synapse (Dampfhoffer et al., IEEE
TETCI 2023), and against an equally quantised ANN the spike rate must be well under a few percent (Yan et al.,
2024). Every picojoule figure here is an estimate from operation counts, not a measurement.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

__all__ = ["EnergyModel"]

_HOROWITZ = "Horowitz, ISSCC 2014, 45 nm"


@dataclass(frozen=True)
class EnergyModel:
    """Energy per operation in picojoules, replaceable by the user.

    The SNN estimate is ``ACs x add + MACs x (mul + add) + membrane updates x membrane_update``, plus, in the
    memory term, ``memory_read`` for every weight read (one per synaptic operation) and ``state_reads_writes``
    accesses per membrane update. The dense ANN estimate is ``MACs x (mul + add)`` plus one weight read per MAC.
    Both memory terms assume no reuse of weights between operations (a coarse, symmetric assumption).

    Args:
        add: energy of one addition (an accumulate, AC), pJ. Default 0.9 (32-bit float, Horowitz 2014).
        mul: energy of one multiplication, pJ. Default 3.7 (32-bit float, Horowitz 2014).
        membrane_update: energy of one neuron state update, pJ. Default ``None``: one multiply (leak) plus one add
            (integrate).
        memory_read: energy of one weight or state access, pJ. Default 10.0 (a 64-bit read from an 8 KB SRAM,
            Horowitz 2014); set 0 to count arithmetic only.
        state_reads_writes: memory accesses per membrane update (read and write back the membrane). Default 2.
        source: where the numbers come from (shown in reports).

    >>> e = EnergyModel.horowitz_45nm("int8")
    >>> e.add, e.mul, round(e.mac, 2)
    (0.03, 0.2, 0.23)
    >>> EnergyModel.from_dict({"add": 1.0, "mul": 2.0, "memory_read": 0}).membrane_cost
    3.0
    """

    add: float = 0.9
    mul: float = 3.7
    membrane_update: float | None = None
    memory_read: float = 10.0
    state_reads_writes: float = 2.0
    source: str = f"{_HOROWITZ}: 32-bit float add 0.9 pJ, mul 3.7 pJ; 8 KB SRAM read 10 pJ"

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "source":
                continue
            value = getattr(self, f.name)
            if value is None and f.name == "membrane_update":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"EnergyModel.{f.name}: expected a finite number of picojoules >= 0, got {value!r}")

    @property
    def mac(self) -> float:
        """Energy of one multiply-accumulate, pJ."""
        return self.mul + self.add

    @property
    def membrane_cost(self) -> float:
        """Arithmetic energy of one membrane update, pJ."""
        return self.mac if self.membrane_update is None else float(self.membrane_update)

    @classmethod
    def horowitz_45nm(cls, precision: Literal["fp32", "int8"] = "fp32") -> EnergyModel:
        """Horowitz's 45 nm figures for 32-bit float (``"fp32"``) or 8-bit integer (``"int8"``) arithmetic.

        The memory read stays one 8 KB SRAM access (10 pJ) per weight in both; packing several narrow weights
        into one access would lower it.
        """
        if precision == "fp32":
            return cls()
        if precision == "int8":
            return cls(
                add=0.03, mul=0.2, source=f"{_HOROWITZ}: 8-bit integer add 0.03 pJ, mul 0.2 pJ; 8 KB SRAM read 10 pJ"
            )
        raise ValueError(f"precision: expected 'fp32' or 'int8', got {precision!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnergyModel:
        """Build from a mapping such as ``{"add": 0.03, "mul": 0.2}``; keys left out keep the fp32 defaults.

        ``{"preset": "int8", ...}`` starts from another preset.
        """
        if not isinstance(data, dict):
            raise ValueError(f"energy table: expected a mapping of costs in pJ, got {type(data).__name__}")
        data = dict(data)
        base = cls.horowitz_45nm(data.pop("preset", "fp32"))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"energy table: unknown key(s) {unknown}; known: {sorted(known | {'preset'})}")
        if "source" not in data:
            data["source"] = "user table (defaults: " + base.source + ")"
        return cls(**{**asdict(base), **data})

    @classmethod
    def from_file(cls, path: str | Path) -> EnergyModel:
        """Read a JSON or YAML file holding the mapping that :meth:`from_dict` takes."""
        from .._files import read_json_or_yaml

        try:
            data = read_json_or_yaml(path, what="energy table")
        except FileNotFoundError:
            raise
        except Exception as err:  # a JSON or YAML syntax error: name the file
            if not isinstance(err, ValueError) and type(err).__module__.split(".")[0] != "yaml":
                raise
            raise ValueError(f"energy table {path}: not valid JSON or YAML ({err})") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

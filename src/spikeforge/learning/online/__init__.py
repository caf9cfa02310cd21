"""Gradients without storing the whole sequence: EventProp (exact gradients by the adjoint method, memory
proportional to the number of spikes) and online learning (e-prop, OTTT; memory independent of the sequence
length)."""

__all__: list[str] = []

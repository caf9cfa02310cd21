"""Ready-made networks built from a JSON-able config (what the CLI trains and what model files store)."""

from ._builders import DEFAULTS, MODELS, build_model, resolve_model_config

__all__ = ["DEFAULTS", "MODELS", "build_model", "resolve_model_config"]

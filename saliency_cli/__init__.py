"""saliency-cli: see why a small neural network made a decision."""

__version__ = "0.2.0"

__all__ = ["__version__", "load_model", "save_model"]


def __getattr__(name):
    # Lazy so that `saliency-cli --help` does not import numpy.
    if name in ("load_model", "save_model"):
        from .nn import modelfile

        return getattr(modelfile, name)
    raise AttributeError(name)

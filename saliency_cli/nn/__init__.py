"""The NumPy engine: stateless ops, layers, the sequential network, model files and training."""

"""The graph engine: nodes (one small class per op) and the `Graph` that runs them."""

from __future__ import annotations

from .activations import LeakyRelu, Relu, Sigmoid, Tanh
from .affine import AddTensors, BatchNormalization, Concat, ConstArith, Gemm, MatMul
from .base import Node
from .conv import Conv
from .network import Graph
from .pooling import AveragePool, GlobalAveragePool, MaxPool, ReduceMean
from .structure import Flatten, Identity, Reshape, Transpose

#: Node type (as written in a model file) -> class.
NODE_TYPES: dict[str, type[Node]] = {
    cls.type: cls
    for cls in (
        Conv,
        Gemm,
        MatMul,
        BatchNormalization,
        ConstArith,
        AddTensors,
        Concat,
        Relu,
        LeakyRelu,
        Sigmoid,
        Tanh,
        MaxPool,
        AveragePool,
        ReduceMean,
        GlobalAveragePool,
        Reshape,
        Flatten,
        Transpose,
        Identity,
    )
}

__all__ = ["NODE_TYPES", "Graph", "Node"]

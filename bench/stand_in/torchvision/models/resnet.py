"""The two classes Zennit's ResNet canonizer matches blocks by; nothing here is ever instantiated."""

from torch import nn


class BasicBlock(nn.Module):
    pass


class Bottleneck(nn.Module):
    pass

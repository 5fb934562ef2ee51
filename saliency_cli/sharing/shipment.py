"""The model as it travels to the workers: its file's bytes and their SHA-256, checked where it is opened.

A worker on another machine cannot read the client's model path; it builds the network from these bytes
(the same parameters bit for bit) and gives it the client's path and file digest, which the reports name.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Shipment:
    data: bytes  # the model file's bytes (modelfile.model_bytes)
    digest: str  # SHA-256 of `data`, checked before the bytes are read
    path: str | None  # what the client's network says of its file
    sha256: str | None

    def __repr__(self) -> str:
        return f"Shipment({len(self.data):,} bytes, sha256 {self.digest[:12]})"


def ship(net) -> Shipment:
    """`net` as bytes to send with the tasks."""
    from ..nn.modelfile import model_bytes

    data = model_bytes(net)
    return Shipment(data, hashlib.sha256(data).hexdigest(), getattr(net, "path", None), getattr(net, "sha256", None))


#: Networks built in this process, per thread (a network caches activations: threads never share one).
_OPENED = threading.local()


def unpack(shipment: Shipment):
    """The network of `shipment`, built once per thread and checked against its SHA-256."""
    if hashlib.sha256(shipment.data).hexdigest() != shipment.digest:
        raise ValueError(f"the model's bytes do not match their SHA-256 {shipment.digest[:12]}: damaged in transit")
    cache = getattr(_OPENED, "nets", None)
    if cache is None:
        cache = _OPENED.nets = {}
    net = cache.get(shipment.digest)
    if net is None:
        from ..nn.modelfile import model_from_bytes

        net = model_from_bytes(shipment.data)
        net.path, net.sha256 = shipment.path, shipment.sha256
        cache.clear()  # NOTE: one model per thread at a time: a worker serving many runs does not hoard them
        cache[shipment.digest] = net
    return net

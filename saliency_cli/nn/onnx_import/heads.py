"""Which tensor is explained: the logits before a final Softmax, LogSoftmax or Sigmoid, of the one output (or the
one `--output` names), or of scikit-learn classifier graphs' probabilities output (skl2onnx: label and
probabilities, with ZipMap, ArgMax or ArrayFeatureExtractor after the Softmax)."""

from __future__ import annotations

from .read import Refused

#: Ops skl2onnx (and others) put after the probabilities: walked through back to the Softmax or Sigmoid.
_AFTER = {"ZipMap", "Cast", "Identity", "Reshape", "Concat", "Sub", "Flatten", "Unsqueeze", "Squeeze", "Mul", "Add"}
_HEADS = {"Softmax", "LogSoftmax", "Sigmoid"}
#: The ops at an output that start that walk (skl2onnx's probabilities: a ZipMap, 1 - p and p concatenated, ...).
_START = {"ZipMap", "Concat", "Cast", "Identity"}


def pick_output(graph, writer: dict, output: str | None) -> str:
    """The name of the output tensor to explain (before any head is stripped)."""
    names = [o.name for o in graph.output]
    if output is not None:
        if output not in names and output not in writer:
            raise Refused(f"--output {output!r}: no such output (outputs: {', '.join(names)})"[:200])
        return output
    if len(names) == 1:
        return names[0]
    zipped = [n for n in names if n in writer and writer[n].op_type == "ZipMap"]
    probabilities = zipped or [n for n in names if "probab" in n.lower()]
    if len(probabilities) == 1:
        return probabilities[0]
    raise Refused(f"the graph has {len(names)} outputs ({', '.join(names)}): pick one with --output NAME"[:200])


def find_head(writer: dict, name: str, consts: set[str]):
    """The Softmax/LogSoftmax/Sigmoid node that ends the graph at `name` (through skl2onnx's post-processing),
    or None when the output is the logits themselves."""
    node = writer.get(name)
    if node is None:
        return None
    if node.op_type in _HEADS:
        return node
    if node.op_type not in _START:
        return None
    todo, seen = [node], set()
    while todo:
        node = todo.pop(0)
        for i in node.input:
            prev = writer.get(i)
            if prev is None or i in consts or id(prev) in seen:
                continue
            seen.add(id(prev))
            if prev.op_type in _HEADS:
                return prev
            if prev.op_type in _AFTER and len(seen) < 16:
                todo.append(prev)
    return None


def class_labels(writer: dict, name: str) -> list[str] | None:
    """The class labels a ZipMap at `name` carries (skl2onnx), else None."""
    node = writer.get(name)
    if node is None or node.op_type != "ZipMap":
        return None
    for a in node.attribute:
        if a.name == "classlabels_strings":
            return [s.decode("utf-8", "replace") for s in a.strings]
        if a.name == "classlabels_int64s":
            return [str(int(v)) for v in a.ints]
    return None

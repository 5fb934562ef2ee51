"""What each command's report shows in a figure: one probe's panels, in order, each titled with its method,
the method's settings and what is explained (the class, or the unit).

A probe's panels are its input (one per channel) and then each method's map (one per channel of the map).
Each panel is "input", "signed" (IG, LRP relevance, CAM before its ReLU, a feature map with negative values:
diverging around 0) or "unsigned" (|gradient|, SmoothGrad, CAM after its ReLU, channel-reduced maps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Panel:
    """One (h, w) map and its title lines; `values` None when there is nothing to draw (an LRP walk that
    stopped). A map at a coarser resolution than the input (CAM at its layer) covers the same area."""

    values: np.ndarray | None
    title: str
    kind: str  # "input", "signed" or "unsigned"
    input: np.ndarray | None = None  # (H, W) greyscale input, for --overlay
    group: str | None = None  # panels of one group (a method's channels) share a range with --scale own


def _short(name: str, limit: int = 14) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _class(report) -> str:
    """'class 3 (three)', with '(forced)' for a --target other than the prediction's choice."""
    t = report.target
    forced = ", forced" if report.target_forced and t != report.predicted else ""
    return f"class {t} ({_short(report.classes[t])}{forced})"


def _channel(c: int, channels: int) -> str:
    return f", ch {c}" if channels > 1 else ""


def _grey(report) -> np.ndarray:
    """The input as one (H, W) greyscale picture for --overlay: the mean over its channels."""
    return np.asarray(report.input, dtype=np.float64).mean(axis=0)


def input_panels(report) -> list[Panel]:
    """The input, one panel per channel, titled with the probe, its label and the prediction."""
    x = np.asarray(report.input)
    label = "" if report.label is None else f"label {report.label}, "
    p = float(report.probabilities[report.predicted])
    lines = f"{_short(report.source, 26)}\n{label}predicted {report.predicted} ({p:.2f})"
    return [Panel(x[c], f"input{_channel(c, len(x))}\n{lines}", "input") for c in range(len(x))]


def _maps(values: np.ndarray, title: str, what: str, kind: str, grey: np.ndarray) -> list[Panel]:
    """One panel per channel of a (C, h, w) map, all in one group (one range with --scale own)."""
    return [
        Panel(values[c], f"{title}\n{what}{_channel(c, len(values))}", kind, grey, group=title)
        for c in range(len(values))
    ]


#: saliency's report keys -> (figure title, signed)
_SALIENCY = {
    "vanilla": ("gradient |ds/dx|", False),
    "smoothgrad": ("SmoothGrad", False),
    "integrated_gradients": ("Integrated Gradients", True),
}


def _saliency_settings(key: str, settings: dict) -> str:
    if key == "smoothgrad":
        return f"{settings['samples']} copies, sigma {settings['sigma']:.3g}"
    if key == "integrated_gradients":
        pieces = settings.get("pieces")
        how = f"exact, {pieces} piece{'s' if pieces != 1 else ''}" if settings["quadrature"] == "exact" else None
        how = how or f"{settings['quadrature']}, {settings['steps']} steps"
        smooth = f", smooth {settings['smooth']['copies']}" if settings.get("smooth") else ""
        return f"{how}, baseline {_short(str(settings['baseline']), 10)}{smooth}"
    return ""


def _explained(report) -> str:
    """What a saliency report explains, short: 'logit of class 3 (three)', 'unit 5 of conv2'."""
    e = report.explained
    if report.score == "unit":
        return f"unit {','.join(map(str, e['unit_index']))} of {_short(e['layer'], 10)}"
    score = {"probability": "prob. of", "logit-diff": f"logit - logit {e.get('against')} of"}.get(report.score)
    return f"{score or 'logit of'} {_class(report)}"


def saliency_panels(report) -> list[Panel]:
    """Input, then vanilla, SmoothGrad and IG as the report has them (unsigned when reduced over channels)."""
    grey, what = _grey(report), _explained(report)
    panels = input_panels(report)
    for key, result in report.methods.items():
        name, signed = _SALIENCY[key]
        settings = _saliency_settings(key, result.settings)
        if report.reduce != "none":
            settings = f"{settings}, {report.reduce} over ch".lstrip(", ")
        title = f"{name}\n{settings}" if settings else name
        kind = "signed" if signed and report.reduce == "none" else "unsigned"
        panels += _maps(result.attribution, title, what, kind, grey)
    return panels


def _rule_settings(run, params: dict) -> str:
    """'eps 0.01', 'gamma 0.25, eps 0.01', 'alpha 2, beta 1', or the composite's name; then the --first-rule and
    --last-rule given, on a line of their own ('composite epsilon-plus\nlast alpha-beta')."""
    if run.rule is None:
        text = f"composite {run.composite.name}"
    else:
        settings = {k: v for k, v in run.rule.params().items() if k != "bias"}
        text = ", ".join(f"{k} {v:g}" for k, v in settings.items())
    placed = ", ".join(f"{where} {params[where]}" for where in ("first", "last") if params.get(where))
    return "\n".join(part for part in (text, placed) if part)


def lrp_panels(report) -> list[Panel]:
    """Input, then each rule's relevance R (signed); a rule whose walk stopped gets an empty panel."""
    grey, what = _grey(report), _class(report)
    panels = input_panels(report)
    channels = len(report.input)
    for name, run in report.runs.items():
        title = f"LRP {name}\n{_rule_settings(run, report.params)}"
        if run.relevance is None:
            panels += [Panel(None, f"{title}\nwalk stopped{_channel(c, channels)}", "signed") for c in range(channels)]
        else:
            panels += _maps(run.relevance, title, f"R of {what}", "signed", grey)
    return panels


#: cam's method names -> the figure's
_CAM = {"cam": "CAM", "gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++"}


def cam_panels(reports) -> list[Panel]:
    """Input, then for each method (one report each) its map before the ReLU (signed, at the layer's
    resolution) and after it (unsigned, upsampled bilinearly to the input)."""
    first = reports[0]
    grey, what = _grey(first), _class(first)
    panels = input_panels(first)
    for report in reports:
        name = _CAM.get(report.method, report.method)
        layer = f"at {_short(report.maps_layer['name'], 10)}"
        if report.smooth:
            layer += f", smooth {report.smooth['samples']}"
        raw, after = f"{name} before ReLU\n{layer}\n{what}", f"{name}\n{layer}, bilinear\n{what}"
        panels.append(Panel(report.raw, raw, "signed", grey, group=raw))
        panels.append(Panel(report.upsampled["bilinear"], after, "unsigned", grey, group=after))
    return panels


def features_panels(report) -> list[Panel]:
    """Input, then each channel of the layer's output (signed where a channel has negative values)."""
    grey = _grey(report)
    panels = input_panels(report)
    for k, values in enumerate(report.maps):
        kind = "signed" if float(values.min()) < 0 else "unsigned"
        title = f"{_short(report.name, 10)} ({report.type})\nchannel {k}\n[{values.min():.3g}, {values.max():.3g}]"
        panels.append(Panel(values, title, kind, grey, group=title))
    return panels

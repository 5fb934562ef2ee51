"""Which attribution methods apply to a model, and why not where one does not (for `models`)."""

from __future__ import annotations


def _exact(net) -> str | None:
    from ..methods.exact_ig import check_exact

    try:
        check_exact(net, net.logit_index)
    except ValueError as exc:
        return str(exc).split(";")[0].split("but ")[-1]
    return None


def methods_apply(net) -> list[dict]:
    """[{"method", "applies", "why"}]: the gradient family always; exact IG when every node is piecewise linear;
    CAM, Grad-CAM and LRP as `cost` decides."""
    from .cost import _cam_applies, _gradcam_applies, _lrp_applies

    rows = [(name, None) for name in ("saliency", "smoothgrad", "ig")]
    rows.append(("ig-exact", _exact(net)))
    rows += [("cam", _cam_applies(net)), ("gradcam", _gradcam_applies(net)), ("lrp", _lrp_applies(net))]
    spatial = None if any(len(s) == 3 for s in net.shapes) else "no layer with a spatial output"
    rows.append(("features", spatial))
    return [{"method": name, "applies": why is None, "why": why} for name, why in rows]

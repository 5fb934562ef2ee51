"""Attribution methods, one module (or subpackage) per family; they return arrays and never print.

- `gradients`: the gradient primitive, vanilla saliency, SmoothGrad, channel reductions.
- `integrated`: Integrated Gradients (quadratures, baselines, completeness) and SmoothGrad over IG.
- `exact_ig`: IG computed exactly, piece by piece, on piecewise-linear networks.
- `scores`: what is explained (logit, probability, logit difference, a unit of any layer).
- `lrp/`: Layer-wise Relevance Propagation: rules, first-layer and pooling rules, composites, the walk.
- `cam`: CAM, Grad-CAM and Grad-CAM++.  `features`: per-channel feature maps of a layer.

The public entry points are gathered in `saliency_cli.attribution`.
"""

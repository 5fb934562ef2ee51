"""Layer-wise Relevance Propagation.

- `rules`: the rules for dense and conv layers (epsilon, gamma, alpha-beta, z+), as small objects.
- `first`: first-layer rules (flat, w-square, z-box).  `pool`: pooling rules.
- `composites`: which rule applies to which layer, as data, with named presets.
- `walk`: the backward walk that applies them and keeps the per-layer conservation ledger.
"""

"""Figures to keep (`--figure FILE.png|.pdf|.svg`): matplotlib drawings of the same report objects the terminal
renderers take. matplotlib (the `figures` extra) is imported only here, and only when a figure is asked for.

- `backend`: the one import of matplotlib (Agg, no display), pinned settings and deterministic file bytes.
- `colours`: colour maps and ranges (signed maps diverging around 0, unsigned ones sequential from 0).
- `panels`: what each command's report shows, as a list of panels per probe.
- `grid`: probes as rows and panels as columns, each panel with its colour bar.
- `curves`: `evaluate`'s figure (deletion/insertion curves, MPRT per layer, metric means with intervals).
"""

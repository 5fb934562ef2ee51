"""What each command computes for a probe: one module per command's report, as plain result objects.

- `probe`: the shared probe report (model info, prediction, top-k pixels, the JSON fields they share).
- `saliency` (+ `convergence`), `lrp`, `cam`: the reports of those commands.
- `cost`: measured time and memory of every method.
Reports call `methods` and `nn`; they never print (rendering is `render/`'s job).
"""

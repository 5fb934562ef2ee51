"""`saliency-cli explore`: a keyboard-driven Textual app joining the reports on a set of probes.

`samples` builds the probe set, `state` holds what is selected and caches results, `compute` turns
reports into what a panel shows, `views` draws it with the renderers of `render/`, `widgets` and `app`
are the Textual parts (Textual is only imported there; it is the optional extra `explore`).
"""

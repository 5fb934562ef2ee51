"""Evaluation of attribution methods over many probes: localisation, faithfulness and sanity metrics.

`metrics` registers every metric (name, family, direction, definition); `localisation`, `faithfulness`
and `sanity` compute them per probe as batched array functions; `probes` builds the probe set, `methods`
adapts `saliency_cli.methods` to one signature, `run` drives the whole evaluation and `summary` turns
per-probe values into means with bootstrap intervals. Nothing here prints or knows about Click or Rich.
"""

"""A stand-in for torchvision in the benchmark venv: Zennit imports torchvision.models.resnet at load time and
uses it only in its ResNet canonizer, which the references here do not use (see bench/make_lrp_references.py)."""

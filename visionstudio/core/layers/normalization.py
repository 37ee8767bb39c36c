"""Normalisation layers beyond BatchNorm: GroupNorm, LayerNorm over channels and
InstanceNorm2d."""

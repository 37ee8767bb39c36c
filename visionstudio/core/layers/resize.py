"""Layers that change an image's size or pass it through: transposed convolution,
upsampling, zero padding and adaptive pooling."""

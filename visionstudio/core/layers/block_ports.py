"""The kinds that exist only to give a block its shape: a block's input ports, its
output, and the instance node that stands for a block on the canvas."""

"""backprop-ninja: a terminal tutor for writing the backward pass of an MLP by hand."""

__version__ = "0.1.0"

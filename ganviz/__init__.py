"""ganviz: watch a GAN train, one update at a time."""
__version__ = "0.1.0"

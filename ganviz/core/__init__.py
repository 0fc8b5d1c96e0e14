"""Pure PyTorch + numpy core: no Qt import anywhere below this package."""

"""aligntax: measure, shape and prove what alignment content in SFT data does to a model."""

__version__ = "0.1.0"

"""dfwatch: a research crawler for the online communities around deepfake tools."""

__version__ = "0.1.0"

"""rvrota: scheduling service for mobile shared workers' homes."""

__version__ = "0.1.0"

"""The floor under every package: settings, the service clock, logging and metrics.

Everything may import ``core``; ``core`` imports no other package of rvrota.
"""

"""Faust stream processors: topics, records, agents."""

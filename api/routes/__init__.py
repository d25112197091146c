"""Routers of the versioned API (/api/v1) and the unversioned probes."""

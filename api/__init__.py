"""HTTP API (FastAPI) and web pages."""

"""REST API (FastAPI) under /api, mounted on both portal backends."""

"""The FastAPI service. Not built yet: see the Trip-planning API issue."""

"""The ``/v1`` API routers, plus health and metrics."""

from appliance.api.routes import audit, datasets, health, users

ROUTERS = (health.router, datasets.router, audit.router, users.router)

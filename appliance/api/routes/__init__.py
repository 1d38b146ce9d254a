"""The ``/v1`` API routers, plus health and metrics."""

from appliance.api.routes import audit, datasets, exports, health, jobs, models, users

ROUTERS = (health.router, datasets.router, jobs.router, models.router, exports.router,
           audit.router, users.router)

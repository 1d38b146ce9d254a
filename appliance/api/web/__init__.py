"""The web console: server-rendered pages over the same services as the API."""

from pathlib import Path

from appliance.api.web import audit, auth, console, datasets, users

STATIC = Path(__file__).parent / "static"
ROUTERS = (auth.router, datasets.router, audit.router, users.router)

__all__ = ["ROUTERS", "STATIC", "audit", "console"]

"""The web console: server-rendered pages over the same services as the API."""

from pathlib import Path

from appliance.api.web import audit, auth, chat, console, datasets, feedback, training, users

STATIC = Path(__file__).parent / "static"
ROUTERS = (
    auth.router, datasets.router, training.router, chat.router, audit.router, users.router,
    feedback.router,
)

__all__ = ["ROUTERS", "STATIC", "audit", "console"]

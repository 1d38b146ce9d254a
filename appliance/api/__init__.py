"""The HTTP service and web console (issue 7). ``create_app`` builds the ASGI app; see main.py."""

from appliance.api.main import create_app

__all__ = ["create_app"]

"""The HTTP service and web console (issue 7). ``create_app`` builds the ASGI app; see main.py."""

# torch's runtime is loaded before regopy's by the package root (appliance/__init__.py).
from appliance.api.main import create_app

__all__ = ["create_app"]

"""The HTTP service and web console (issue 7). ``create_app`` builds the ASGI app; see main.py."""

# Before anything loads the policy engine: torch's runtime must be in the process before regopy's
# (see appliance.training.preload_torch_runtime); ingest (NER) and predict load torch later.
import appliance.training  # noqa: F401, I001

from appliance.api.main import create_app

__all__ = ["create_app"]

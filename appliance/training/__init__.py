"""Training: jobs, the worker process, fine-tuning (LoRA or full), metrics, models, exports.

The ML core (:mod:`.engine`) turns records held in memory into a trained model's weights as bytes;
it never touches the vault or the disk. The job layer feeds it through the gate and keeps what it
returns encrypted in the vault.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os


def preload_torch_runtime() -> None:
    """Load torch's ``libc10`` before anything loads regopy's ``librego_shared.so``.

    With both in one process, importing torch *after* regopy corrupts the heap (glibc aborts with
    "double free or corruption"); loading libc10 first avoids it, costs about a millisecond, and
    imports no Python module. It must run before the policy engine is loaded, so the package
    root (``appliance/__init__.py``) is the right caller; calling it here protects processes that
    import training first. Loading it after regopy does not help (nor harm).
    """
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return
    library = os.path.join(spec.submodule_search_locations[0], "lib", "libc10.so")
    if os.path.exists(library):
        ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)


preload_torch_runtime()

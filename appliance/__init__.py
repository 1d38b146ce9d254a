"""The appliance: an air-gapped, on-prem service for regulated data.

Importing the package forces every library into offline mode before any of them is imported
(invariant 1 in DESIGN.md: nothing leaves the machine). tldextract reads this variable at import
time, so it must be set here, first.
"""

import os as _os

for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    _os.environ[_name] = _value
# Quiet by default (an operator may still turn them up): no progress bars from library loaders.
_os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
_os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

__version__ = "0.1.0"


def _preload_torch_runtime() -> None:
    """Load torch's ``libc10`` before anything loads regopy's ``librego_shared.so``.

    With both in one process, importing torch *after* regopy corrupts the heap (glibc aborts with
    "free(): invalid pointer"); loading libc10 first avoids it, costs about a millisecond and
    imports no Python module. See appliance.training.preload_torch_runtime.
    """
    import ctypes
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return
    library = _os.path.join(spec.submodule_search_locations[0], "lib", "libc10.so")
    if _os.path.exists(library):
        ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)


_preload_torch_runtime()

# transformers' deprecation notices are for library authors, not for an operator's terminal.
__import__("warnings").filterwarnings(
    "ignore", category=FutureWarning, module=r"transformers(\.|$)"
)

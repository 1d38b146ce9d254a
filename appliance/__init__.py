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

__version__ = "0.1.0"

"""The campaign generation worker: ``python -m appliance.feedback.worker CAMPAIGN_ID --home HOME``.

Started by :func:`appliance.feedback.generation.start_worker` (and restarted by
:func:`~appliance.feedback.generation.recover_campaigns`) in a session of its own, like a
training worker; it runs :func:`~appliance.feedback.generation.generate_candidates` and exits.
Its output goes nowhere: progress and the outcome are in the campaign's row.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m appliance.feedback.worker")
    parser.add_argument("campaign_id")
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    from appliance.process import no_core_dumps

    no_core_dumps()
    # torch before the context: the policy engine's native library must load after torch's
    from appliance.training.engine import quiet_libraries

    quiet_libraries()
    from appliance.context import open_context
    from appliance.feedback.generation import generate_candidates
    from appliance.feedback.store import OPEN

    ctx = open_context(args.home)
    try:
        info = generate_candidates(ctx, args.campaign_id)
    finally:
        ctx.close()
    return 0 if info is None or info.state == OPEN else 1


if __name__ == "__main__":
    sys.exit(main())

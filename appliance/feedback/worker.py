"""The campaign generation worker: ``python -m appliance.feedback.worker CAMPAIGN_ID --home HOME``.

Started by :func:`appliance.feedback.generation.start_worker` (and restarted by
:func:`~appliance.feedback.generation.recover_campaigns`) in a session of its own, like a
training worker; it runs :func:`~appliance.feedback.generation.generate_candidates` and exits.
Its output goes nowhere: progress and the outcome are in the campaign's row.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from appliance.context import Context


def main(argv: Sequence[str] | None = None) -> int:
    from appliance.process import run_worker

    def run(ctx: Context, campaign_id: str) -> bool:
        from appliance.feedback.generation import generate_candidates
        from appliance.feedback.store import OPEN

        info = generate_candidates(ctx, campaign_id)
        return info is None or info.state == OPEN

    return run_worker("appliance.feedback.worker", "campaign_id", argv, run)


if __name__ == "__main__":
    sys.exit(main())

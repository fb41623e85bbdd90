"""notify's collection names and the indexes its repositories' queries rely on."""

from __future__ import annotations

from gridloop_common.mongo import IndexSpec

NOTICES = "notices"
BATCHES = "batches"
REPORTERS = "reporters"
SUBSCRIPTIONS = "subscriptions"

# Every query a worker repeats is narrow by construction (an equality prefix and a bounded range
# on an index): the MongoDB stand-in decodes every candidate an index yields before `limit`.
INDEXES = [
    IndexSpec(NOTICES, [("status", 1), ("updated_at", 1)]),
    IndexSpec(NOTICES, [("case_id", 1), ("created_at", 1)]),
    # The claim query: due batches of one lane, oldest first.
    IndexSpec(BATCHES, [("lane", 1), ("due_at", 1)]),
    # A sweep's first look: due batches of any lane.
    IndexSpec(BATCHES, [("due_at", 1)]),
    # Pages of a notice's recipients, and the expansion's "is anything still open".
    IndexSpec(BATCHES, [("notice_id", 1), ("first_seq", 1)]),
    IndexSpec(BATCHES, [("notice_id", 1), ("open", 1)]),
    IndexSpec(REPORTERS, [("linked_to", 1)]),
    IndexSpec(SUBSCRIPTIONS, [("events", 1)]),
    IndexSpec(SUBSCRIPTIONS, [("created_at", 1)]),
]

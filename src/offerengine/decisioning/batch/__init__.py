"""Batch decisioning: decide for every profile of a file, honouring caps across the batch.

Two phases. **Ranking** (in-process, or on a Dask cluster): profiles are grouped by the values of
the facts their activities' rules read — a tier, a route — so that calendar, eligibility and
ranking run once per group, not once per profile; model ranking draws each profile's rates in one
numpy call per group. **Allocation** (here): per activity, in the order given, each profile takes
its best candidates; an offer whose global decision cap has fewer units left than profiles wanting
it goes to the highest scores (Gale–Shapley with profiles proposing: a profile bumped by a higher
score moves on to its next candidate; equal scores go to the earlier row). Per-profile caps and
de-duplication across activities hold as in a request. The counts are then taken from the live
counters — atomically, never past a limit: units live decisions took meanwhile are taken from the
lowest scores, who get the fallback — and the decisions are recorded (unless a dry run) so that
feedback can name them.

One module per step, in the order a run takes them:

- ``_plan``: what every ranking worker needs (picklable), and the activities a run names;
- ``_grouping``: profiles grouped by the values their rules read, each group judged once;
- ``_ranking``: each profile's candidates, best first, here or on Dask workers;
- ``_allocation``: the candidates shared out under the caps and de-duplication;
- ``_counters``: the live counters in bulk — limits read before, counts taken after;
- ``_files``: the profiles file read, the decisions file written (and the decision rows);
- ``_run``: the whole run, timed.
"""

from offerengine.decisioning.batch._allocation import Limits, allocate
from offerengine.decisioning.batch._counters import (
    BatchCounters,
    RedisBatchCounters,
    SqlBatchCounters,
)
from offerengine.decisioning.batch._files import read_profiles
from offerengine.decisioning.batch._ranking import CandidateLists
from offerengine.decisioning.batch._run import Outcome, decide_batch, describe

__all__ = [
    "BatchCounters",
    "CandidateLists",
    "Limits",
    "Outcome",
    "RedisBatchCounters",
    "SqlBatchCounters",
    "allocate",
    "decide_batch",
    "describe",
    "read_profiles",
]

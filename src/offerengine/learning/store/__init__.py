"""Where contextual bandits keep what they learnt, and how they learn it.

**Versions.** Each line of an activity's bandit (:mod:`offerengine.learning.policy`) has versions
in ``learning_models``; one is active. When the activity's settings change, the next training
round starts a new version — from the previous one's state when the features are the same, else
from nothing — and keeps the old one, which :func:`restore` can bring back.

**Logs.** Every decision a bandit ranks writes, per proposed item, a ``decision_logs`` row (behind
the answer, with the decision): the candidates it chose from, the propensity of the choice, the
feature vectors, the version that chose. Enough to learn from, and to evaluate any other policy
offline (:func:`logged`, :mod:`offerengine.learning.evaluate`).

**Learning.** A round (:func:`train`) reads the activity's logs whose reward window has closed
since the version's cursor, joins the feedback events about each proposed offer within the window, and
updates the arm of each proposed offer with the reward (0 when nothing followed). A round is one
transaction that moves the cursor with the state: a concurrent round (another worker) that moved
it first wins, and this one is dropped, so no decision is learnt twice.

The parts, behind this facade:

- :mod:`._serving`: the active versions as workers serve them (:class:`ModelCache`,
  :class:`Served`, :func:`fresh`, :func:`model_of`)
- :mod:`._logs`: the logged proposals with their rewards (:func:`logged`), and retention
  (:func:`prune`)
- :mod:`._training`: the bandits of a snapshot (:func:`lines`) and training rounds
  (:func:`train`, :class:`Round`, :func:`active`)
- :mod:`._versions`: the admin's view: :func:`versions`, :func:`get_version`, :func:`summary`,
  :func:`restore`
"""

from offerengine.learning.store._logs import BATCH, WRITE_LAG, logged, prune
from offerengine.learning.store._serving import ModelCache, Served, fresh, model_of
from offerengine.learning.store._training import Round, active, lines, train
from offerengine.learning.store._versions import get_version, restore, summary, versions

__all__ = [
    "BATCH",
    "WRITE_LAG",
    "ModelCache",
    "Round",
    "Served",
    "active",
    "fresh",
    "get_version",
    "lines",
    "logged",
    "model_of",
    "prune",
    "restore",
    "summary",
    "train",
    "versions",
]

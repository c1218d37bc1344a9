"""Human verification in Label Studio: push candidates, collect K verdicts each, agreement, adjudication.

Imports the core only. Entry points (each takes a Workspace and a :class:`Connection`):
:func:`serve`/:func:`stop`/:func:`connection`, :func:`push`, :func:`pull`, :func:`adjudicate`,
:func:`create_reviewers`, :func:`review_status`; agreement maths in :mod:`.agreement`.
"""

from .adjudicate import adjudicate
from .agreement import agreement_report, cohen_kappa, fleiss_kappa, krippendorff_alpha
from .client import LabelStudioAuthError, LabelStudioClient, LabelStudioError
from .consensus import Consensus, decide
from .pull import PullReport, apply_consensus, pull
from .push import PushReport, push, push_candidates
from .server import Connection, connection, serve, stop
from .status import ReviewStatus, review_status
from .users import create_reviewers, reviewer_client

__all__ = [
    "adjudicate", "agreement_report", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha", "LabelStudioAuthError",
    "LabelStudioClient", "LabelStudioError", "Consensus", "decide", "PullReport", "apply_consensus", "pull",
    "PushReport", "push", "push_candidates", "Connection", "connection", "serve", "stop", "ReviewStatus",
    "review_status", "create_reviewers", "reviewer_client",
]

"""How well a generated work item follows Done Means Tested: shared by the work-item fakes.

Real teams are mostly compliant with a tail of specific failures, not failing
every rule at random. Two thirds of the items follow every rule; the rest miss
one or two, each kind of failure represented.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FAILURES = (
    "ac_missing",
    "ac_not_testable",
    "no_unit_task",
    "unit_not_done",
    "low_coverage",
    "no_pr",
    "no_ci",
    "no_signoff",
)


@dataclass(frozen=True)
class DmtProfile:
    ac_quality: str | None  # "Testable", "Not Testable", "Missing" or None (field empty)
    unit_test_task: bool
    unit_testing: str | None  # "Done", "In Progress", "Not Started", "N/A" or None
    coverage: float | None
    has_pr: bool
    has_ci: bool
    signed_off: bool


def draw_profile(rng: random.Random, *, done: bool, started: bool, compliant_share: float = 0.66) -> DmtProfile:
    failures: set[str] = set()
    if rng.random() >= compliant_share:
        failures.update(rng.sample(FAILURES, k=rng.choice([1, 1, 2])))
    ac = "Testable"
    if "ac_missing" in failures:
        ac = rng.choice(["Missing", None])
    elif "ac_not_testable" in failures:
        ac = "Not Testable"
    if done:
        unit = (
            rng.choice(["In Progress", "Not Started", None])
            if "unit_not_done" in failures
            else rng.choice(["Done"] * 12 + ["N/A"])
        )
    elif started:
        unit = rng.choice(["In Progress", "Done", "Not Started"])
    else:
        unit = rng.choice(["Not Started", None])
    coverage = round(rng.uniform(35, 78), 1) if "low_coverage" in failures else round(rng.uniform(80.5, 97.5), 1)
    if not started:
        coverage = None
    has_pr = started and "no_pr" not in failures
    return DmtProfile(
        ac_quality=ac,
        unit_test_task="no_unit_task" not in failures,
        unit_testing=unit,
        coverage=coverage,
        has_pr=has_pr,
        has_ci=has_pr and "no_ci" not in failures,
        signed_off=done and "no_signoff" not in failures,
    )

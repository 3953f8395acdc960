"""The tenant a demo document is for, and the size profiles that shape it:
how many schools of which kind and language, how many learners, class sizes
and staffing ratios."""

from __future__ import annotations

from typing import Literal

import msgspec

from core.model import TenantKind

SizeName = Literal["small", "city"]


class TenantSpec(msgspec.Struct, frozen=True):
    """The tenant a generated document is for."""

    slug: str
    name: str
    kind: TenantKind


DEMO_TENANT = TenantSpec(slug="kuusikko", name="Kuusikon kaupunki", kind="municipality")
#: A second, small tenant for isolation demos and tests.
SECOND_TENANT = TenantSpec(slug="koivula", name="Koivulan kunta", kind="municipality")
DEFAULT_SEED = 2026


# ---- shape of a document, by size -------------------------------------------------------


class _Profile(msgspec.Struct, frozen=True, kw_only=True):
    finnish_comprehensive: int
    swedish_comprehensive: int
    finnish_upper: int
    swedish_upper: int
    comprehensive_learners: int
    upper_learners: int
    class_size: float
    #: grades 7-9 learners per subject teacher
    learners_per_subject_teacher: float
    #: learners per school assistant ("staff" role)
    learners_per_assistant: float
    postal_codes: int


_PROFILES: dict[str, _Profile] = {
    "small": _Profile(
        finnish_comprehensive=1,
        swedish_comprehensive=0,
        finnish_upper=0,
        swedish_upper=0,
        comprehensive_learners=200,
        upper_learners=0,
        class_size=10.0,
        learners_per_subject_teacher=16.0,
        learners_per_assistant=150.0,
        postal_codes=3,
    ),
    "city": _Profile(
        finnish_comprehensive=28,
        swedish_comprehensive=4,
        finnish_upper=7,
        swedish_upper=1,
        comprehensive_learners=21_400,
        upper_learners=3_600,
        class_size=21.0,
        learners_per_subject_teacher=10.0,
        learners_per_assistant=40.0,
        postal_codes=24,
    ),
}

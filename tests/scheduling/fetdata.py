"""Where the fet-data examples are, and a clear skip where they are not.

fet-data is AGPL: its files are read from the installed Debian package
(`apt-get install fet fet-data`, done by `.ci/run`), never copied here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path("/usr/share/doc/fet-data/examples")

#: the issue's public comparison set
PUBLIC_SET = (
    "FET-5-official/Greece/Vartholomio/2008-2009.fet",
    "FET-5-official/Romania/Pedagogic-High-School-Tg-Mures/2007-2008_sem1-a.fet",
    "FET-6-official/Germany/secondary-school-1/using_subactivities_constraints/German_subact_constr.fet",
    "FET-5-official/Hungary/Varosmajori_Gimnazium_Budapest/vmg-20180901b-2.fet",
    "FET-5-official/Germany/secondary-school-2/GYR.fet",
    "FET-5-official/Spain/1-school/school.fet",
)


def example(relative: str) -> Path:
    """The path of one example file, or skip the test saying what is missing."""
    path = EXAMPLES / relative
    if not path.exists():
        pytest.skip(f"fet-data is not installed ({path} missing): apt-get install fet-data")
    return path


def all_examples() -> list[Path]:
    if not EXAMPLES.exists():
        return []
    return sorted(EXAMPLES.rglob("*.fet"))


def fet_cl() -> str:
    """The fet-cl binary, or skip."""
    found = shutil.which("fet-cl")
    if found is None:
        pytest.skip("fet-cl is not installed: apt-get install fet")
    return found

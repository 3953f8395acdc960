"""What people are called and how to reach them: Faker name and street pools,
the ASCII folding that turns names into usernames, and phone numbers and
street addresses drawn from the document's random stream."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from random import Random

import msgspec
from faker import Faker

_POOL_SIZE = 3000
_STREET_POOL_SIZE = 1500


# ---- name pools ---------------------------------------------------------------------------


class _Pools(msgspec.Struct, frozen=True):
    female: dict[str, tuple[str, ...]]
    male: dict[str, tuple[str, ...]]
    family: dict[str, tuple[str, ...]]
    street: dict[str, tuple[str, ...]]


@functools.lru_cache(maxsize=4)
def _pools(seed: int) -> _Pools:
    """Names and street names per locale ("fi", "sv"), drawn once from seeded
    Faker instances; popular names recur as often as Faker makes them."""
    female: dict[str, tuple[str, ...]] = {}
    male: dict[str, tuple[str, ...]] = {}
    family: dict[str, tuple[str, ...]] = {}
    street: dict[str, tuple[str, ...]] = {}
    for key, locale in (("fi", "fi_FI"), ("sv", "sv_SE")):
        fake = Faker(locale)
        fake.seed_instance(seed)
        female[key] = tuple(str(fake.first_name_female()) for _ in range(_POOL_SIZE))
        male[key] = tuple(str(fake.first_name_male()) for _ in range(_POOL_SIZE))
        family[key] = tuple(str(fake.last_name()) for _ in range(_POOL_SIZE))
        street[key] = tuple(str(fake.street_name()) for _ in range(_STREET_POOL_SIZE))
    return _Pools(female=female, male=male, family=family, street=street)


# ---- usernames ----------------------------------------------------------------------------

#: a tenant slug, which ends every username ("matti.virtanen@kuusikko")
_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,39}$")
_FOLD = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
     " ": "-", "_": "-"}
)  # fmt: skip
_NOT_LOCAL = re.compile(r"[^a-z0-9-]+")
_DASHES = re.compile(r"-{2,}")


def _fold(text: str) -> str:
    """Lowercase ASCII for a username: ä→a, ö→o, å→a, é→e; spaces become
    hyphens; anything else outside [a-z0-9-] is dropped."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_FOLD))
    kept = _NOT_LOCAL.sub("", "".join(c for c in decomposed if not unicodedata.combining(c)))
    return _DASHES.sub("-", kept).strip("-")


def _local_parts(names: Iterable[tuple[str, str]]) -> list[str]:
    """The local part of each (given, family) name's username and email:
    "given.family" folded to ASCII, numbered from the second of a kind on
    ("matti.virtanen2")."""
    taken: dict[str, int] = {}
    parts: list[str] = []
    for given, family in names:
        base = f"{_fold(given) or 'x'}.{_fold(family) or 'x'}"
        n = taken.get(base, 0) + 1
        taken[base] = n
        parts.append(base if n == 1 else f"{base}{n}")
    return parts


# ---- phones and addresses -----------------------------------------------------------------

_MOBILE_PREFIXES = ("40", "41", "44", "45", "50")


def _phone_number(rng: Random) -> str:
    """A Finnish mobile number, "+358 40 123 4567"."""
    prefix = rng.choice(_MOBILE_PREFIXES)
    return f"+358 {prefix} {rng.randrange(100, 1000)} {rng.randrange(1000, 10000)}"


def _street_address(
    rng: Random, streets: Sequence[str], postal_codes: Sequence[str], street_postal: dict[str, str]
) -> tuple[str, str]:
    """A (street address, postal code) on one of `streets`; a street keeps the
    postal code it was first given in `street_postal`."""
    street = rng.choice(streets)
    postal = street_postal.setdefault(street, rng.choice(postal_codes))
    number = rng.randrange(1, 120)
    flat = rng.random()
    letter = rng.choice("ABCDEF")
    door = rng.randrange(1, 40)
    if flat < 0.45:
        return f"{street} {number} {letter} {door}", postal
    if flat < 0.6:
        return f"{street} {number} as {door}", postal
    return f"{street} {number}", postal

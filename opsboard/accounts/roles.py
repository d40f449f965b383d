"""The four roles and their order. Framework-free so that any layer can compare roles.

Each role includes everything the roles below it may do. Two pseudo-roles sit outside
the ladder: ``PUBLIC`` (no login needed: the login page, /healthz) and ``AUTHENTICATED``
(any signed-in user, even one without a role: their own password page).
"""

from __future__ import annotations

VIEWER = "viewer"
RESPONDER = "responder"
EDITOR = "editor"
ADMIN = "admin"

PUBLIC = "public"
AUTHENTICATED = "authenticated"

RANKS: dict[str, int] = {VIEWER: 10, RESPONDER: 20, EDITOR: 30, ADMIN: 40}
LADDER: tuple[str, ...] = tuple(sorted(RANKS, key=RANKS.__getitem__))
DECLARABLE = frozenset({*RANKS, PUBLIC, AUTHENTICATED})


def rank_of(role: str | None) -> int:
    """The rank of a role; 0 for no role."""
    return RANKS.get(role or "", 0)


def satisfies(held: str | None, required: str) -> bool:
    """Whether a user holding ``held`` may do what needs ``required``."""
    if required not in DECLARABLE:
        raise ValueError(f"unknown role {required!r}")
    if required == PUBLIC:
        return True
    if required == AUTHENTICATED:
        return True
    return rank_of(held) >= RANKS[required]


def below(required: str) -> list[str | None]:
    """Every role that does not satisfy ``required``, including no role at all."""
    return [None, *[role for role in LADDER if rank_of(role) < rank_of(required)]]

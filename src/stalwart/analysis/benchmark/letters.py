"""Compact letter display: groups that share a letter are not significantly different.

statsmodels has no letter display, so this is written here: the insert-and-absorb
algorithm of Piepho (2004, "An algorithm for a letter-based representation of
all-pairwise comparisons", J. Comput. Graph. Stat. 13(2)).

Each letter is a set of groups (a column of the display). Start with one letter holding
every group. For each significantly different pair (i, j), every letter holding both is
split in two, one without i and one without j (*insert*); then every letter that is a
subset of another is dropped (*absorb*). At the end no letter holds a significant pair,
and every non-significant pair shares a letter. Letters are named ``a, b, ...`` in the
order of the highest mean each holds, so ``a`` marks the best groups when higher is
better.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence


def letter_names() -> Iterable[str]:
    """a..z, A..Z, then a1..z1, A1..Z1, a2, ..."""
    alphabet = string.ascii_lowercase + string.ascii_uppercase
    yield from alphabet
    suffix = 1
    while True:
        for ch in alphabet:
            yield f"{ch}{suffix}"
        suffix += 1


def _absorb(columns: list[frozenset[int]]) -> list[frozenset[int]]:
    """Drop duplicates and every column contained in another one."""
    unique = list(dict.fromkeys(columns))
    return [c for c in unique if not any(c < other for other in unique)]


def compact_letters(
    groups: Sequence[str],
    means: Sequence[float],
    different: Iterable[tuple[str, str]],
) -> dict[str, str]:
    """Letters of each group, given the pairs of groups that differ significantly."""
    index = {g: i for i, g in enumerate(groups)}
    columns: list[frozenset[int]] = [frozenset(range(len(groups)))]
    for a, b in different:
        i, j = index[a], index[b]
        split: list[frozenset[int]] = []
        for col in columns:
            if i in col and j in col:
                split += [col - {i}, col - {j}]
            else:
                split.append(col)
        columns = _absorb(split)
    by_mean = sorted(range(len(groups)), key=lambda k: -means[k])
    rank = {k: pos for pos, k in enumerate(by_mean)}
    columns.sort(key=lambda col: min(rank[k] for k in col))
    letters = {g: "" for g in groups}
    for name, col in zip(letter_names(), columns, strict=False):
        for k in sorted(col, key=lambda k: rank[k]):
            letters[groups[k]] += name
    return letters

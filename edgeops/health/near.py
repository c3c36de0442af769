"""Near duplicates: groups of images whose backbone features are at least ``threshold`` apart in
cosine similarity (rows are L2-normalised, so a dot product), joined transitively."""

from __future__ import annotations

import numpy as np

BLOCK = 1024  # rows compared at once: at most BLOCK x n similarities in memory
HELD_OUT = frozenset({"validation", "test"})


def straddles(splits: set[str]) -> bool:
    """Images in these splits straddle train and a held-out split: the evaluation sees what the
    model was trained on (unlabelled images have no split: "")."""
    return "train" in splits and bool(splits & HELD_OUT)


def near_pairs(x: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """(i, j, similarity) with i < j for every pair at or above ``threshold``."""
    out: list[tuple[int, int, float]] = []
    n = len(x)
    for start in range(0, n, BLOCK):
        sims = x[start : start + BLOCK] @ x.T
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if i < c:
                out.append((i, c, float(sims[r, c])))
    return out


def groups(n: int, pairs: list[tuple[int, int, float]]) -> list[tuple[list[int], float]]:
    """Connected groups of the pairs (members sorted) with their lowest joining similarity,
    largest groups first."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in pairs:
        parent[find(i)] = find(j)
    members: dict[int, list[int]] = {}
    lowest: dict[int, float] = {}
    for i, _j, s in pairs:
        root = find(i)
        lowest[root] = min(lowest.get(root, 1.0), s)
    for i in range(n):
        root = find(i)
        if root in lowest:
            members.setdefault(root, []).append(i)
    out = [(sorted(m), lowest[root]) for root, m in members.items()]
    out.sort(key=lambda g: (-len(g[0]), g[0][0]))
    return out

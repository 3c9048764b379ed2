"""Comparing two training updates of the same weights, variable by variable, in norm."""

import numpy as np


def compare(names, before, reference, other) -> dict:
    """Relative norm differences of the updates: worst variable, and all variables together.

    For each variable, ||other - reference|| / ||reference - before||: how far the second update
    lands from the first, relative to the size of the first.
    """
    per_variable = {}
    total_diff, total_update = 0.0, 0.0
    for name, start, a, b in zip(names, before, reference, other, strict=True):
        update = np.linalg.norm((a - start).astype(np.float64))
        diff = np.linalg.norm((a - b).astype(np.float64))
        total_diff, total_update = total_diff + diff**2, total_update + update**2
        if update > 0:
            per_variable[name] = diff / update
    worst = max(per_variable, key=per_variable.get)
    return {
        "max_relative_diff": per_variable[worst],
        "worst_variable": worst,
        "median_relative_diff": float(np.median(list(per_variable.values()))),
        "overall_relative_diff": float(np.sqrt(total_diff / total_update)),
        "num_variables": len(per_variable),
    }

"""The overlap policy: what painting a label over voxels of other labels does.

``"raise"`` refuses (the caller raises its own error naming the labels), ``"overwrite"``
gives the voxels to the new label, ``"keep"`` leaves them with the earlier one. Used by
``SegmentationMask.add_label`` and by merging entries into one label map (conversion).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

OVERLAP_POLICIES = ("raise", "overwrite", "keep")


@dataclass(frozen=True)
class Overlap:
    region: np.ndarray        # the voxels the new label gets under the policy
    clashes: dict[int, int]   # other label -> voxels of the requested region it holds

    @property
    def clashing_voxels(self) -> int:
        return sum(self.clashes.values())


def apply_overlap_policy(target: np.ndarray, region: np.ndarray, label: int, policy: str) -> Overlap:
    """Where ``label`` may be painted into ``target`` (same shape as ``region``) under ``policy``."""
    existing = target[region]
    clash = existing[(existing != 0) & (existing != label)]
    values, counts = np.unique(clash, return_counts=True)
    clashes = {int(v): int(c) for v, c in zip(values, counts)}
    if clashes and policy == "keep":
        region = region & ((target == 0) | (target == label))
    return Overlap(region, clashes)


def describe_clashes(clashes: dict[int, int], name_of: Callable[[int], str]) -> str:
    """"'liver' (12 voxels), 'spleen' (3 voxels)": the labels an overlap message names."""
    return ", ".join(f"{name_of(v)} ({c} voxels)" for v, c in clashes.items())


def labels_without_voxels(array: np.ndarray, labels: Iterable[int]) -> list[int]:
    """Those of ``labels`` that no voxel of ``array`` carries any more."""
    labels = list(labels)
    if not labels:
        return []
    present = set(np.unique(array).tolist())
    return [v for v in labels if v not in present]

"""Polygons of the registry: a unit's boundary, a camera's field of view, its privacy masks (BJ-6).

Coordinates are [x, y] pairs in one planar system per deployment: a projected grid in metres, or
longitude and latitude (WGS 84), since what is checked (does the view reach beyond the boundary, is the
excess masked) is containment, which needs no projection. Shapely does the geometry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from custos.errors import CustosError, Kind

# Below this share of the view's area an excess is rounding, not a view of someone else's street.
TOLERANCE = 1e-9


def polygon(raw: Any, what: str) -> Polygon:
    """A valid polygon from [[x, y], ...] (at least three distinct points), or a clear refusal."""
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) < 3:
        raise CustosError(Kind.INVALID_ARGUMENT, f"{what}: give a polygon as at least three [x, y] points")
    pts: list[tuple[float, float]] = []
    for i, p in enumerate(raw):
        if (
            not isinstance(p, Sequence)
            or isinstance(p, str)
            or len(p) != 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in p)
        ):
            raise CustosError(Kind.INVALID_ARGUMENT, f"{what}: point {i} is {p!r}, not a pair of finite numbers [x, y]")
        pts.append((float(p[0]), float(p[1])))
    poly = Polygon(pts)
    if poly.area <= 0:
        raise CustosError(Kind.INVALID_ARGUMENT, f"{what}: the points enclose no area")
    if not poly.is_valid:
        reason = shapely.is_valid_reason(poly)
        raise CustosError(Kind.INVALID_ARGUMENT, f"{what}: not a simple polygon ({reason})")
    return poly


def point(raw: Any, what: str) -> tuple[float, float]:
    if (
        not isinstance(raw, Sequence)
        or isinstance(raw, str)
        or len(raw) != 2
        or not all(isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in raw)
    ):
        raise CustosError(Kind.INVALID_ARGUMENT, f"{what}: give a position as [x, y], not {raw!r}")
    return float(raw[0]), float(raw[1])


def as_json(poly: Polygon) -> list[list[float]]:
    """The exterior ring as stored (without the closing point)."""
    return [[x, y] for x, y in list(poly.exterior.coords)[:-1]]


def unmasked_excess(fov: BaseGeometry, boundary: BaseGeometry, masks: Sequence[BaseGeometry]) -> float:
    """The share (0..1) of the field of view outside the boundary and not covered by a privacy mask."""
    if fov.area <= 0:
        return 0.0
    excess = fov.difference(boundary)
    if masks:
        excess = excess.difference(shapely.union_all(list(masks)))
    share = excess.area / fov.area
    return share if share > TOLERANCE else 0.0

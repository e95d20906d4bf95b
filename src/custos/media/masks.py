"""Image masks: polygons in the picture, as fractions of width and height, whose content is never shown
outside the evidence chain (CN-22, BJ-6, HB-13) and which the health checks ignore.

One rasterisation for everyone (redacted exports, live view, thumbnails, health checks), so that a mask
covers the same pixels wherever it is applied, at any resolution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from custos.errors import CustosError, Kind

Polygon = list[tuple[float, float]]


def check_masks(masks: Sequence[Sequence[Sequence[float]]]) -> list[Polygon]:
    """The masks as point lists, each at least three points inside the picture (fractions in [0, 1])."""
    out = []
    for i, m in enumerate(masks):
        if len(m) < 3:
            raise CustosError(Kind.INVALID_ARGUMENT, f"image mask {i}: give at least three [x, y] points")
        pts = []
        for j, p in enumerate(m):
            if len(p) != 2 or not all(isinstance(c, int | float) and math.isfinite(c) and 0 <= c <= 1 for c in p):
                raise CustosError(
                    Kind.INVALID_ARGUMENT,
                    f"image mask {i}: point {j} is {list(p)!r}: give [x, y] as fractions of width and height in [0, 1]",
                )
            pts.append((float(p[0]), float(p[1])))
        out.append(pts)
    return out


def pixel_polygons(polygons: Sequence[Polygon], width: int, height: int) -> list[np.ndarray]:
    """The polygons in pixels of a `width` × `height` picture, as cv2.fillPoly takes them."""
    return [np.round(np.array(p, dtype=np.float64) * (width, height)).astype(np.int32) for p in polygons]


def mask_image(polygons: Sequence[Polygon], width: int, height: int) -> np.ndarray | None:
    """A boolean `height` × `width` image, True inside any mask; None when there is no mask."""
    if not polygons:
        return None
    img = np.zeros((height, width), np.uint8)
    cv2.fillPoly(img, pixel_polygons(polygons, width, height), 1)
    return img.astype(bool)


def black_out(img: np.ndarray, polygons: Sequence[Polygon]) -> np.ndarray:
    """Fill the masks with black, in place, on a picture (grey or colour, any size); returns it."""
    if polygons:
        h, w = img.shape[:2]
        cv2.fillPoly(img, pixel_polygons(polygons, w, h), (0, 0, 0) if img.ndim == 3 else 0)
    return img

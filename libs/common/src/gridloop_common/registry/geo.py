"""Rectangle geometry in degrees: recursive splitting that tiles exactly, and areas in km²."""

from __future__ import annotations

import math
from collections.abc import Sequence

from shapely.geometry.base import BaseGeometry

from gridloop_common.registry.places import CENTRE_LAT

Rect = tuple[float, float, float, float]
"""min lon, min lat, max lon, max lat."""

KM_PER_DEG_LAT = 110.574
_KM_PER_DEG_LON_AT_EQUATOR = 111.320
KM_PER_DEG_LON = _KM_PER_DEG_LON_AT_EQUATOR * math.cos(math.radians(CENTRE_LAT))


def size_km(rect: Rect) -> tuple[float, float]:
    """Width and height of a rectangle in kilometres (flat at the city's latitude)."""
    min_lon, min_lat, max_lon, max_lat = rect
    return (max_lon - min_lon) * KM_PER_DEG_LON, (max_lat - min_lat) * KM_PER_DEG_LAT


def split_rect(rect: Rect, weights: Sequence[float]) -> list[Rect]:
    """Tile rect into len(weights) rectangles with areas proportional to weights, in order.

    Each step cuts the longer side where the two halves' weights are closest to equal, which
    keeps cells near square. Both halves share the very same cut coordinate, so children tile
    their parent with no gap and no overlap, and containment holds exactly, not within epsilon.
    """
    if len(weights) == 1:
        return [rect]
    total = math.fsum(weights)
    best_k, best_gap, best_prefix = 1, math.inf, 0.0
    running = 0.0
    for k in range(1, len(weights)):
        running += weights[k - 1]
        gap = abs(2 * running - total)
        if gap < best_gap:
            best_k, best_gap, best_prefix = k, gap, running
    fraction = best_prefix / total
    min_lon, min_lat, max_lon, max_lat = rect
    width, height = size_km(rect)
    if width >= height:
        cut = min_lon + (max_lon - min_lon) * fraction
        first: Rect = (min_lon, min_lat, cut, max_lat)
        second: Rect = (cut, min_lat, max_lon, max_lat)
    else:
        cut = min_lat + (max_lat - min_lat) * fraction
        first = (min_lon, min_lat, max_lon, cut)
        second = (min_lon, cut, max_lon, max_lat)
    return split_rect(first, weights[:best_k]) + split_rect(second, weights[best_k:])


def split_two(rect: Rect, fraction: float, toward: tuple[float, float]) -> tuple[Rect, Rect]:
    """Cut rect across its longer side; the first part (fraction of the area) faces `toward`.

    Used to put a street's communities on the side nearer the city seat, its villages outside.
    """
    min_lon, min_lat, max_lon, max_lat = rect
    width, height = size_km(rect)
    lon, lat = toward
    if width >= height:
        if lon <= (min_lon + max_lon) / 2:
            cut = min_lon + (max_lon - min_lon) * fraction
            return (min_lon, min_lat, cut, max_lat), (cut, min_lat, max_lon, max_lat)
        cut = max_lon - (max_lon - min_lon) * fraction
        return (cut, min_lat, max_lon, max_lat), (min_lon, min_lat, cut, max_lat)
    if lat <= (min_lat + max_lat) / 2:
        cut = min_lat + (max_lat - min_lat) * fraction
        return (min_lon, min_lat, max_lon, cut), (min_lon, cut, max_lon, max_lat)
    cut = max_lat - (max_lat - min_lat) * fraction
    return (min_lon, cut, max_lon, max_lat), (min_lon, min_lat, max_lon, cut)


def area_km2(geometry: BaseGeometry) -> float:
    """Area in km², flat projection at the geometry's own latitude (error well under 0.1 % here)."""
    lat = geometry.centroid.y
    km_per_deg_lon = _KM_PER_DEG_LON_AT_EQUATOR * math.cos(math.radians(lat))
    return float(geometry.area) * km_per_deg_lon * KM_PER_DEG_LAT

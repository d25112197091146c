"""Coordinates for Chinese map apps and navigation links; pure functions, no I/O.

The system stores WGS-84 (what GPS gives). Amap (高德) expects GCJ-02, the
obfuscated datum mandated for maps published in China, and Baidu (百度) expects
BD-09, a further shift of GCJ-02. The formulas are the standard published ones
(the "eviltransform"/coordtransform family); outside mainland China GCJ-02
equals WGS-84.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlencode

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0


@dataclass(frozen=True)
class LatLon:
    lat: float
    lon: float


def out_of_china(lat: float, lon: float) -> bool:
    """The rough bounding box outside which GCJ-02 leaves coordinates unchanged."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _delta_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _delta_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lat: float, lon: float) -> LatLon:
    """WGS-84 -> GCJ-02 (Amap, Tencent)."""
    if out_of_china(lat, lon):
        return LatLon(lat, lon)
    d_lat = _delta_lat(lon - 105.0, lat - 35.0)
    d_lon = _delta_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return LatLon(lat + d_lat, lon + d_lon)


def gcj02_to_bd09(lat: float, lon: float) -> LatLon:
    """GCJ-02 -> BD-09 (Baidu)."""
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return LatLon(z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065)


def wgs84_to_bd09(lat: float, lon: float) -> LatLon:
    gcj = wgs84_to_gcj02(lat, lon)
    return gcj02_to_bd09(gcj.lat, gcj.lon)


@dataclass(frozen=True)
class NavigationLinks:
    amap: str
    baidu: str
    geo: str


@lru_cache(maxsize=4096)
def navigation_links(lat: float, lon: float, name: str) -> NavigationLinks:
    """Links that open a route to (lat, lon) in Amap, Baidu Maps and any geo: handler."""
    gcj = wgs84_to_gcj02(lat, lon)
    bd = gcj02_to_bd09(gcj.lat, gcj.lon)
    amap = "https://uri.amap.com/navigation?" + urlencode(
        {
            "to": f"{gcj.lon:.6f},{gcj.lat:.6f},{name}",
            "mode": "car",
            "coordinate": "gaode",
            "callnative": "1",
            "src": "rvrota",
        }
    )
    baidu = "https://api.map.baidu.com/marker?" + urlencode(
        {
            "location": f"{bd.lat:.6f},{bd.lon:.6f}",
            "title": name,
            "content": name,
            "coord_type": "bd09ll",
            "output": "html",
            "src": "rvrota",
        }
    )
    geo = f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}({quote(name)})"
    return NavigationLinks(amap=amap, baidu=baidu, geo=geo)

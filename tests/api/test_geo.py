"""Coordinate conversions against published reference points; navigation links."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from api.geo import gcj02_to_bd09, navigation_links, out_of_china, wgs84_to_bd09, wgs84_to_gcj02

# Reference outputs of wandergis/coordtransform for (lon 116.404, lat 39.915), Tiananmen.
REF_LAT, REF_LON = 39.915, 116.404


def test_wgs84_to_gcj02_matches_reference() -> None:
    """coordtransform.wgs84togcj02(116.404, 39.915) -> (116.41024449916938, 39.91640428150164)."""
    p = wgs84_to_gcj02(REF_LAT, REF_LON)
    assert p.lon == pytest.approx(116.41024449916938, abs=1e-9)
    assert p.lat == pytest.approx(39.91640428150164, abs=1e-9)


def test_gcj02_to_bd09_matches_reference() -> None:
    """coordtransform.gcj02tobd09(116.404, 39.915) -> (116.41036949371029, 39.92133699351021)."""
    p = gcj02_to_bd09(REF_LAT, REF_LON)
    assert p.lon == pytest.approx(116.41036949371029, abs=1e-9)
    assert p.lat == pytest.approx(39.92133699351021, abs=1e-9)


def test_wgs84_to_bd09_matches_reference() -> None:
    """coordtransform.wgs84tobd09(116.404, 39.915) -> (116.41662724378733, 39.922699552216216)."""
    p = wgs84_to_bd09(REF_LAT, REF_LON)
    assert p.lon == pytest.approx(116.41662724378733, abs=1e-9)
    assert p.lat == pytest.approx(39.922699552216216, abs=1e-9)


def test_shift_in_quanzhou_is_a_few_hundred_metres() -> None:
    """In Quanzhou the GCJ-02 shift is of the order of 500 m, never zero."""
    p = wgs84_to_gcj02(24.93, 118.76)
    assert 0.001 < abs(p.lon - 118.76) + abs(p.lat - 24.93) < 0.02


@pytest.mark.parametrize(("lat", "lon"), [(48.8566, 2.3522), (35.68, 139.9), (-33.9, 151.2)])
def test_outside_china_is_unchanged(lat: float, lon: float) -> None:
    """Outside mainland China GCJ-02 is WGS-84."""
    assert out_of_china(lat, lon)
    p = wgs84_to_gcj02(lat, lon)
    assert (p.lat, p.lon) == (lat, lon)


def test_navigation_links_carry_converted_coordinates() -> None:
    """Amap gets GCJ-02 lon,lat; Baidu gets BD-09 lat,lon; geo: gets raw WGS-84."""
    links = navigation_links(REF_LAT, REF_LON, "天安门")
    amap = parse_qs(urlparse(links.amap).query)
    lon, lat, name = amap["to"][0].split(",")
    assert float(lon) == pytest.approx(116.410244, abs=1e-6)
    assert float(lat) == pytest.approx(39.916404, abs=1e-6)
    assert name == "天安门"
    assert amap["coordinate"] == ["gaode"]
    baidu = parse_qs(urlparse(links.baidu).query)
    blat, blon = baidu["location"][0].split(",")
    assert float(blat) == pytest.approx(39.922700, abs=1e-6)
    assert float(blon) == pytest.approx(116.416627, abs=1e-6)
    assert baidu["coord_type"] == ["bd09ll"]
    assert links.geo.startswith("geo:39.915000,116.404000?q=")

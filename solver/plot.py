"""Drawing a plan's week with matplotlib's object API (no pyplot state, safe in servers).

Top: a grid of vehicles by (day, slot), each cell coloured by its site and
labelled with the site id. Below: one small map per vehicle with each of its
vehicle-day routes (depot -> sessions in slot order -> depot), one colour per day.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from solver.scenario import Scenario, SessionKey
from solver.travel import TravelTable, plan_routes


def _place(scenario: Scenario, loc: str) -> tuple[float, float]:
    if loc in scenario.site_by_id:
        site = scenario.site_by_id[loc]
        return site.lon, site.lat
    depot = scenario.depot_by_id[loc]
    return depot.lon, depot.lat


def _grid(ax: Axes, scenario: Scenario, sessions: list[SessionKey]) -> None:
    columns = [(d, s.id) for d in range(scenario.days) for s in scenario.slots]
    col_of = {c: i for i, c in enumerate(columns)}
    row_of = {v.id: i for i, v in enumerate(scenario.vehicles)}
    site_colour = {s.id: i for i, s in enumerate(scenario.sites)}
    cmap = colormaps["tab20"]
    for s in sessions:
        x, y = col_of[(s.day, s.slot)], row_of[s.vehicle]
        colour = cmap(site_colour[s.site] % 20)
        ax.add_patch(Rectangle((x, y), 1, 1, facecolor=colour, edgecolor="white"))
        ax.text(x + 0.5, y + 0.5, s.site, ha="center", va="center", fontsize=6)
    ax.set_xlim(0, max(1, len(columns)))
    ax.set_ylim(max(1, len(row_of)), 0)
    ax.set_xticks([i + 0.5 for i in range(len(columns))])
    ax.set_xticklabels([f"d{d}\n{s}" for d, s in columns], fontsize=6)
    ax.set_yticks([i + 0.5 for i in range(len(row_of))])
    ax.set_yticklabels(list(row_of), fontsize=7)
    ax.set_title(f"{scenario.name}: sessions by vehicle, day and slot", fontsize=9)


def _maps(
    fig: Figure,
    rows_above: int,
    scenario: Scenario,
    travel: TravelTable,
    sessions: list[SessionKey],
) -> None:
    vehicles = [v.id for v in scenario.vehicles]
    if not vehicles:
        return
    ncols = min(4, len(vehicles))
    nrows = math.ceil(len(vehicles) / ncols)
    spec = fig.add_gridspec(rows_above + nrows, ncols)
    routes = plan_routes(scenario, travel, sessions)
    cmap = colormaps["tab10"]
    site_x = [s.lon for s in scenario.sites]
    site_y = [s.lat for s in scenario.sites]
    for i, vehicle in enumerate(vehicles):
        ax = fig.add_subplot(spec[rows_above + i // ncols, i % ncols])
        ax.scatter(site_x, site_y, s=4, c="lightgrey")
        for d in scenario.depots:
            ax.scatter([d.lon], [d.lat], marker="s", s=12, c="black")
        for route in routes:
            if route.vehicle != vehicle:
                continue
            places = [route.depot, *[site for _, site in route.stops], route.depot]
            xs, ys = zip(*(_place(scenario, p) for p in places), strict=True)
            ax.plot(xs, ys, "-o", ms=2, lw=1, color=cmap(route.day % 10), label=f"day {route.day}")
        ax.set_title(vehicle, fontsize=8)
        ax.tick_params(labelsize=5)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=5, loc="best")


def plot_plan(
    scenario: Scenario,
    sessions: Iterable[SessionKey],
    path: str | Path,
    travel: TravelTable | None = None,
) -> None:
    """Write the week's picture of the plan to ``path`` (PNG), atomically."""
    table = travel if travel is not None else TravelTable.build(scenario)
    plan = sorted(set(sessions))
    vehicles = max(1, len(scenario.vehicles))
    map_rows = math.ceil(vehicles / min(4, vehicles))
    grid_rows = max(1, math.ceil(vehicles / 4))
    fig = Figure(figsize=(14, 3 * (grid_rows + map_rows)))
    FigureCanvasAgg(fig)
    spec = fig.add_gridspec(grid_rows + map_rows, 1)
    _grid(fig.add_subplot(spec[0:grid_rows, 0]), scenario, plan)
    _maps(fig, grid_rows, scenario, table, plan)
    fig.tight_layout()
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, format="png")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""Write (or check) the published JSON Schemas of the scenario and plan formats.

``python -m solver.schema`` writes ``docs/schema/scenario.schema.json`` and
``docs/schema/plan.schema.json`` from the typed models of ``solver.formats``;
``python -m solver.schema --check`` exits 1 when a published file differs from what
the models generate (the test suite runs the same comparison).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from solver.formats import json_schemas

log = logging.getLogger(__name__)
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "docs" / "schema"


def rendered() -> dict[str, str]:
    """Each schema file's text by file name (fields in the models' order, indent 2)."""
    return {
        name: json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        for name, schema in json_schemas().items()
    }


def stale(directory: Path) -> list[str]:
    """The schema files in ``directory`` that are missing or differ from the models."""
    out = []
    for name, text in rendered().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            out.append(name)
    return out


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in rendered().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solver.schema", description=__doc__)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the files live")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.check:
        differing = stale(args.dir)
        for name in differing:
            log.error("%s differs from solver/formats.py: run python -m solver.schema", name)
        return 1 if differing else 0
    for path in write(args.dir):
        log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

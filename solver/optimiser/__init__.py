"""The optimiser: scenario compiled to arrays, heuristic, bounds, column generation, proof.

``solver.optimiser.optimise.solve`` is the entry point (``solver.service`` calls it).
The rest of ``solver`` (loader, checker, evaluator, reasons) stands apart and imports
nothing from here, so the judge of a plan does not depend on what it judges; only
``solver.optimiser.ortools_backend`` imports OR-Tools.
"""

"""Run the notebooks top to bottom, export the README's chart, or strip outputs.

Usage, from the repository root::

    python notebooks/render.py           # run both notebooks; write docs/audience_coverage.png
    python notebooks/render.py --strip   # remove outputs from the notebooks (before committing)

Notebooks are committed without outputs: running them is the check (the test suite
does it too, see ``tests/notebooks/test_notebooks.py``). Rendering leaves the committed
files untouched unless ``--save`` is given, which writes the executed notebooks, outputs
included, next to them as ``*.executed.ipynb`` (ignored by git).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from connector.kit.environ import temporary

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOTEBOOKS = (HERE / "audience_analysis.ipynb", HERE / "sync_health.ipynb")
DOCS = ROOT / "docs"


def execute(path: Path, env: dict[str, str] | None = None,
            timeout: int = 300) -> nbformat.NotebookNode:
    """Run the notebook at ``path`` in a fresh ``python3`` kernel, in its own folder,
    with this checkout first on the kernel's ``PYTHONPATH`` and matplotlib headless.
    Raises :class:`nbclient.exceptions.CellExecutionError` at the first failing cell."""
    notebook = nbformat.read(path, as_version=4)
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    with temporary({"MPLBACKEND": "Agg", "PYTHONPATH": pythonpath, **(env or {})}):
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    return notebook


def strip(notebook: nbformat.NotebookNode) -> bool:
    """Remove outputs, execution counts and execution metadata; True if anything changed."""
    changed = False
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            changed = True
        cell.outputs = []
        cell.execution_count = None
        if cell.metadata.pop("execution", None) is not None:
            changed = True
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strip", action="store_true",
                        help="only remove outputs from the committed notebooks")
    parser.add_argument("--save", action="store_true",
                        help="also write each executed notebook as *.executed.ipynb")
    args = parser.parse_args(argv)
    if args.strip:
        for path in NOTEBOOKS:
            notebook = nbformat.read(path, as_version=4)
            if strip(notebook):
                nbformat.write(notebook, path)
                print(f"stripped {path.relative_to(ROOT)}")
        return 0
    for path in NOTEBOOKS:
        print(f"running {path.relative_to(ROOT)} ...", flush=True)
        executed = execute(path, env={"OFFRAMP_EXPORT_DIR": str(DOCS)})
        if args.save:
            nbformat.write(executed, path.with_suffix(".executed.ipynb"))
    print(f"wrote {(DOCS / 'audience_coverage.png').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

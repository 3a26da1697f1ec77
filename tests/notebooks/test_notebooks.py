"""The notebooks run top to bottom (a failing cell fails the build) and are committed
without outputs."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PNG = b"\x89PNG\r\n\x1a\n"


def _render():
    """``notebooks/render.py`` (not a package), which runs notebooks the way CI does."""
    spec = importlib.util.spec_from_file_location("offramp_notebooks_render",
                                                  NOTEBOOKS / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _render()


def outputs(notebook: nbformat.NotebookNode, kind: str) -> list[str]:
    """The text of every output of ``kind`` (stream, execute_result, error)."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == kind:
                found.append(output.get("text") or output.get("data", {}).get("text/plain", ""))
    return found


@pytest.mark.parametrize("path", render.NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_carry_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert not render.strip(notebook)  # nothing left to strip


def test_the_audience_notebook_runs_and_exports_the_coverage_chart(tmp_path):
    export = tmp_path / "docs"
    executed = render.execute(render.NOTEBOOKS[0], env={
        "OFFRAMP_NOTEBOOK_DIR": str(tmp_path / "demo"), "OFFRAMP_EXPORT_DIR": str(export)})
    assert outputs(executed, "error") == []
    text = "\n".join(outputs(executed, "stream") + outputs(executed, "execute_result"))
    assert "run 1: succeeded" in text and "send 0 (0 new" in text
    import connector

    if "google" in connector.installed_destinations():  # Google's coverage beside Meta's
        assert re.search(r"\{'email': 0\.\d+, 'phone': 0\.\d+, 'address': 0\.\d+\}", text)
    assert (export / "audience_coverage.png").read_bytes().startswith(PNG)
    assert (tmp_path / "demo" / "warehouse.duckdb").is_file()  # never the repo's warehouse


def test_the_sync_health_notebook_runs(tmp_path):
    executed = render.execute(render.NOTEBOOKS[1], env={
        "OFFRAMP_NOTEBOOK_DIR": str(tmp_path / "demo")})
    text = "\n".join(outputs(executed, "stream"))
    assert "run 3: failed" in text and "set META_ACCESS_TOKEN" in text
    assert "run 4: succeeded" in text
    import connector

    if "microsoft" in connector.installed_destinations():
        assert "Microsoft report for" in text
    else:
        assert "the Microsoft report section is skipped" in text
    if "google" in connector.installed_destinations():
        assert "1 PARTIAL_SUCCESS" in text and "EVENT_TOO_OLD 1" in text
        assert "Google already had (DUPLICATE_TRANSACTION_ID): counted as delivered" in text
    else:
        assert "the Google section is skipped" in text


def test_strip_removes_outputs():
    notebook = nbformat.read(render.NOTEBOOKS[0], as_version=4)
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    cell.outputs = [nbformat.v4.new_output("stream", text="hello")]
    cell.execution_count = 3
    cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    assert render.strip(notebook) is True
    assert cell.outputs == [] and cell.execution_count is None and "execution" not in cell.metadata

"""The documentation runs as written: the README's Python quick-start and the example notebook."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_quickstart_runs():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(block, "README.md (Python API)", "exec"), {})


def test_example_notebook_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(ROOT / "examples" / "quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("<pidse Result gpt2_sm_scfuffn" in str(o.get("data", {}).get("text/plain", "")) for o in outputs)


def test_readme_console_outputs_are_what_the_commands_print():
    # Every `$ pidse ...` block of the README whose output is shown in full (no '...') is the command's output
    # today: the docs cannot drift from the numbers.
    import shlex

    from conftest import invoke

    text = (ROOT / "README.md").read_text()
    checked = 0
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        command, _, shown = block.partition("\n")
        if not command.startswith("$ pidse ") or command.rstrip().endswith("\\") or "..." in shown or not shown \
                or "\n$ " in "\n" + shown:  # continued, abridged, or several commands in one block
            continue
        result = invoke(*shlex.split(command[len("$ pidse "):], comments=True))
        printed = result.stdout if result.exit_code == 0 else result.stderr
        assert printed.rstrip("\n") == shown.rstrip("\n"), command
        checked += 1
    assert checked >= 3

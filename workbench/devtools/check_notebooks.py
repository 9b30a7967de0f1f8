"""Check the stage notebooks follow the house rules.

Each notebook: no outputs or execution counts committed; exactly one cell tagged ``parameters``
holding only ``name: type = literal`` lines (and comments) with ``config_path`` and ``run_dir``;
no ``def``, ``class`` or SQL strings in code cells (logic belongs in the package); every notebook
is in the stage list (:mod:`workbench.project.stages`) and every stage's notebook exists; a stage's
notebook imports only its stage module, ``open_run`` and ``setup_notebook`` from the package and
calls ``<stage>.run(ctx)`` exactly once.

Usage: ``python -m workbench.devtools.check_notebooks notebooks``
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat

SQL_PATTERN = re.compile(
    r"\b(select\s+.+\s+from|create\s+table|insert\s+into|update\s+\w+\s+set)\b", re.I | re.S
)


def check_notebook(path: Path) -> list[str]:
    """Problems found in one notebook, each naming the notebook and cell."""
    nb = nbformat.read(str(path), as_version=4)
    problems: list[str] = []
    param_cells = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(param_cells) != 1:
        problems.append(f"{path.name}: needs exactly one cell tagged `parameters`, found {len(param_cells)}")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"{path.name} cell {i}"
        if cell.get("outputs"):
            problems.append(f"{where}: has outputs; strip them (nbstripout) before committing")
        if cell.get("execution_count") is not None:
            problems.append(f"{where}: has an execution count; strip it (nbstripout)")
        try:
            tree = ast.parse(cell.source)
        except SyntaxError as exc:
            problems.append(f"{where}: not valid Python: {exc}")
            continue
        if i in param_cells:
            problems.extend(_parameter_problems(tree, where))
        problems.extend(_logic_problems(tree, where))
    return problems


def _is_literal_assignment(node: ast.stmt) -> bool:
    if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None):
        return False
    try:
        ast.literal_eval(node.value)
    except ValueError:
        return False
    return True


def _parameter_problems(tree: ast.Module, where: str) -> list[str]:
    """The parameters cell holds only ``name: type = literal`` lines, ``config_path`` and ``run_dir`` among them."""
    problems = [
        f"{where}: the parameters cell may only hold `name: type = literal` lines"
        for node in tree.body
        if not _is_literal_assignment(node)
    ]
    names = {n.target.id for n in tree.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    problems += [
        f"{where}: the parameters cell lacks `{required}`"
        for required in ("config_path", "run_dir")
        if required not in names
    ]
    return problems


def _logic_problems(tree: ast.Module, where: str) -> list[str]:
    """Functions, classes and SQL text belong in the package, not in a notebook."""
    problems: list[str] = []
    nodes = list(ast.walk(tree))
    if any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda) for n in nodes):
        problems.append(f"{where}: defines a function or class; move it into the workbench package")
    if any(isinstance(n, ast.Constant) and isinstance(n.value, str) and SQL_PATTERN.search(n.value) for n in nodes):
        problems.append(f"{where}: holds SQL text; move the query into a package function")
    return problems


ALLOWED_IMPORTS = {
    "workbench.presentation.charts": {"setup_notebook"},
    "workbench.project.context": {"open_run"},
}


def check_stage_calls(path: Path, stage_id: str) -> list[str]:
    """The notebook imports only its stage, ``open_run`` and ``setup_notebook``, and runs its stage once."""
    nb = nbformat.read(str(path), as_version=4)
    problems: list[str] = []
    allowed = {**ALLOWED_IMPORTS, "workbench.stages": {stage_id}}
    runs = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue  # reported by check_notebook
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workbench"):
                extra = {a.name for a in node.names} - allowed.get(node.module or "", set())
                if extra:
                    problems.append(
                        f"{path.name} cell {i}: imports {sorted(extra)} from {node.module}; a stage notebook "
                        f"shows `{stage_id}.run(ctx)`'s result and imports only its stage"
                    )
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "run"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == stage_id
            ):
                runs += 1
    if runs != 1:
        problems.append(f"{path.name}: calls `{stage_id}.run(ctx)` {runs} times; call it exactly once")
    return problems


def check_folder(folder: Path) -> list[str]:
    from workbench.project.stages import STAGES

    problems: list[str] = []
    notebooks = sorted(folder.glob("*.ipynb"))
    for nb in notebooks:
        problems.extend(check_notebook(nb))
    listed = {s.notebook: s.id for s in STAGES}
    for nb in notebooks:
        if nb.name not in listed:
            problems.append(f"{nb.name}: not in the stage list; add it to workbench/project/stages.py")
        else:
            problems.extend(check_stage_calls(nb, listed[nb.name]))
    for name, stage_id in sorted(listed.items()):
        if not (folder / name).exists():
            problems.append(f"stage {stage_id!r}: its notebook {name} does not exist")
        module = Path(__file__).resolve().parents[1] / "stages" / f"{stage_id}.py"
        if not module.exists():
            problems.append(f"stage {stage_id!r}: workbench/stages/{stage_id}.py does not exist")
    return problems


def main(argv: list[str] | None = None) -> int:
    folder = Path((argv or sys.argv[1:] or ["notebooks"])[0])
    problems = check_folder(folder)
    for p in problems:
        print(p, file=sys.stderr)
    print(f"checked {len(list(folder.glob('*.ipynb')))} notebooks: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

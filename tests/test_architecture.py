"""The shape of the code: no module of tasks_app imports (at its top or inside a function) a module that imports
it back, directly or through others, and no module passes 400 lines. Read from the source with ast: nothing is
imported, so a cycle hidden inside a function is found too."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400


def modules_of(package_dir: Path) -> dict:
    """Dotted name -> (path, is_package) for every .py file of the package."""
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _imported(name: str, is_package: bool, node, modules: dict) -> set:
    """The package's modules that one import statement brings in (a `from x import y` may name a module y)."""
    top = next(iter(modules)).split(".")[0]
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name.split(".")[0] == top}
    if node.level:
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != top:
        return set()
    return {target} | {f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in modules}


def import_graph(package_dir: Path) -> dict:
    """Module -> the modules it imports anywhere in its body. Importing a.b.c runs the packages a.b and a.b.c
    too, so those count, except the importer's own packages (they are already being imported)."""
    modules = modules_of(package_dir)
    graph = {}
    for name, (path, is_package) in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _imported(name, is_package, node, modules):
                parts = target.split(".")
                for depth in range(2, len(parts) + 1):
                    step = ".".join(parts[:depth])
                    if step in modules and step != name and not name.startswith(step + "."):
                        edges.add(step)
        graph[name] = edges
    return graph


def find_cycle(graph: dict):
    """One import cycle as [a, b, ..., a], or None."""
    state = {}  # module -> "open" while on the current path, "done" once fully explored

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, path + [nxt])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def test_no_module_of_tasks_app_imports_a_module_that_imports_it_back():
    cycle = find_cycle(import_graph(ROOT / "tasks_app"))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# What each part of tasks_app may import (docs/architecture.md's table): a part not listed may import anything.
MAY_IMPORT = {
    "cron": set(), "params": set(), "roles": set(), "outbound": set(), "private_files": set(), "front": set(),
    "heartbeat": set(), "outbound_requests": {"outbound"}, "workdays": set(),
    "tasktypes": {"outbound"},
    "definition.fields": set(),
    "secrets": {"private_files"},
    "envedit": {"secrets"},
    "models": {"cron", "definition.fields", "secrets", "workdays"},
    "definition": {"cron", "outbound", "params", "private_files", "models", "definition.fields", "secrets", "tasktypes"},
    "logs": {"definition", "definition.fields", "models", "params", "secrets"},
    "conffile": {"definition", "definition.fields", "models", "secrets"},
    "dal": {"conffile", "definition", "definition.fields", "models", "secrets"},
    "audit": {"definition.fields", "front", "models", "secrets"},
    "alerts": {"definition", "heartbeat", "models", "outbound", "outbound_requests", "secrets"},
    "services": {"alerts", "audit", "conffile", "dal", "definition", "definition.fields", "models", "secrets",
                 "workdays"},
    "insights": {"cron", "definition", "definition.fields", "models"},
    "engine": {"alerts", "audit", "cron", "definition", "definition.fields", "heartbeat", "logs", "models",
               "outbound", "private_files", "secrets", "tasktypes"},
}
FOR_THE_WAYS_IN = {"services", "models", "definition", "definition.fields", "cron", "logs", "params", "roles", "front",
                   "conffile", "secrets", "envedit", "audit", "workdays", "tasktypes", "insights", "checks"}
MAY_IMPORT.update(web=FOR_THE_WAYS_IN, api=FOR_THE_WAYS_IN, admin=FOR_THE_WAYS_IN)


def part_of(module: str) -> str:
    """tasks_app.definition.fields -> "definition.fields" (the field table is a part of its own), else the
    package or top-level module: tasks_app.engine.runner -> "engine"."""
    rest = module.split(".")[1:]
    if rest[:2] == ["definition", "fields"]:
        return "definition.fields"
    return rest[0] if rest else ""


def test_each_part_imports_only_what_the_architecture_allows():
    graph = import_graph(ROOT / "tasks_app")
    # A package that imports nothing (definition/__init__.py) brings nothing in when one of its modules is imported.
    empty = {name for name, (_path, is_package) in modules_of(ROOT / "tasks_app").items()
             if is_package and not graph[name]}
    wrong = sorted(f"{module} -> {target}" for module, targets in graph.items() for target in targets - empty
                   if part_of(module) in MAY_IMPORT and part_of(target) not in ("", part_of(module))
                   and part_of(target) not in MAY_IMPORT[part_of(module)])
    assert not wrong, wrong


def test_the_import_graph_sees_imports_at_the_top_and_inside_functions():
    graph = import_graph(ROOT / "tasks_app")
    assert "tasks_app.conffile.mirror" in graph["tasks_app.services.tasks"]  # at the top of the module
    assert "tasks_app.models" in graph["tasks_app.definition.loader"]  # inside TaskLoader._existing_from_db


def test_a_cycle_hidden_inside_a_function_is_found(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from .sub import b\n")
    (package / "sub" / "b.py").write_text("def later():\n    from ..c import thing\n")
    (package / "c.py").write_text("import pkg.a\nthing = 1\n")
    assert find_cycle(import_graph(package)) == ["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]


def test_a_package_that_imports_its_own_modules_is_not_a_cycle(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from . import a\n")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("x = 1\n")
    assert find_cycle(import_graph(package)) is None


def test_no_module_of_tasks_app_passes_400_lines():
    sizes = {path.relative_to(ROOT): len(path.read_text(encoding="utf-8").splitlines())
             for path in (ROOT / "tasks_app").rglob("*.py") if "migrations" not in path.parts}
    assert len(sizes) > 50  # the walk found the modules
    too_long = {str(path): lines for path, lines in sizes.items() if lines > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines (split them by concern): {too_long}"

"""The layers of the house: imports only look down, no import cycle, the course's names stay;
each thing in its room: the library starts no entry point, a blueprint's routes are imported
only by the app that registers them, no module borrows another's private names, and every
module logs under its own name.

Every module of the project is parsed (not imported), and every import in it counts, lazy ones
inside functions included: a lazy import that "breaks" a cycle still is one.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
ENTRY_POINTS = {"fullprocess", "app", "wsgi", "apicalls", "tools", "bench"}
STAGES = {"ingestion", "training", "scoring", "deployment", "diagnostics", "reporting"}
# What each library package may import of the library (besides itself), as its docstring says.
LIBRARY_RULES = {
    "core": set(),
    "ingest": {"core"},
    "model": {"core"},
    "data": {"core"},
    "monitor": {"core", "model"},
    "report": {"core", "model", "data"},
    "watch": {"core"},
    "api": {"core", "ingest", "model", "data", "monitor", "report", "watch"},
    "web": {"core", "ingest", "model", "data", "monitor", "report", "api", "watch"},
}
# Standard library only: these run before the cycle knows whether there is work to do (the
# watch over the cycle records and alerts every cycle, a quiet one included).
LIGHT = {"cycle.quick", "cycle.run", "cycle.watching", "cycle.changes", "cycle.errors",
         "pipeline.ingest.inputs", "pipeline.watch", "pipeline.watch.ledger",
         "pipeline.watch.health", "pipeline.watch.events", "pipeline.watch.alerts",
         "pipeline.watch.deliver", "pipeline.watch.files"}
BUILTIN_SHA256 = {"_sha256", "_sha2"}  # the interpreter's own SHA-256 (3.11, 3.12 and later)
# What starts a process: the library starts none (an entry point, ``gunicorn wsgi:app``, is
# started from the cycle's floor: cycle.local_server).
PROCESS_MODULES = {"subprocess", "multiprocessing", "pty", "concurrent.futures.process"}
PROCESS_CALLS = ("system", "popen", "fork", "forkpty", "exec", "spawn", "posix_spawn")
WSGI_ENTRY = "wsgi:app"


def project_modules(root: Path) -> dict[str, Path]:
    """Every module of the project below root, by dotted name (tests and data left out)."""
    found = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[0] in ("tests", ".venv") or any(p.startswith(".") for p in parts) or \
                parts[:2] == ("bench", "data"):  # the benchmarks' data: older commits' code too
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(path: Path, name: str, modules: dict[str, Path]) -> dict[str, int]:
    """The project modules a module imports anywhere in its body: {module: line}."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # "from pipeline.ingest import fastcsv" imports the module pipeline.ingest.fastcsv
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                       for a in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.setdefault(target, node.lineno)
    return found


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """{module: {imported project module: line}} of every module below root."""
    modules = project_modules(root)
    return {name: imports_of(path, name, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt, [*path, nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def layer_violations(graph: dict[str, dict[str, int]]) -> list[str]:
    """Every import that looks up, or sideways between library packages against the rules."""
    problems = []
    for name, targets in sorted(graph.items()):
        top = name.split(".")[0]
        for target, line in sorted(targets.items()):
            where = f"{name}:{line} imports {target}"
            target_top = target.split(".")[0]
            if top == "pipeline":
                if target_top != "pipeline":
                    problems.append(f"{where}: the library imports a script or the cycle")
                    continue
                own = name.split(".")[1] if name.count(".") else None
                other = target.split(".")[1] if target.count(".") else None
                if own and other and other != own and other not in LIBRARY_RULES.get(own, ()):
                    problems.append(f"{where}: pipeline.{own} may not import pipeline.{other}")
            elif top in STAGES and (target_top in ENTRY_POINTS | {"cycle"}):
                problems.append(f"{where}: a stage script imports an entry point or the cycle")
            elif top in STAGES and target_top in STAGES:
                problems.append(f"{where}: a stage script imports another stage script")
            elif top == "cycle" and target_top in ENTRY_POINTS:
                problems.append(f"{where}: the cycle imports an entry point")
            if target.rpartition(".")[2] == "routes" and top not in ENTRY_POINTS:
                problems.append(f"{where}: a blueprint's routes are imported only by the entry "
                                "point that registers them")
    return problems


def _modules_named(tree: ast.AST, modules: dict[str, Path]) -> dict[str, str]:
    """{name in this module: project module} of the modules it imports as a whole."""
    named = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    named[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if f"{node.module}.{alias.name}" in modules:
                    named[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return named


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def borrowed_private_names(root: Path) -> list[str]:
    """Every private name (``_name``) a module takes from another module of the project: by
    ``from module import _name`` or as ``module._name``."""
    modules = project_modules(root)
    found = []
    for name, path in sorted(modules.items()):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        named = _modules_named(tree, modules)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in modules:
                found += [f"{name}:{node.lineno} takes {node.module}.{alias.name}"
                          for alias in node.names if _private(alias.name)]
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                chain, value = [], node.value
                while isinstance(value, ast.Attribute):
                    chain.insert(0, value.attr)
                    value = value.value
                if isinstance(value, ast.Name) and value.id in named:
                    owner = ".".join([named[value.id], *chain])
                    found.append(f"{name}:{node.lineno} takes {owner}.{node.attr}")
    return found


def fixed_logger_names(root: Path) -> list[str]:
    """Every ``logging.getLogger("a fixed name")`` of the project: each module logs under
    ``__name__``, and the entry points configure the root logger (or a package's)."""
    found = []
    for name, path in sorted(project_modules(root).items()):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and \
                    isinstance(node.args[0], ast.Constant) and \
                    getattr(node.func, "attr", getattr(node.func, "id", None)) == "getLogger":
                found.append(f"{name}:{node.lineno} logs as {node.args[0].value!r}")
    return found


def process_starts(root: Path) -> list[str]:
    """Every place where the library could start a process, or names the entry point a server
    starts: an import of subprocess or multiprocessing, os.system, os.exec*, os.spawn*,
    os.fork..., or "wsgi:app" in a string (docstrings and comments may name it)."""
    found = []
    for name, path in sorted(project_modules(root).items()):
        if name.split(".")[0] != "pipeline":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        prose = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
        places = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                started = [a.name for a in node.names if a.name in PROCESS_MODULES]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                started = [node.module] if node.module in PROCESS_MODULES else \
                    [f"os.{a.name}" for a in node.names
                     if node.module == "os" and a.name.startswith(PROCESS_CALLS)]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id == "os" and node.attr.startswith(PROCESS_CALLS):
                started = [f"os.{node.attr}"]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    id(node) not in prose:
                started = [repr(WSGI_ENTRY)] if WSGI_ENTRY in node.value else []
            else:
                continue
            places += [(node.lineno, what) for what in started]
        found += [f"{name}:{line} {what}" for line, what in sorted(places)]
    return found


@pytest.fixture(scope="module")
def graph():
    return import_graph(PROJECT)


def test_the_library_only_looks_down(graph):
    assert layer_violations(graph) == []


def test_the_library_starts_no_process_and_no_entry_point():
    assert process_starts(PROJECT) == []


def test_no_module_borrows_another_modules_private_names():
    assert borrowed_private_names(PROJECT) == []


def test_every_module_logs_under_its_own_name():
    assert fixed_logger_names(PROJECT) == []


def test_no_import_cycle_among_the_projects_modules(graph):
    assert find_cycle(graph) is None


def test_no_module_sits_directly_in_pipeline():
    loose = [p.name for p in (PROJECT / "pipeline").glob("*.py") if p.name != "__init__.py"]
    assert loose == []
    for package in (PROJECT / "pipeline").iterdir():
        if package.is_dir() and not package.name.startswith("__"):
            assert package.name in LIBRARY_RULES, f"pipeline/{package.name} has no rule here"
            doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
            assert doc and "import" in doc.lower(), \
                f"pipeline/{package.name} does not say what it may import"


def test_the_light_modules_import_only_the_standard_library_and_core(graph):
    for name in LIGHT:
        path = project_modules(PROJECT)[name]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                assert top in sys.stdlib_module_names | BUILTIN_SHA256 | {"pipeline", "cycle"}, \
                    f"{name}:{node.lineno} imports {top}"
        heavy = [t for t in graph[name] if t.startswith("pipeline.") and t not in LIGHT
                 and not t.startswith("pipeline.core.")]
        assert heavy == [], f"{name} imports {heavy}"
    quick = set(graph["cycle.quick"])
    assert quick <= {"pipeline.core.names", "pipeline.watch.ledger"}, \
        "the cron quick path imports only the file names and the cycle record"
    assert set(graph["pipeline.watch.ledger"]) <= {"pipeline.core.names"}


def test_the_checks_find_a_cycle_and_an_upward_import(tmp_path):
    """The checks above can fail: a made-up project with both faults."""
    (tmp_path / "pipeline" / "core").mkdir(parents=True)
    (tmp_path / "pipeline" / "__init__.py").write_text("")
    (tmp_path / "pipeline" / "core" / "__init__.py").write_text("")
    (tmp_path / "pipeline" / "core" / "a.py").write_text(
        "def f():\n    import training  # lazy, still an import\n")
    (tmp_path / "training.py").write_text("from pipeline.core import a\n")
    found = import_graph(tmp_path)
    assert find_cycle(found) in (["pipeline.core.a", "training", "pipeline.core.a"],
                                 ["training", "pipeline.core.a", "training"])
    assert layer_violations(found) == [
        "pipeline.core.a:2 imports training: the library imports a script or the cycle"]
    (tmp_path / "scoring.py").write_text("import training\n")
    assert layer_violations(import_graph(tmp_path))[1:] == [
        "scoring:1 imports training: a stage script imports another stage script"]


def test_the_checks_find_each_thing_out_of_its_room(tmp_path):
    """The rooms' checks can fail: a made-up library that starts gunicorn, imports a blueprint,
    borrows a private name two ways and logs under a fixed name."""
    for package in ("core", "api", "web"):
        (tmp_path / "pipeline" / package).mkdir(parents=True)
        (tmp_path / "pipeline" / package / "__init__.py").write_text("")
    (tmp_path / "pipeline" / "__init__.py").write_text("")
    (tmp_path / "pipeline" / "core" / "a.py").write_text(
        '"""Serves gunicorn wsgi:app (a docstring may say so)."""\n'
        "import logging\nimport os\nimport subprocess\n_CACHE = {}\n"
        "logger = logging.getLogger('app')\n\n\ndef serve():\n"
        "    subprocess.Popen(['gunicorn', 'wsgi:app'])\n    os.execv('x', ['x'])\n")
    (tmp_path / "pipeline" / "api" / "routes.py").write_text("def risk_frame():\n    pass\n")
    (tmp_path / "pipeline" / "web" / "tables.py").write_text(
        "import logging\n\nfrom pipeline.api.routes import risk_frame\n"
        "from pipeline.core import a\nfrom pipeline.core.a import _CACHE\n\n"
        "logger = logging.getLogger(__name__)\nCACHED = a._CACHE, a.__name__\n")
    (tmp_path / "app.py").write_text("from pipeline.api.routes import risk_frame\n")
    assert [p for p in layer_violations(import_graph(tmp_path)) if "routes" in p] == [
        "pipeline.web.tables:3 imports pipeline.api.routes: a blueprint's routes are imported "
        "only by the entry point that registers them"]
    assert process_starts(tmp_path) == [
        "pipeline.core.a:4 subprocess", "pipeline.core.a:10 'wsgi:app'",
        "pipeline.core.a:11 os.execv"]
    assert borrowed_private_names(tmp_path) == [
        "pipeline.web.tables:5 takes pipeline.core.a._CACHE",
        "pipeline.web.tables:8 takes pipeline.core.a._CACHE"]
    assert fixed_logger_names(tmp_path) == ["pipeline.core.a:6 logs as 'app'"]


COURSE_NAMES = [
    ("ingestion", "merge_multiple_dataframe"), ("training", "train_model"),
    ("scoring", "score_model"), ("deployment", "store_model_into_pickle"),
    ("diagnostics", "model_predictions"), ("diagnostics", "dataframe_summary"),
    ("diagnostics", "missing_data"), ("diagnostics", "execution_time"),
    ("diagnostics", "outdated_packages_list"), ("reporting", "score_model"),
]


@pytest.mark.parametrize("script, name", COURSE_NAMES)
def test_the_courses_functions_are_callable_as_the_course_calls_them(script, name):
    function = getattr(importlib.import_module(script), name)
    assert function.__module__ == script  # the script's own, not a library name re-exported
    parameters = inspect.signature(function).parameters.values()
    assert parameters  # a real function taking its inputs when given them
    assert all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in parameters), "the course calls it with no arguments"
    assert function.__doc__

"""Package contracts, checked on every run instead of promised in a document.

* the import contracts in pyproject.toml (`[tool.importlinter]`: the layer order and the build
  libraries kept on the build side) hold, as `lint-imports` reports them;
* a serving process (the API app with its lifespan, on the embedded city) loads none of the
  build libraries, even indirectly through a third-party package the linter cannot see into;
* every import inside a function says why on its line or the line above, so a deferred
  import is a decision, not a habit.

The routing core's own purity (no web, Redis or file I/O) is checked in test_architecture.py.
"""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
import textwrap
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "routing", "storage", "pricing", "network", "ingest", "providers", "trips", "service_coverage",
    "evaluation", "api", "fairtrip",
)  # fmt: skip
#: the libraries only the build side (ingest, and the CLI that runs it) may load
BUILD_LIBRARIES = {"gtfs_kit", "pandas", "osmnx", "networkx", "osmium"}


# -- import contracts --------------------------------------------------------------------------


def test_the_import_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


# -- a serving process -------------------------------------------------------------------------

_SERVE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    network, store = Path(sys.argv[1]), Path(sys.argv[2])
    settings = Settings(network=network, policy_store_url=f"sqlite:///{store}")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        health = client.get("/health").status_code
        plan = client.get(
            "/plan",
            params={
                "from_lat": 60.1685, "from_lon": 24.9316, "to_lat": 60.1725,
                "to_lon": 24.9560, "at": "2022-02-22T08:00:00+02:00",
            },
        ).status_code
    loaded = sorted({name.split(".")[0] for name in sys.modules})
    print(json.dumps({"health": health, "plan": plan, "loaded": loaded}))
    """
)


def test_a_serving_process_loads_no_build_library(helsinki_dir, tmp_path):
    """The app starts (lifespan: network, planning service, warm-up) and answers a plan in a
    fresh interpreter; a build library found there would load into every worker.
    """
    out = subprocess.run(
        [sys.executable, "-c", _SERVE, str(helsinki_dir), str(tmp_path / "policies.sqlite3")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["health"] == 200, report
    assert set(report["loaded"]) & BUILD_LIBRARIES == set(), report["plan"]


# -- imports inside functions ------------------------------------------------------------------


def _comment_lines(source: str) -> set[int]:
    """Line numbers that hold a comment (tokenized, so a '#' inside a string does not count)."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {tok.start[0] for tok in tokens if tok.type == tokenize.COMMENT}


def _unexplained_function_imports(path: Path, root: Path = ROOT) -> list[str]:
    """`file:line import` for each import inside a function with no comment on its own line
    or the line just above.
    """
    source = path.read_text()
    comments = _comment_lines(source)
    found: list[str] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom) and in_function:
                line = child.lineno
                if line not in comments and line - 1 not in comments:
                    found.append(f"{path.relative_to(root)}:{line} {ast.unparse(child)}")
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, inner)

    visit(ast.parse(source), in_function=False)
    return found


def test_every_import_inside_a_function_says_why():
    found = [
        hit
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for hit in _unexplained_function_imports(path)
    ]
    assert found == [], "\n".join(found)


def test_the_function_import_check_sees_both_kinds_of_comment(tmp_path):
    module = tmp_path / "mod.py"
    module.write_text(
        "import os\n"
        "\n"
        "def f():\n"
        "    import json  # deferred: only f needs it\n"
        "    # deferred: heavy\n"
        "    import csv\n"
        "    import io\n"
        "    s = '# not a comment'\n"
        "    from re import (\n"
        "        compile,\n"
        "    )\n"
        "\n"
        "class C:\n"
        "    def m(self):\n"
        "        import abc\n"
    )
    assert _unexplained_function_imports(module, root=tmp_path) == [
        "mod.py:7 import io",
        "mod.py:9 from re import compile",
        "mod.py:15 import abc",
    ]

"""The routing core stays pure: no web, Redis, ingest or graph-library imports, no file I/O.

Checked two ways: statically over every import statement in `routing/`, and dynamically by
importing the whole package in a fresh interpreter and looking at what got loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "fastapi",
    "starlette",
    "redis",
    "osmnx",
    "gtfs_kit",
    "networkx",
    "osmium",
    "pandas",
    "ingest",
    "api",
    "providers",
    "uvicorn",
}
#: calls that would mean the core does its own I/O
FORBIDDEN_CALLS = {"open", "np.load", "np.save", "numpy.load"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_routing_modules_import_no_web_redis_or_ingest_library():
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & FORBIDDEN)
        for p in (ROOT / "routing").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_routing_modules_do_no_file_io():
    found = []
    for p in (ROOT / "routing").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name in FORBIDDEN_CALLS or name.endswith((".read_text", ".write_text")):
                    found.append(f"{p.name}: {name}")
    assert found == []


def test_importing_routing_loads_none_of_the_forbidden_packages():
    code = (
        "import importlib, json, pkgutil, sys, routing\n"
        "for m in pkgutil.walk_packages(routing.__path__, 'routing.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(out.stdout))
    assert loaded & FORBIDDEN == set()


def test_the_architecture_check_would_catch_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import networkx\nfrom fastapi import FastAPI\n")
    assert _imports(bad) & FORBIDDEN == {"networkx", "fastapi"}

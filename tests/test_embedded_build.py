"""The embedded city is compiled in a child process, so a serving worker never loads the build
stack; these tests check the hand-over without running a real build.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from network import embedded
from network.compiled import NetworkFileError
from network.embedded import EmbeddedBuildError, embedded_target, ensure_embedded_network


def test_an_up_to_date_cache_starts_no_child(helsinki_dir, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("no build expected")

    monkeypatch.setattr(subprocess, "run", refuse)
    assert ensure_embedded_network(progress=False) == helsinki_dir


def test_a_missing_cache_runs_the_build_module_with_this_interpreter(tmp_path, monkeypatch):
    monkeypatch.setenv("FAIRTRIP_CACHE", str(tmp_path))
    calls: list[list[str]] = []

    def fake_build(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", fake_build)
    with pytest.raises(EmbeddedBuildError, match="no up-to-date network"):
        ensure_embedded_network(progress=False)
    [command] = calls
    assert command[:3] == [sys.executable, "-m", "ingest.embedded"]
    assert "--quiet" in command


def test_a_failed_child_is_one_error_the_cli_already_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("FAIRTRIP_CACHE", str(tmp_path))
    monkeypatch.setattr(embedded, "BUILD_MODULE", "ingest.no_such_module")
    with pytest.raises(EmbeddedBuildError, match="exited with status 1") as caught:
        ensure_embedded_network(progress=False)
    assert isinstance(caught.value, NetworkFileError)
    out, _ = embedded_target(embedded.helsinki())
    assert not out.exists()


def test_the_cache_directory_is_named_by_the_input_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("FAIRTRIP_CACHE", str(tmp_path))
    out, digest = embedded_target(embedded.helsinki())
    assert out == Path(tmp_path) / "networks" / f"helsinki-{digest[:12]}"

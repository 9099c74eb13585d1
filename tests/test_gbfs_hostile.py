"""The hostile corpus: every case must be refused with a precise FeedError, and nothing else."""

from __future__ import annotations

import collections
import hashlib
import logging
import time

from providers.errors import FeedError
from providers.gbfs import parse_feed
from tests.gbfs_hostile import (
    RECEIVED_AT_S,
    _encode,
    hostile_cases,
    valid_feed_v3,
    valid_feed_v23,
)

logger = logging.getLogger(__name__)


def _digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()


def test_base_feeds_parse_so_each_mutation_is_the_only_defect():
    v3 = parse_feed("p", _encode(valid_feed_v3()), received_at_s=RECEIVED_AT_S)
    v23 = parse_feed("p", _encode(valid_feed_v23()), received_at_s=RECEIVED_AT_S)
    assert (v3.gbfs_version, len(v3.stations), len(v3.vehicles), len(v3.geofencing.zones)) == (
        "3.0",
        2,
        2,
        1,
    )
    assert (v23.gbfs_version, len(v23.stations), len(v23.vehicles)) == ("2.3", 1, 1)


def test_corpus_is_large_distinct_and_deterministic():
    cases = hostile_cases()
    assert len(cases) >= 300
    assert len({c.label for c in cases}) == len(cases)
    assert len({_digest(c.files) for c in cases}) == len(cases)
    assert [c.label for c in hostile_cases()] == [c.label for c in cases]
    assert all(c.expect for c in cases)


def test_every_hostile_case_raises_feed_error_naming_the_problem(caplog):
    started = time.perf_counter()
    counts: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    with caplog.at_level(logging.ERROR):  # 1.x-style warnings are not what this test is about
        for case in hostile_cases():
            counts[case.category] += 1
            try:
                parse_feed("hostile", case.files, received_at_s=RECEIVED_AT_S)
            except FeedError as exc:
                if case.expect not in exc.path and case.expect not in exc.message:
                    failures.append(f"{case.label}: expected {case.expect!r} in {exc}")
                elif case.file is not None and exc.file != case.file:
                    failures.append(f"{case.label}: blamed {exc.file!r}, not {case.file!r}")
            except Exception as exc:  # any other exception is the bug this hunts for
                failures.append(f"{case.label}: leaked {type(exc).__name__}: {exc}")
            else:
                failures.append(f"{case.label}: accepted")
    elapsed = time.perf_counter() - started
    for category, n in sorted(counts.items()):
        logger.info("hostile %-14s %4d cases", category, n)
    logger.info("hostile total %d cases in %.2f s", sum(counts.values()), elapsed)
    assert not failures, "\n".join(failures[:30])
    assert elapsed < 5.0

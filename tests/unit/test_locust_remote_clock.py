"""Remote Locust workers' records are put on the master's clock (pure: files in, records out)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.load.locust_driver import clock_offset_ns, read_records


def test_offset_is_the_minimum_delay_estimate() -> None:
    # worker clock 5 s behind the master; one-way delays 3 ms, 0.4 ms, 9 ms
    skew = 5_000_000_000
    samples = [(t, t + skew + d) for t, d in ((1_000, 3_000_000), (2_000, 400_000),
                                               (3_000, 9_000_000))]
    assert clock_offset_ns(samples) == skew + 400_000
    with pytest.raises(HarnessError):
        clock_offset_ns([])


def test_remote_records_are_shifted_local_ones_are_not(tmp_path: Path) -> None:
    row = "{i}\t{s}\t{e}\t0\t200\t\tapp-az-a\t0\t1"
    (tmp_path / "requests-123.tsv").write_text(row.format(i=100, s=110, e=200) + "\n")
    (tmp_path / "requests-remote-w1.tsv").write_text(
        row.format(i=10, s=20, e=90) + "\n" + "1\t2\t3\tX\t0\tCancelledAtStop\t\t0\t0\n")
    (tmp_path / "clock-remote-w1.tsv").write_text("50\t1050\n60\t1070\n")
    records, cancelled = read_records(tmp_path)
    assert cancelled == 1
    got = sorted((r.intended_ns, r.start_ns, r.end_ns) for r in records)
    assert got == [(100, 110, 200), (1010, 1020, 1090)]  # offset min(1000, 1010) = 1000
    (tmp_path / "requests-remote-w2.tsv").write_text(row.format(i=1, s=2, e=3) + "\n")
    with pytest.raises(HarnessError, match="w2"):
        read_records(tmp_path)

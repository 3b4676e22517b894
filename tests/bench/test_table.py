"""The summary table (bench/table.py): ratios against goals, and the docs section it
rewrites."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import table

RATIO = table.Ratio("x: a / b", 0.55, (0.46, 0.67, 0.55), table.at_least(0.6), cpu=0.5)
ROWS = [
    table.Row("x", "a", "1,000 req/s", "1.0 / 2.0 ms", "500 us/req", RATIO),
    table.Row("x", "b | c", "1,800 req/s"),
]


def test_ratio_reads_with_its_spread_and_goal() -> None:
    """The median ratio, the range of its rounds, the CPU ratio, whether the goal is met."""
    assert "0.55 (0.46-0.67); CPU 0.50" == RATIO.text()
    assert ">= 0.6: NOT met" == RATIO.goal_text()
    assert table.Ratio("y", 4.2, goal=table.at_most(5), unit=" ms").goal_text() == "<= 5: met"
    assert "-" == table.Ratio("z", 1.0).goal_text()
    noisy = table.Ratio("w", 1.02, goal=table.at_least(0.95), cpu=0.8)
    assert ">= 0.95: met; by CPU: NOT met" == noisy.goal_text()
    assert table.Ratio("z", 1.0).met is None


def test_markdown_table_escapes_pipes() -> None:
    """A `|` inside a cell does not split it."""
    lines = table.markdown_table(ROWS).splitlines()

    assert "| x | b \\| c | 1,800 req/s | - | - |  |  |" == lines[-1]
    assert 4 == len(lines)


def test_update_docs_rewrites_only_the_results_section(tmp_path: Path) -> None:
    """Before the begin marker and from the end marker on, the file stays as it was."""
    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# B\n\nintro\n{table.BEGIN}\nold figures\n{table.END}\n\n## After\n")

    table.update_docs(docs, "Measured on a test.", ROWS)

    expected = (
        f"# B\n\nintro\n{table.BEGIN}\nMeasured on a test.\n\n{table.markdown_table(ROWS)}\n"
        f"{table.END}\n\n## After\n"
    )
    assert expected == docs.read_text()


def test_update_docs_without_markers_is_an_error(tmp_path: Path) -> None:
    """A file without the section is left alone, and the error names the markers."""
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# B\n")

    with pytest.raises(ValueError, match=r"no .*bench:results:begin"):
        table.update_docs(docs, "Measured on a test.", ROWS)
    assert "# B\n" == docs.read_text()

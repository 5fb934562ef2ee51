"""The shared table: never cuts a cell, splits its columns (repeating the key) when they cannot fit."""

from __future__ import annotations

import re

from rich.console import Console

from saliency_cli.render.tables import DataTable


def _render(table, width: int) -> list[str]:
    console = Console(width=width, color_system=None, record=True)
    with console.capture() as capture:
        console.print(table)
    return capture.get().splitlines()


def _table() -> DataTable:
    table = DataTable(title="t", key=1)
    table.add_column("name", numeric=False)
    for i in range(6):
        table.add_column(f"value{i}")
    table.add_row("first_layer_name", *(f"{1.2345678 * 10**i:.6f}" for i in range(6)))
    return table


def test_a_table_that_fits_is_one_table():
    lines = _render(_table(), 200)
    assert sum("first_layer_name" in line for line in lines) == 1
    assert all(f"{1.2345678 * 10**i:.6f}" in lines[-1] for i in range(6))


def test_a_narrow_table_is_split_and_repeats_its_key_column():
    lines = _render(_table(), 40)
    assert max(len(line) for line in lines) <= 40 and "…" not in "".join(lines)
    assert sum("first_layer_name" in line for line in lines) >= 2  # each part names its row
    text = "\n".join(lines)
    for i in range(6):
        assert f"value{i}" in text and f"{1.2345678 * 10**i:.6f}" in text
    assert "t (continued)" in text


def test_text_wraps_between_words_before_splitting():
    table = DataTable(title=None)
    table.add_column("#")
    table.add_column("settings", numeric=False)
    table.add_row("0", "in_channels=2, out_channels=8, kernel_size=3, stride=1, padding=1")
    lines = _render(table, 24)
    assert max(len(line) for line in lines) <= 24
    words = " ".join(lines).split()
    for word in ("in_channels=2,", "out_channels=8,", "kernel_size=3,", "stride=1,", "padding=1"):
        assert word in words


def test_cost_reports_its_progress_up_to_the_total(shipped):
    from saliency_cli.inputs import make_probe
    from saliency_cli.reports.cost import measure_costs

    net = shipped("blobs8x8-gap")
    seen = []
    measure_costs(
        net, make_probe(net, "clean").x, steps=2, samples=2, repeats=2, progress=lambda d, t: seen.append((d, t))
    )
    totals = {t for _, t in seen}
    assert len(totals) == 1 and seen[0][0] == 0 and seen[-1][0] == totals.pop()
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_header_wraps_between_words_before_the_table_is_split():
    table = DataTable(title="mass")
    table.add_column("channel")
    for header in ("vanilla |grad|", "SmoothGrad", "Integrated Gradients"):
        table.add_column(header)
    table.add_row("0", "15.46 (51%)", "16.65 (48%)", "6.375 (94%)")
    lines = _render(table, 50)  # whole headers need 7 + 14 + 11 + 20 + 9 = 61 columns, wrapped ones 46
    assert max(len(line) for line in lines) <= 50 and "(continued)" not in "\n".join(lines)
    assert any("Integrated" in line for line in lines) and any("Gradients" in line for line in lines)
    assert any(all(v in line for v in ("15.46 (51%)", "16.65 (48%)", "6.375 (94%)")) for line in lines)


def test_titles_wrap_between_whole_phrases_at_the_full_width():
    """A title takes the console's width (not the narrower table's) and breaks only between phrases."""
    from saliency_cli.render.phrases import split_phrases

    title = "top 8 pixels of the vanilla map (x = column, y = row)"
    assert split_phrases(title) == ["top 8 pixels of the vanilla map", "(x = column, y = row)"]
    assert split_phrases("a: b, c (d, e: f)") == ["a:", "b,", "c", "(d, e: f)"]
    table = DataTable(title=title)
    table.add_column("#")
    table.add_row("1")
    assert _render(table, 60)[0] == title  # the table is 1 column wide; its title is not squeezed to it
    assert _render(table, 40)[:2] == ["top 8 pixels of the vanilla map", "(x = column, y = row)"]
    assert [line.rstrip() for line in _render(table, 20)[:2]] == ["top 8 pixels of the", "vanilla map"]  # folded


def test_phrases_never_split_a_key_from_its_value():
    from saliency_cli.render.probe import predicted_value

    probabilities = [0.1] * 10
    for width in range(20, 80):
        lines = [line.rstrip() for line in _render(predicted_value("3 (three)", probabilities), width)]
        pairs = [pair for line in lines for pair in re.findall(r"(\d): 0\.1000", line)]
        assert pairs == [str(i) for i in range(10)], (width, lines)  # every class with its value on one line
        assert max(map(len, lines)) <= width


def test_counts_are_singular_for_one():
    from saliency_cli.render.tables import counted

    assert counted(1, "linear piece") == "1 linear piece" and counted(49, "linear piece") == "49 linear pieces"
    assert counted(1, "copy", "copies") == "1 copy" and counted(1329, "copy", "copies") == "1,329 copies"

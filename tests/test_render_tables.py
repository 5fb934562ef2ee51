"""The shared table: never cuts a cell, splits its columns (repeating the key) when they cannot fit."""

from __future__ import annotations

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

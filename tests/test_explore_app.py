"""The explorer driven headless with Textual's pilot: keys, workers, tabs, screenshots and a snapshot."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

pytest.importorskip("textual")

from textual.widgets import Footer

from saliency_cli.explore.app import ExploreApp
from saliency_cli.explore.samples import generated_set
from saliency_cli.explore.state import LRP_CHOICES, Selection
from tests.svgtext import svg_lines, svg_summary

SNAPSHOTS = Path(__file__).parent / "snapshots"


def make_app(shipped, task="blobs8x8", probes=16, seed=0, **selection):
    net = shipped(task)
    return ExploreApp(net, generated_set(net, probes, seed), Selection(**selection), seed=seed)


async def settle(app, pilot):
    """Wait until every worker is done and the screen shows every result."""
    for _ in range(500):
        await app.workers.wait_for_complete()
        await pilot.pause()
        footer_ready = bool(app.query_one(Footer).children)  # the footer fills in its keys a moment later
        if footer_ready and not app.pending and not any(w.is_running for w in app.workers):
            return
    raise AssertionError("the app did not settle")


def drive(app, script, size=(160, 45)):
    """Run `script(pilot)` against `app` headless, from a synchronous test."""

    async def main():
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot)
            await script(pilot)

    asyncio.run(main())


def screen(app) -> str:
    return "\n".join(svg_lines(app.export_screenshot()))


def test_start_step_through_samples_and_pick_at_random(shipped):
    app = make_app(shipped, task="blobs6x6")
    seen = {}

    async def script(pilot):
        text = screen(app)
        probe = app.samples.probes[0]
        assert "sample 0 of 0..15" in text and f"true class {probe.label}" in text
        assert f"predicted {app.prediction['predicted']} (" in text and "IG gap " in text and "unexplained " in text
        assert "blob mass" in text and "Grad-CAM" not in text  # a dense model has no conv layer
        for key, index in (("right", 1), ("k", 2), ("j", 1), ("left", 0), ("left", 15)):
            await pilot.press(key)
            await settle(app, pilot)
            assert app.selection.index == index
        assert "sample 15 of 0..15" in screen(app)
        picks = []
        for _ in range(3):
            await pilot.press("r")
            await settle(app, pilot)
            picks.append(app.selection.index)
        seen["picks"] = picks
        await pilot.press("1", "2", "enter")
        await settle(app, pilot)
        assert app.selection.index == 12 and "sample 12 of 0..15" in screen(app)
        await pilot.press("9", "9", "enter")  # out of range: stays, says so
        await pilot.pause()
        assert app.selection.index == 12 and app.goto == ""
        await pilot.press("n")
        await settle(app, pilot)
        assert app.selection.index == 0  # 12 is the first of level 0.45; next level wraps to 0.05
        assert "noise 0.05" in screen(app)

    drive(app, script)
    again = make_app(shipped, task="blobs6x6")

    async def replay(pilot):
        picks = []
        for _ in range(3):
            await pilot.press("r")
            await settle(again, pilot)
            picks.append(again.selection.index)
        assert picks == seen["picks"]  # seeded: the same random sequence every run

    drive(again, replay)


def test_target_rule_quadrature_and_scale(shipped):
    app = make_app(shipped, task="blobs6x6", probes=4)

    async def script(pilot):
        predicted = app.prediction["predicted"]
        await pilot.press("t")
        await settle(app, pilot)
        assert app.selection.target == 0 and "explaining class 0 (top-left), chosen with t" in screen(app)
        await pilot.press("t", "t")
        await settle(app, pilot)
        assert app.selection.target is None and f"explaining class {predicted}" in screen(app)
        await pilot.press("l")
        await settle(app, pilot)
        assert app.selection.lrp == LRP_CHOICES[1] and f"LRP {LRP_CHOICES[1]}" in screen(app)
        await pilot.press("L", "L")
        await settle(app, pilot)
        assert app.selection.lrp == LRP_CHOICES[-1]
        assert app.shown["lrp"].check.startswith("unexplained ")
        await pilot.press("i")
        await settle(app, pilot)
        assert app.selection.quadrature == "right" and "IG right 32" in screen(app)
        await pilot.press("plus")
        await settle(app, pilot)
        assert app.selection.steps == 64 and "IG right 64" in screen(app)
        await pilot.press("minus", "minus")
        await settle(app, pilot)
        assert app.selection.steps == 16
        await pilot.press("i")
        await settle(app, pilot)
        assert app.selection.quadrature == "exact" and "IG exact" in screen(app)
        assert "per-map scale" in screen(app)
        await pilot.press("s")
        await pilot.pause()
        assert app.selection.shared_scale and "shared scale: maps as shares" in screen(app)

    drive(app, script)


def test_results_are_cached_per_sample_target_and_settings(shipped):
    app = make_app(shipped, task="blobs6x6", probes=4)

    async def script(pilot):
        filled = len(app.cache)
        await pilot.press("l")
        await settle(app, pilot)
        assert len(app.cache) == filled + 1  # only the LRP panel was computed again
        await pilot.press("L")
        await settle(app, pilot)
        assert len(app.cache) == filled + 1  # back to epsilon: from the cache
        await pilot.press("right")
        await settle(app, pilot)
        await pilot.press("left")
        # the first sample's results are cached: shown at once, no worker needed
        await pilot.pause()
        assert not app.pending

    drive(app, script)


def test_tabs_features_ledger_and_cost(shipped):
    app = make_app(shipped, task="blobs8x8", probes=4)

    async def script(pilot):
        await pilot.press("f")
        await settle(app, pilot)
        text = screen(app)
        assert "conv1 (#0, conv2d): 8 channels of 8x8" in text and "ch 7 [" in text
        assert [fm.name for fm in app.shown["features"]] == ["conv1", "relu1", "pool1"]  # below, by scrolling
        await pilot.press("g")
        await pilot.pause()
        text = screen(app)
        assert "conservation ledger (epsilon)" in text
        report = app.shown["lrp"].extra["report"]
        for entry in report.runs["epsilon"].ledger.entries:
            assert f" {entry.name} " in text  # one row per layer
        assert "logit " in text and "largest unexplained remainder" in text
        await pilot.press("c")
        await settle(app, pilot)
        text = screen(app)
        assert "measured on sample 0" in text and "Integrated Gradients" in text and "x forward" in text
        await pilot.press("e")
        await settle(app, pilot)
        text = screen(app)
        assert "`saliency-cli evaluate` with its default settings on this set (4 generated probes" in text
        assert "evaluate: 4 probes" in text and "pointing" in text and "lrp:gamma" in text
        assert app.evaluation is not None and app.evaluation is not None
        await pilot.press("tab")
        await pilot.pause()
        from textual.widgets import TabbedContent

        assert app.query_one(TabbedContent).active == "maps"

    drive(app, script)


def test_keys_screen_and_screenshot(shipped, tmp_path, monkeypatch):
    app = make_app(shipped, task="blobs6x6", probes=4)
    monkeypatch.chdir(tmp_path)

    async def script(pilot):
        await pilot.press("question_mark")
        await pilot.pause()
        assert "saliency-cli explore: keys" in screen(app) and "ctrl+s" in screen(app)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        scroller = app._scroller()  # 100x30: the maps do not fit; the keys scroll them
        assert scroller.max_scroll_y > 0 and scroller.scroll_y == 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert scroller.scroll_y > 0
        await pilot.press("up")
        await pilot.pause()
        assert scroller.scroll_y == min(scroller.max_scroll_y, scroller.size.height - 2) - 1

    drive(app, script, size=(100, 30))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saliency-explore-0-1.svg", "saliency-explore-0.svg"]
    lines = svg_lines((tmp_path / "saliency-explore-0.svg").read_text())
    assert any("sample 0 of 0..3" in line for line in lines) and not any("Grad-CAM" in line for line in lines)


def test_main_screen_snapshot(shipped):
    """The main screen at 160x45, compared row by row (text) and cell by cell (colours) with the stored SVG.

    Regenerate after an intended change with SNAPSHOT_UPDATE=1 and review tests/snapshots/explore_main.svg.
    """
    app = make_app(shipped, probes=16, seed=0, index=3)
    got = {}

    async def script(pilot):
        got["svg"] = app.export_screenshot(title="saliency-cli explore")
        text = "\n".join(svg_lines(got["svg"]))
        assert "Grad-CAM relu1" in text and "Grad-CAM++ relu1" in text and "peak (6,6) on blob" in text

    drive(app, script)
    path = SNAPSHOTS / "explore_main.svg"
    if os.environ.get("SNAPSHOT_UPDATE") or not path.exists():
        path.write_text(got["svg"])
        if not os.environ.get("SNAPSHOT_UPDATE"):
            pytest.fail(f"no snapshot yet: wrote {path}; review it and commit it")
    want, have = svg_summary(path.read_text()), svg_summary(got["svg"])
    if want != have:
        actual = path.with_suffix(".actual.svg")
        actual.write_text(got["svg"])
        for i, (a, b) in enumerate(zip(want["lines"], have["lines"], strict=False)):
            assert a == b, f"row {i} differs (see {actual}; SNAPSHOT_UPDATE=1 to accept):\n{a}\n{b}"
        assert len(want["lines"]) == len(have["lines"]), f"row count differs (see {actual})"
        assert want["cells"] == have["cells"], f"colours differ (see {actual}; SNAPSHOT_UPDATE=1 to accept)"


def test_quick_steps_cancel_stale_work_and_show_only_the_last_selection(shipped):
    app = make_app(shipped, task="blobs8x8", probes=8)

    async def script(pilot):
        await pilot.press("right", "right", "right", "l")  # no waiting between keys
        await settle(app, pilot)
        assert app.selection.index == 3 and app.selection.lrp == "gamma"
        for piece in app.pieces:  # every panel shows the result computed for the last selection
            assert app.shown[piece.name] is app.cache.get(piece.key(app.selection))
        assert "sample 3 of 0..7" in screen(app) and "LRP gamma" in screen(app)
        assert not any(w.is_running for w in app.workers)

    drive(app, script)


def test_one_numbering_in_the_top_bar_and_the_sample_line(shipped):
    """0-based everywhere (as --index, the go-to digits and `file[i]`): both lines say `45 of 0..63`."""
    app = make_app(shipped, task="blobs6x6", probes=64, index=45)

    async def script(pilot):
        lines = svg_lines(app.export_screenshot())
        assert "sample 45 of 0..63" in lines[0] and lines[1].lstrip().startswith("sample 45 of 0..63"), lines[:3]
        assert not any("45/63" in line or "of 64" in line for line in lines)

    drive(app, script)


def test_digits_typed_in_one_burst_go_to_that_sample(shipped):
    """`4 5 enter` arriving together (as a terminal delivers a quick typist's keys) go to sample 45."""
    from textual import events

    app = make_app(shipped, task="blobs6x6", probes=64)

    async def script(pilot):
        for key, character in (("4", "4"), ("5", "5"), ("enter", "\r")):
            app.post_message(events.Key(key, character))  # no pause between them: one burst
        await settle(app, pilot)
        assert app.selection.index == 45 and app.goto == ""
        for key, character in (("1", "1"), ("backspace", None), ("2", "2"), ("enter", "\r")):
            app.post_message(events.Key(key, character))
        await settle(app, pilot)
        assert app.selection.index == 2

    drive(app, script)


@pytest.mark.parametrize("width", [160, 69, 60, 45, 32])
def test_the_tab_strip_shortens_names_and_never_cuts_one(shipped, width):
    """Every tab's whole label is on the screen at any width (shorter labels on narrow screens)."""
    from saliency_cli.explore.app import TABS, tab_labels

    app = make_app(shipped, task="blobs6x6", probes=4)

    async def script(pilot):
        strip = next(line for line in svg_lines(app.export_screenshot()) if "Maps" in line or " M " in line)
        labels = tab_labels(width)
        assert "  ".join(labels.values()) in strip, strip
        assert width < 70 or labels == {tab: f"{name} ({key})" for tab, (name, _, key) in TABS.items()}

    drive(app, script, size=(width, 30))


def test_shared_scale_names_the_map_that_tops_it(shipped):
    """In shared-scale mode every panel gives the common top and which map it is the largest share of."""
    from saliency_cli.explore import views

    app = make_app(shipped, task="blobs8x8", probes=4)

    async def script(pilot):
        await pilot.press("s")
        await pilot.pause()
        shares = {p.label: views.panel_vmax(app.shown[p.name], True) for p in app.pieces}
        top = max(shares, key=shares.get)
        text = screen(app)
        assert text.count(f"max {shares[top]:.1%} (of {top})") == len(app.pieces), text
        assert text.count("shared scale,") == len(app.pieces) and "share, max" not in text

    drive(app, script)


def test_the_cost_tab_measures_the_ig_selected(shipped):
    """Exact IG selected: the Cost tab times exact IG and counts its pieces; `i`: the right-Riemann rule."""
    app = make_app(shipped, task="blobs6x6", probes=4)

    async def script(pilot):
        await pilot.press("c")
        await settle(app, pilot)
        text = screen(app)
        pieces = app.shown["ig"].extra.get("pieces")
        assert "IG exact as selected (i)" in text and "Integrated Gradients (exact)" in text
        assert "linear pieces x (forward + backward)" in text and "32 x (forward" not in text
        await pilot.press("i")
        await settle(app, pilot)
        text = screen(app)
        assert "IG right-Riemann, 32 steps as selected (i)" in text and "(exact)" not in text
        assert "Integrated Gradients: 32 x (forward + backward)" in text
        del pieces

    drive(app, script, size=(160, 60))

"""The explorer app: keys change a `Selection`; background workers fill the panels; results are cached."""

from __future__ import annotations

import copy
import threading
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import ClassVar

import numpy as np
from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.widgets import Footer, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from ..render.phrases import Phrases
from . import views
from .compute import PIECES, feature_layers, prediction
from .slow_tabs import SlowTabs
from .state import ResultCache, Selection
from .widgets import KeysScreen, MapPanel

TITLE = "saliency-cli explore"
#: tab id -> (label, short label, key)
TABS = {
    "maps": ("Maps", "Maps", "m"),
    "features": ("Feature maps", "Features", "f"),
    "ledger": ("LRP ledger", "Ledger", "g"),
    "cost": ("Cost", "Cost", "c"),
    "evaluate": ("Evaluate", "Evaluate", "e"),
}


#: The tab strip's labels, longest first: "Feature maps (f)", "Features f", "Features", "F".
_TAB_STYLES = (
    lambda label, short, key: f"{label} ({key})",
    lambda label, short, key: f"{short} {key}",
    lambda label, short, key: short,
    lambda label, short, key: key.upper(),
)


def tab_labels(width: int) -> dict[str, str]:
    """tab id -> label: the longest style whose strip (each label padded by a cell either side) fits `width`."""
    for style in _TAB_STYLES:
        labels = {tab: style(*names) for tab, names in TABS.items()}
        if sum(len(label) + 2 for label in labels.values()) <= width - 2:
            break
    return labels


class ExploreApp(SlowTabs, App):
    """`saliency-cli explore`: one probe at a time, every method side by side, computed in the background."""

    TITLE = TITLE
    CSS = """
    #controls { height: auto; padding: 0 1; background: $boost; }
    #prediction { height: auto; padding: 0 1; }
    TabbedContent { height: 1fr; }
    TabPane { padding: 0 1; }
    #maps-grid { height: auto; grid-rows: auto; grid-gutter: 0 1; }
    #legend { height: auto; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("right,k", "step(1)", "next", show=False, priority=True),
        Binding("left,j", "step(-1)", "previous", show=False, priority=True),
        Binding("r", "random", "random", show=False, priority=True),
        Binding("n", "noise", "noise level", show=False, priority=True),
        Binding("t", "target", "target", show=False, priority=True),
        Binding("l", "lrp(1)", "LRP rule", show=False, priority=True),
        Binding("L", "lrp(-1)", "previous LRP rule", show=False, priority=True),
        Binding("i", "quadrature", "IG quadrature", show=False, priority=True),
        Binding("plus,equals_sign", "steps(1)", "more IG steps", show=False, priority=True),
        Binding("minus", "steps(-1)", "fewer IG steps", show=False, priority=True),
        Binding("s", "scale", "scale", show=False, priority=True),
        Binding("m", "tab('maps')", "maps", show=False, priority=True),
        Binding("f", "tab('features')", "features", show=False, priority=True),
        Binding("g", "tab('ledger')", "ledger", show=False, priority=True),
        Binding("c", "tab('cost')", "cost", show=False, priority=True),
        Binding("e", "tab('evaluate')", "evaluate", show=False, priority=True),
        Binding("tab", "next_tab", "next tab", show=False, priority=True),
        Binding("down", "scroll(1)", "scroll down", show=False, priority=True),
        Binding("up", "scroll(-1)", "scroll up", show=False, priority=True),
        Binding("pagedown,space", "scroll_page(1)", "page down", show=False, priority=True),
        Binding("pageup", "scroll_page(-1)", "page up", show=False, priority=True),
        # NOTE: digits, backspace and enter are all priority bindings, handled in the order typed: a digit left
        # to bubble up from the focused widget would arrive after an enter typed in the same burst.
        *(Binding(d, f"digit('{d}')", "go to", show=False, priority=True) for d in "0123456789"),
        Binding("backspace", "erase", "erase a digit", show=False, priority=True),
        Binding("enter", "goto", "go to", show=False, priority=True),
        Binding("escape", "clear_goto", "cancel", show=False),
        Binding("ctrl+s", "save", "save SVG", priority=True),
        Binding("question_mark", "keys", "keys", priority=True),
        Binding("q", "quit", "quit", priority=True),
    ]

    def __init__(self, net, samples, selection: Selection, *, seed: int = 0, color: bool = True, screenshot=None):
        super().__init__()
        self.net = net  # the workers' copy; `_lock` serialises them (the network caches its activations)
        self._ui_net = copy.deepcopy(net)  # predictions on the interface's thread never wait for a worker
        self._cost_net = copy.deepcopy(net)
        self._eval_net = copy.deepcopy(net)
        self.seed = seed
        self.evaluation = None  # the `evaluate` summary of the whole set, once computed
        self._lock = threading.Lock()
        self.samples = samples
        self.selection = selection
        self.color = color
        self.rng = np.random.default_rng([seed, 7])
        self.cache = ResultCache()
        self.pieces = [p for p in PIECES if p.applies(net)]
        self.shown: dict[str, object] = {}  # piece name -> result for the current selection
        self.goto = ""
        self.screenshot_path = screenshot
        self.saved: list[Path] = []
        self.kept: dict[Path, Path] = {}  # a saved screen's path -> the backup of the different file it replaced

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="controls")
        yield Static(id="prediction")
        with TabbedContent(initial="maps"):
            for tab, label in tab_labels(self.size.width).items():
                with TabPane(label, id=tab):
                    if tab == "maps":
                        with VerticalScroll():
                            yield Static(id="legend")
                            with Grid(id="maps-grid"):
                                yield MapPanel("input")
                                for piece in self.pieces:
                                    yield MapPanel(piece.name)
                    else:
                        with VerticalScroll():
                            yield Static(id=f"{tab}-body")
        yield Footer()

    def on_mount(self) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.can_focus = False
        self._fit_grid(self.size.width)
        self._fit_tabs(self.size.width)
        self.update_all()

    def on_resize(self, event: events.Resize) -> None:
        self._fit_grid(event.size.width)
        self._fit_tabs(event.size.width)

    def _fit_tabs(self, width: int) -> None:
        """The longest tab labels whose strip fits `width`: names are shortened, never cut at the edge."""
        labels = tab_labels(width)
        tabs = self.query_one(TabbedContent)
        for tab, label in labels.items():
            tabs.get_tab(tab).label = label

    def _panel_width(self) -> int:
        return max(21, 3 + 2 * int(self.net.input_shape[2]) + 2)

    def _fit_grid(self, width: int) -> None:
        grid = self.query_one("#maps-grid", Grid)
        panel = self._panel_width()
        columns = max(1, min(len(self.pieces) + 1, (width - 2) // (panel + 1)))
        grid.styles.grid_size_columns = columns
        grid.styles.grid_columns = str(panel)

    # -- drawing --------------------------------------------------------------------------------

    def _panel(self, name: str) -> MapPanel:
        return self.query_one(f"#panel-{name.replace('+', 'p')}", MapPanel)

    def update_all(self) -> None:
        """Redraw what needs no work and start the workers for the rest."""
        self.shown = {}
        self._draw_controls()
        probe = self.samples.probes[self.selection.index]
        self.prediction = prediction(self._ui_net, probe)
        self.query_one("#prediction", Static).update(
            views.prediction_text(self.samples, self.selection.index, self.prediction, self.net.classes, self.selection)
        )
        self._panel("input").update(views.input_panel(probe, self.color))
        self._start_maps()
        if self.query_one(TabbedContent).active == "cost":
            self._start_cost()

    def _draw_controls(self) -> None:
        sel, samples = self.selection, self.samples
        items = []

        def item(key: str, label: str, value: str) -> None:
            text = Text()
            text.append(f" {key} ", style="reverse bold")
            text.append(f" {label} ")
            text.append(value, style="bold")
            items.append(text.rstrip() or text)

        item("←/→ j/k", "sample", views.sample_number(sel.index, len(samples)))
        if self.goto:
            items.append(Text(f"go to {self.goto}_ (enter)", style="bold yellow"))
        item("r", "random", "")
        if samples.levels:
            item("n", "noise", f"{samples.noise[sel.index]:g}")
        item("t", "target", "auto" if sel.target is None else str(sel.target))
        item("l", "LRP", sel.lrp)
        ig = "exact" if sel.quadrature == "exact" else f"right, {sel.steps} steps (+/-)"
        item("i", "IG", ig)
        item("s", "scale", "shared" if sel.shared_scale else "per map")
        item("?", "keys", "")
        # NOTE: a narrow screen wraps between items, never inside one (a key apart from what it does)
        self.query_one("#controls", Static).update(Phrases(*items, sep="   "))

    def _draw_maps(self) -> None:
        shared = self.selection.shared_scale
        vmaxes = {name: views.panel_vmax(r, shared) for name, r in self.shown.items() if name in self._map_names}
        top = max(vmaxes, key=vmaxes.get, default=None)  # the map whose largest share tops the shared scale
        common = vmaxes.get(top, 0.0)
        label = {p.name: p.label for p in self.pieces}.get(top)
        for name, vmax in vmaxes.items():
            panel = views.map_panel(self.shown[name], self.color, common if shared else vmax, shared, label)
            self._panel(name).update(panel)
        self.query_one("#legend", Static).update(views.legend_line(self.color, shared))

    @property
    def _map_names(self) -> set[str]:
        return {p.name for p in self.pieces}

    def _draw_features(self) -> None:
        body = views.features_view(self.shown["features"], self.color)
        self.query_one("#features-body", Static).update(body)

    def _draw_ledger(self) -> None:
        lrp = self.shown.get("lrp")
        body = self.query_one("#ledger-body", Static)
        if lrp is None or "report" not in lrp.extra:
            body.update(Text("computing the LRP ledger…", style="dim"))
            return
        body.update(views.ledger_view(lrp.extra["report"]))

    # -- computing ------------------------------------------------------------------------------

    def _jobs(self) -> list[tuple[str, tuple, object]]:
        """(name, cache key, function of the probe) for every result the current selection shows."""
        sel = self.selection
        jobs = [(p.name, p.key(sel), partial(p.compute, self.net, sel=sel)) for p in self.pieces]
        jobs.append(("features", ("features", sel.index), partial(feature_layers, self.net)))
        return jobs

    def _start_maps(self) -> None:
        self.workers.cancel_group(self, "maps")
        todo = []
        for name, key, fn in self._jobs():
            cached = self.cache.get(key)
            if cached is None:
                todo.append((name, key, fn))
                if name in self._map_names:
                    self._panel(name).loading = True
            else:
                self._deliver(self.selection, name, key, cached)
        self._draw_maps()
        self._draw_ledger()
        if todo:
            probe = self.samples.probes[self.selection.index]
            work = partial(self._compute, self.selection, probe, todo)
            self.run_worker(work, thread=True, exclusive=True, group="maps", name="maps")
        else:
            self._maybe_finish()

    def _compute(self, selection: Selection, probe, todo) -> None:
        """In a worker thread: each missing result in turn, handed to the interface as soon as it is ready."""
        worker = get_current_worker()
        for name, key, fn in todo:
            with self._lock:
                if worker.is_cancelled:
                    return
                try:
                    result = fn(probe)
                except Exception as exc:  # NOTE: shown in its panel; the app goes on
                    result = exc
            if worker.is_cancelled:
                return
            self.call_from_thread(self._deliver, selection, name, key, result)

    def _deliver(self, selection: Selection, name: str, key: tuple, result) -> None:
        """A result arrived (or came from the cache): keep it, and show it if it is still wanted."""
        if isinstance(result, Exception):
            if selection == self.selection and name in self._map_names:
                self._panel(name).loading = False
                self._panel(name).update(Text(f"{name}: {result}", style="bold red"))
            return
        self.cache.put(key, result)
        if selection != self.selection:
            return
        self.shown[name] = result
        if name in self._map_names:
            self._panel(name).loading = False
            self._draw_maps()
        if name == "features":
            self._draw_features()
        if name == "lrp":
            self._draw_ledger()
        self._maybe_finish()

    @property
    def pending(self) -> bool:
        """Whether a result the screen shows is still being computed."""
        return any(name not in self.shown for name, _, _ in self._jobs())

    def _maybe_finish(self) -> None:
        if self.screenshot_path is not None and not self.pending:
            self.call_after_refresh(self._save_and_exit)

    def _save_and_exit(self, tries: int = 0, previous: str | None = None) -> None:
        """Save the screenshot once the screen is settled, then exit.

        NOTE: the footer fills in its keys a moment after the screen is up: the picture is taken when the
        footer has its keys and two pictures 50 ms apart are the same (at most 100 tries), so that the same
        options always give the same bytes.
        """
        if self.screenshot_path is None:
            return
        picture = self.export_screenshot(title=TITLE)
        settled = bool(self.query_one(Footer).children) and picture == previous
        if not settled and tries < 100:
            self.set_timer(0.05, lambda: self._save_and_exit(tries + 1, picture))
            return
        path, self.screenshot_path = self.screenshot_path, None
        self.write_screen(path, picture)
        self.exit()

    def write_screen(self, path: Path, picture: str | None = None) -> Path:
        """Save the screen as SVG at `path` (a different file there is kept as a backup)."""
        from ..files import commit_replacing

        data = (picture if picture is not None else self.export_screenshot(title=TITLE)).encode("utf-8")
        backup = commit_replacing(Path(path), data)
        if backup is not None:
            self.kept[Path(path)] = backup
        self.saved.append(Path(path))
        return Path(path)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:  # NOTE: never expected (errors are caught and shown)
            self.notify(f"{event.worker.name}: {event.worker.error}", severity="error")

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "cost":
            self._start_cost()
        if event.pane.id == "evaluate" and self.evaluation is None:
            self._start_evaluation()

    # -- actions --------------------------------------------------------------------------------

    def select(self, selection: Selection) -> None:
        if selection != self.selection:
            self.selection = selection
            self.update_all()

    def action_step(self, step: int) -> None:
        self.select(replace(self.selection, index=(self.selection.index + step) % len(self.samples)))

    def action_random(self) -> None:
        self.select(replace(self.selection, index=int(self.rng.integers(len(self.samples)))))

    def action_noise(self) -> None:
        self.select(replace(self.selection, index=self.samples.next_level(self.selection.index)))

    def action_target(self) -> None:
        self.select(self.selection.with_target_cycled(self.net.num_classes))

    def action_lrp(self, step: int) -> None:
        self.select(self.selection.with_lrp_cycled(step))

    def action_quadrature(self) -> None:
        from ..methods.integrated import exact_ig_available

        if self.selection.quadrature == "right":
            reason = exact_ig_available(self.net)
            if reason:
                self.notify(f"exact IG: {reason}", severity="warning")
                return
        self.select(replace(self.selection, quadrature="right" if self.selection.quadrature == "exact" else "exact"))

    def action_steps(self, step: int) -> None:
        if self.selection.quadrature == "exact":
            self.notify("exact IG needs no steps: press i for the right-Riemann rule")
            return
        self.select(self.selection.with_steps(step))

    def action_scale(self) -> None:
        self.selection = replace(self.selection, shared_scale=not self.selection.shared_scale)
        self._draw_controls()
        self._draw_maps()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def _scroller(self) -> VerticalScroll:
        active = self.query_one(TabbedContent).active
        return self.query_one(f"#{active}", TabPane).query_one(VerticalScroll)

    def action_scroll(self, lines: int) -> None:
        self._scroller().scroll_relative(y=lines, animate=False)

    def action_scroll_page(self, pages: int) -> None:
        scroller = self._scroller()
        scroller.scroll_relative(y=pages * max(1, scroller.size.height - 2), animate=False)

    def action_next_tab(self) -> None:
        tabs = list(TABS)
        current = self.query_one(TabbedContent).active
        self.action_tab(tabs[(tabs.index(current) + 1) % len(tabs)])

    def action_digit(self, digit: str) -> None:
        if len(self.goto) < 9:
            self.goto += digit
            self._draw_controls()

    def action_erase(self) -> None:
        if self.goto:
            self.goto = self.goto[:-1]
            self._draw_controls()

    def action_goto(self) -> None:
        if not self.goto:
            return
        index, self.goto = int(self.goto), ""
        if index >= len(self.samples):
            self.notify(f"no sample {index}: the set has 0..{len(self.samples) - 1}", severity="warning")
            self._draw_controls()
            return
        self._draw_controls()
        self.select(replace(self.selection, index=index))

    def action_clear_goto(self) -> None:
        self.goto = ""
        self._draw_controls()

    def action_save(self) -> None:
        n, path = 0, Path(f"saliency-explore-{self.selection.index}.svg")
        while path.exists() or path.is_symlink():
            n += 1
            path = Path(f"saliency-explore-{self.selection.index}-{n}.svg")
        try:
            self.write_screen(path)
        except Exception as exc:
            self.notify(f"could not save the screen: {exc}", severity="error")
            return
        self.notify(f"saved the screen to {path}")

    def action_keys(self) -> None:
        self.push_screen(KeysScreen())

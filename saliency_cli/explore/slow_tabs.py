"""The explorer's slow tabs, computed in background workers only when opened: the measured cost of every
method on the current sample, and the `evaluate` table of the whole set."""

from __future__ import annotations

from functools import partial

from rich.console import Group
from rich.text import Text
from textual.widgets import Static
from textual.worker import get_current_worker

from .compute import cost_report, evaluation_summary


def _cost_key(sel) -> tuple:
    """What the Cost tab's measurement depends on: the sample, the target and the IG selected."""
    return ("cost", sel.index, sel.target, *sel.ig_key())


class SlowTabs:
    """Mixed into `ExploreApp`: the Cost and Evaluate tabs (each with its own copy of the network)."""

    def _start_cost(self) -> None:
        sel = self.selection
        key = _cost_key(sel)
        body = self.query_one("#cost-body", Static)
        cached = self.cache.get(key)
        if cached is not None:
            self._show_cost(key, cached)
            return
        body.loading = True
        probe = self.samples.probes[sel.index]
        work = partial(self._compute_cost, key, probe, sel)
        self.run_worker(work, thread=True, exclusive=True, group="cost", name="cost")

    def _compute_cost(self, key, probe, sel) -> None:
        worker = get_current_worker()
        try:
            report = cost_report(self._cost_net, probe, sel)
        except Exception as exc:
            report = exc
        if not worker.is_cancelled:
            self.call_from_thread(self._show_cost, key, report)

    def _show_cost(self, key, report) -> None:
        from ..render.cost import cost_view

        body = self.query_one("#cost-body", Static)
        body.loading = False
        if isinstance(report, Exception):
            body.update(Text(f"cost: {report}", style="bold red"))
            return
        self.cache.put(key, report)
        sel = self.selection
        if key == _cost_key(sel):
            ig = "exact" if sel.quadrature == "exact" else f"right-Riemann, {sel.steps} steps"
            caption = Text(
                f"measured on sample {sel.index}, IG {ig} as selected (i) (as `saliency-cli cost`; times vary "
                "run to run)",
                style="dim",
            )
            body.update(Group(caption, cost_view(report)))

    def _start_evaluation(self) -> None:
        """The whole set's evaluation, once (it does not depend on the selection)."""
        if any(w.group == "evaluate" for w in self.workers):
            return
        self.query_one("#evaluate-body", Static).loading = True
        self.run_worker(self._compute_evaluation, thread=True, group="evaluate", name="evaluate")

    def _compute_evaluation(self) -> None:
        try:
            summary = evaluation_summary(self._eval_net, self.samples, self.seed)
        except Exception as exc:
            summary = exc
        self.call_from_thread(self._show_evaluation, summary)

    def _show_evaluation(self, summary) -> None:
        from ..render.evaluate import evaluate_view

        body = self.query_one("#evaluate-body", Static)
        body.loading = False
        if isinstance(summary, Exception):
            body.update(Text(f"evaluate: {summary}", style="bold red"))
            return
        self.evaluation = summary
        caption = Text(
            f"`saliency-cli evaluate` with its default settings on this set ({self.samples.origin})", style="dim"
        )
        view = Group(caption, evaluate_view(summary, self.color))
        body.update(view)

"""The explorer's Textual widgets: a map panel, the keys screen."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

#: (keys, what they do), as the `?` screen and docs/explore.md list them.
KEYS: tuple[tuple[str, str], ...] = (
    ("left/right, j/k", "previous / next sample"),
    ("0-9 then enter", "go to the sample with that index (escape cancels)"),
    ("r", "a random sample (seeded by --seed: the same sequence every run)"),
    ("n", "the same position in the next noise level of the generated set"),
    ("t", "target class: auto (the predicted class), then each class"),
    ("l / shift+l", "next / previous LRP rule or composite"),
    ("i", "IG quadrature: exact / right-Riemann with steps"),
    ("+ / -", "more / fewer IG steps (right-Riemann)"),
    ("s", "scale: per map / shared by all maps (as shares of each map's mass)"),
    ("m  f  g  c  e", "tabs: maps, feature maps, LRP ledger, cost, evaluate"),
    ("tab", "next tab"),
    ("up/down, pgup/pgdn, space", "scroll the tab (small terminals)"),
    ("ctrl+s", "save the screen as SVG (saliency-explore-<n>.svg here)"),
    ("?", "this list (escape closes it)"),
    ("q", "quit"),
)


class MapPanel(Static):
    """One map (or the input): a Rich renderable, with Textual's loading indicator while it is computed."""

    DEFAULT_CSS = """
    MapPanel { height: auto; min-height: 12; padding: 0 1 0 0; }
    """

    def __init__(self, name: str, **kwargs):
        super().__init__("", id=f"panel-{name.replace('+', 'p')}", **kwargs)
        self.piece = name


class KeysScreen(ModalScreen):
    """The `?` screen: every key and what it does."""

    BINDINGS: ClassVar[list[Binding]] = [Binding("escape,question_mark", "dismiss", "close")]
    DEFAULT_CSS = """
    KeysScreen { align: center middle; }
    KeysScreen > Vertical {
        width: 84; max-width: 100%; height: auto; border: round $accent; background: $surface; padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        table = Table(title="saliency-cli explore: keys", box=None, title_style="bold", padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for keys, what in KEYS:
            table.add_row(keys, what)
        with Vertical():
            yield Static(table)
            yield Static(Text("escape or ? closes", style="dim"))

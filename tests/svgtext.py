"""Reading the SVG pictures that Rich and Textual write: the text on each row, and the cell colours."""

from __future__ import annotations

import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def _root(svg: str):
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def svg_lines(svg: str) -> list[str]:
    """The picture's text, one string per row from the top, each piece at its column (blanks restored:
    the pictures leave out runs of plain spaces, and write the others as non-breaking spaces)."""
    pieces = []
    for t in _root(svg).iter(f"{SVG}text"):
        if t.get("y") is None or t.get("textLength") is None or "title" in (t.get("class") or ""):
            continue
        text = (t.text or "").replace("\xa0", " ")
        if text:
            pieces.append((float(t.get("y")), float(t.get("x", 0)), float(t.get("textLength")) / len(text), text))
    if not pieces:
        return []
    cell = sorted(width for *_, width, _ in pieces)[len(pieces) // 2]
    left = min(x for _, x, _, _ in pieces)
    rows: dict[float, list[str]] = {}
    for y, x, _, text in pieces:
        row = rows.setdefault(y, [])
        col = round((x - left) / cell)
        row.extend(" " * max(0, col + len(text) - len(row)))
        row[col : col + len(text)] = text
    return ["".join(chars).rstrip() for _, chars in sorted(rows.items())]


def svg_cells(svg: str) -> list[tuple[float, float, float, str]]:
    """Every filled background rectangle: (x, y, width, colour)."""
    return [
        (float(r.get("x")), float(r.get("y")), float(r.get("width")), r.get("fill"))
        for r in _root(svg).iter(f"{SVG}rect")
        if r.get("fill") and r.get("x") is not None and r.get("y") is not None and r.get("width") is not None
    ]


def svg_summary(svg: str) -> dict:
    """What a snapshot compares: the rows of text and the background colours, without ids or styles' names."""
    return {"lines": svg_lines(svg), "cells": svg_cells(svg)}

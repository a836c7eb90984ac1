"""Textual's Footer without its leak (Textual 8.2): every recompose (on every change of the active bindings:
a cursor move that enables ``a``, a state change, an answer) binds the new keys to ``Footer.compact``,
and Textual drops the watchers of removed keys only when ``compact`` changes, which it never does here.
The removed keys stayed alive: thousands of widgets an hour, and full garbage collections that grew with
them (a key pressed during one waited 200 ms and more)."""

from __future__ import annotations

from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    async def recompose(self) -> None:
        await super().recompose()
        watchers = getattr(self, "__watchers", {}).get("compact")  # the name Textual's reactive._watch uses
        if watchers:
            watchers[:] = [(node, callback) for node, callback in watchers if node.is_attached]

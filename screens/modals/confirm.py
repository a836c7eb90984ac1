"""Confirmations. Every dangerous action asks first, and the focused (default) button is Cancel: ``enter``
right after the key does nothing harmful, ``esc`` always cancels. The kill switch wants more: the operator
types the environment's name (or ``KILL``) and a reason before its button even enables.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from screens.forms import kill_confirmed


class Dialog(ModalScreen[object]):
    """The frame of every modal: title, body, buttons; ``esc`` cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="modal.cancel", tooltip="Close without doing anything"),
    ]
    AUTO_FOCUS = "#cancel"  # the default button of a dangerous action is Cancel

    def __init__(self, *, blink: bool = True) -> None:
        super().__init__(classes="dialog-screen")
        self.blink = blink

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = self.blink
        # Focus the default now, not when Textual's auto-focus gets to it: that one waits for the terminal to
        # report focus (a detached tmux may never), and keys typed meanwhile would land nowhere.
        for widget in self.query(self.AUTO_FOCUS or "#cancel"):
            if widget.focusable:
                self.set_focus(widget)
                break

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class ConfirmModal(Dialog):
    """``title``, ``body``, [Cancel] [confirm]. Dismisses with True or None."""

    def __init__(self, title: str, body: str, confirm: str, *, danger: bool = True, blink: bool = True) -> None:
        super().__init__(blink=blink)
        self.title_text = title
        self.body = body
        self.confirm = confirm
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog" + (" -danger" if self.danger else "")) as box:
            box.border_title = self.title_text
            yield Static(self.body, classes="dialog-body", markup=False)
            yield Static("enter: the focused button · tab: next · esc: cancel", classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="primary", compact=True)
                yield Button(self.confirm, id="confirm", variant="error" if self.danger else "success", compact=True)

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)


class KillModal(Dialog):
    """The kill switch: a reason and the environment's name (or ``KILL``) typed out. Dismisses with the reason."""

    def __init__(self, env: str, operator: str, *, reason: str = "", blink: bool = True) -> None:
        super().__init__(blink=blink)
        self.env = env
        self.operator = operator
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -danger") as box:
            box.border_title = "■ KILL SWITCH"
            yield Static(
                f"Trip the kill switch on {self.env!r} as {self.operator}?\n"
                "Trading HALTS, every open order is cancelled and an incident is opened.\n"
                "Leaving HALTED needs a signed-off resume.",
                classes="dialog-body",
                markup=False,
            )
            with Horizontal(classes="field"):
                yield Label("Reason", classes="field-label")
                yield Input(value=self.reason, placeholder="required: goes to the incident", id="reason", compact=True)
            with Horizontal(classes="field"):
                yield Label(f"Type {self.env} or KILL", classes="field-label")
                yield Input(placeholder=self.env, id="typed", compact=True)
            yield Static("", id="kill-problem", classes="dialog-problem", markup=False)
            yield Static("enter: the focused button · tab: next · esc: cancel", classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="primary", compact=True)
                yield Button("KILL", id="confirm", variant="error", disabled=True, compact=True)

    def _ready(self) -> bool:
        reason = self.query_one("#reason", Input).value.strip()
        typed = self.query_one("#typed", Input).value
        return bool(reason) and kill_confirmed(typed, self.env)

    @on(Input.Changed)
    def _changed(self) -> None:
        self.query_one("#confirm", Button).disabled = not self._ready()
        self.query_one("#kill-problem", Static).update("")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "reason":
            self.query_one("#typed", Input).focus()
        else:
            self._fire()

    @on(Button.Pressed, "#confirm")
    def _fire(self) -> None:
        if not self._ready():
            self.query_one("#kill-problem", Static).update(
                f"✖ a reason and the confirmation ({self.env} or KILL) are both required"
            )
            return
        self.dismiss(self.query_one("#reason", Input).value.strip())

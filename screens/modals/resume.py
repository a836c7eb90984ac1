"""The resume sign-off: operator (the identity the broker vouches for), reason, incident id (prefilled with
the open incident), and a second approver when two are required. Cancel is the default button. A refusal
comes back into this same form with the runtime's reason, the fields as the operator left them.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from screens.forms import ResumeContext, ResumeForm, resume_problems
from screens.modals.confirm import Dialog


class ResumeModal(Dialog):
    """Dismisses with a :class:`ResumeForm`, or None when cancelled."""

    def __init__(self, ctx: ResumeContext, *, blink: bool = True) -> None:
        super().__init__(blink=blink)
        self.ctx = ctx

    def compose(self) -> ComposeResult:
        ctx = self.ctx
        halted = ctx.state == "HALTED"
        with Vertical(classes="dialog" + (" -danger" if halted else "")) as box:
            box.border_title = "Resume with sign-off" if halted else "Resume"
            what = (
                "Resume from HALTED: trading restarts and the incident closes with this sign-off."
                if halted
                else f"Resume from {ctx.state}: trading restarts."
            )
            yield Static(what, classes="dialog-body", markup=False)
            with Horizontal(classes="field"):
                yield Label("Operator", classes="field-label")
                yield Input(value=ctx.operator, id="operator", disabled=True, compact=True)
            with Horizontal(classes="field"):
                yield Label("Reason" + (" (required)" if ctx.state != "PAUSED" else ""), classes="field-label")
                yield Input(value=ctx.reason, placeholder="what was checked, why it is safe", id="reason", compact=True)
            if halted:
                with Horizontal(classes="field"):
                    yield Label("Incident id", classes="field-label")
                    yield Input(value=ctx.incident_id, id="incident", compact=True)
                if ctx.approvers_needed >= 2:
                    with Horizontal(classes="field"):
                        yield Label("Second approver", classes="field-label")
                        yield Input(
                            value=ctx.approver,
                            placeholder="another operator on the roster",
                            id="approver",
                            compact=True,
                        )
            yield Static(self._refusal_text(), id="resume-problem", classes="dialog-problem", markup=False)
            yield Static("enter: the focused button · tab: next · esc: cancel", classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="primary", compact=True)
                yield Button("Resume", id="confirm", variant="warning", compact=True)

    def _refusal_text(self) -> str:
        return f"✖ REFUSED by the runtime: {self.ctx.refusal}" if self.ctx.refusal else ""

    def form(self) -> ResumeForm:
        def value(selector: str) -> str:
            found = self.query(selector)
            return found.first(Input).value if found else ""

        return ResumeForm(value("#reason"), value("#incident"), value("#approver"))

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        self.focus_next()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        form = self.form()
        problems = resume_problems(self.ctx, form)
        if problems:
            text = "; ".join(f"{field}: {why}" for field, why in problems.items())
            self.query_one("#resume-problem", Static).update(f"✖ {text}")
            return
        self.dismiss(form)

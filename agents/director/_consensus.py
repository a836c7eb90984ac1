"""Consensus of the council per symbol: the tracker-weighted mean of plug-in ``score x confidence``.

``consensus = sum(w_p * score_p * conf_p) / sum(w_p)`` over the plug-ins with a view on the symbol (a
proposal with ``confidence >= min_confidence``). A symbol has a quorum when at least ``quorum`` plug-ins have
a view (capped at the number of plug-ins active this tick when ``quorum_of_active``) and their weight is at
least ``weight_threshold`` of the active plug-ins' weight.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from agents.director._settings import CouncilSettings
from agents.quant import avoided_symbols
from agents.types import Directive, Proposal


@dataclass(slots=True)  # not frozen: built 100s of times a tick, and frozen __init__ costs 3x
class Consensus:
    """The council's view of one symbol (treat as read-only)."""

    symbol: str
    consensus: float
    confidence: float
    views: int
    weight_share: float
    quorum: bool
    votes: dict[str, float] = field(default_factory=dict)
    """plugin -> weight x score (what :class:`~agents.types.OrderIntent` carries)."""
    contributions: dict[str, float] = field(default_factory=dict)
    """plugin -> its part of the consensus (sums to ``consensus``)."""
    reason: str = ""

    @property
    def strength(self) -> float:
        """What priorities sort on: |consensus| x confidence."""
        return abs(self.consensus) * self.confidence

    def describe(self) -> str:
        parts = ", ".join(f"{p} {v:+.2f}" for p, v in sorted(self.contributions.items()))
        return f"consensus {self.consensus:+.2f} (confidence {self.confidence:.2f}; {parts})"


@dataclass(frozen=True, slots=True)
class Council:
    """Every symbol's consensus, and who took part."""

    table: dict[str, Consensus]
    active: list[str]
    quorum: int
    ignored: dict[str, str] = field(default_factory=dict)


def build_consensus(
    proposals: Iterable[Proposal],
    weights: dict[str, float],
    directive: Directive,
    settings: CouncilSettings,
) -> Council:
    """The consensus of every symbol someone had a view on. ``weights`` come from the tracker."""
    ignored: dict[str, str] = {}
    views: dict[str, dict[str, Proposal]] = {}
    avoid_cache: dict[str, tuple[bool, set[str]]] = {}
    floor = settings.min_confidence
    avoid_signals = directive.avoid_signals
    for p in proposals:
        plugin = p.plugin
        if avoid_signals:  # usually empty: then nothing is avoided
            avoid = avoid_cache.get(plugin)
            if avoid is None:
                avoid = avoid_cache[plugin] = avoided_symbols(plugin, avoid_signals)
            if avoid[0] or p.symbol in avoid[1]:
                ignored[plugin] = "avoided by the director (data-quality issue)"
                continue
        confidence = p.confidence
        if confidence < floor or confidence <= 0:
            continue
        by_plugin = views.get(p.symbol)
        if by_plugin is None:
            views[p.symbol] = {plugin: p}
        elif plugin not in by_plugin:
            by_plugin[plugin] = p
    members: set[str] = set()
    for by_plugin in views.values():
        members.update(by_plugin)
    active = sorted(members)
    quorum = min(settings.quorum, len(active)) if settings.quorum_of_active else settings.quorum
    quorum = max(quorum, 1)
    active_weight = sum(weights.get(p, 0.0) for p in active)
    threshold = settings.weight_threshold
    weight_of = {name: weights.get(name, 0.0) for name in active}
    table: dict[str, Consensus] = {}
    single = quorum <= 1
    for symbol in sorted(views):
        by_plugin = views[symbol]
        if single and len(by_plugin) == 1:
            # the usual case of one view on a symbol, with the quorum met: the loop below with one name,
            # spelt out with the same operations (the 0.0 + keeps a -0.0 score's consensus at +0.0, as there)
            ((name, p),) = by_plugin.items()
            w = weight_of[name]
            if w > 0 and active_weight > 0:
                share = w / active_weight
                if share + 1e-12 >= threshold:
                    score, confidence = p.score, p.confidence
                    part = w * score * confidence
                    table[symbol] = Consensus(
                        symbol,
                        max(-1.0, min(1.0, (0.0 + part) / w)),
                        (0.0 + w * confidence) / w,
                        1,
                        share,
                        True,
                        {name: w * score},
                        {name: part / w},
                        "",
                    )
                    continue
        names = sorted(by_plugin) if len(by_plugin) > 1 else list(by_plugin)
        total_w = weighted = conf = 0.0
        votes: dict[str, float] = {}
        raw: dict[str, float] = {}
        for name in names:
            p = by_plugin[name]
            w = weight_of[name]
            total_w += w
            score = p.score
            votes[name] = w * score
            part = raw[name] = w * score * p.confidence
            weighted += part
            conf += w * p.confidence
        if total_w <= 0:
            table[symbol] = Consensus(symbol, 0.0, 0.0, len(names), 0.0, False, reason="its plug-ins weigh nothing")
            continue
        share = total_w / active_weight if active_weight > 0 else 0.0
        reason = ""
        if len(names) < quorum:
            reason = f"quorum not met: {len(names)} of {quorum} plug-ins have a view ({', '.join(names)})"
        elif share + 1e-12 < threshold:
            reason = f"weight threshold not met: {share:.0%} of the council's weight < {threshold:.0%}"
        table[symbol] = Consensus(
            symbol,
            max(-1.0, min(1.0, weighted / total_w)),
            conf / total_w,
            len(names),
            share,
            not reason,
            votes,
            {k: v / total_w for k, v in raw.items()},
            reason,
        )
    return Council(table, active, quorum, ignored)

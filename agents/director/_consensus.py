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
    avoid_signals = directive.avoid_signals
    if not avoid_signals:  # usually empty: then nothing is avoided
        found = proposals if isinstance(proposals, list) else list(proposals)
        names = {p.plugin for p in found}
        if len(names) == 1:
            return _one_plugin(found, names.pop(), weights, settings)
        proposals = found
    ignored: dict[str, str] = {}
    views: dict[str, dict[str, Proposal]] = {}
    avoid_cache: dict[str, tuple[bool, set[str]]] = {}
    floor = settings.min_confidence
    for p in proposals:
        plugin = p.plugin
        if avoid_signals:
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
    quorum = _quorum(settings, len(active))
    active_weight = sum(weights.get(p, 0.0) for p in active)
    threshold = settings.weight_threshold
    weight_of = {name: weights.get(name, 0.0) for name in active}
    table: dict[str, Consensus] = {}
    single = quorum <= 1
    for symbol in sorted(views):
        by_plugin = views[symbol]
        if single and len(by_plugin) == 1:
            ((name, p),) = by_plugin.items()
            w = weight_of[name]
            if w > 0 and active_weight > 0:
                share = w / active_weight
                if share + 1e-12 >= threshold:
                    table[symbol] = _one_view(symbol, name, p, w, share)
                    continue
        table[symbol] = _weigh(symbol, by_plugin, weight_of, active_weight, quorum, threshold)
    return Council(table, active, quorum, ignored)


def _quorum(settings: CouncilSettings, active: int) -> int:
    quorum = min(settings.quorum, active) if settings.quorum_of_active else settings.quorum
    return max(quorum, 1)


def _one_plugin(proposals: list[Proposal], name: str, weights: dict[str, float], settings: CouncilSettings) -> Council:
    """:func:`build_consensus` when every proposal is one plug-in's and nothing is avoided (the reference
    backtest; any council with one member): each symbol has at most that one view, so the quorum, the active
    weight and the share are the same for every symbol and are decided once. Same values, same order."""
    floor = settings.min_confidence
    views: dict[str, Proposal] = {}
    for p in proposals:
        confidence = p.confidence
        if confidence < floor or confidence <= 0:
            continue
        if p.symbol not in views:  # the first view of a symbol wins, as in the general loop
            views[p.symbol] = p
    active = [name] if views else []
    quorum = _quorum(settings, len(active))
    active_weight = sum(weights.get(p, 0.0) for p in active)
    threshold = settings.weight_threshold
    w = weights.get(name, 0.0)
    table: dict[str, Consensus] = {}
    if quorum <= 1 and w > 0 and active_weight > 0 and w / active_weight + 1e-12 >= threshold:
        share = w / active_weight
        for symbol in sorted(views):  # _one_view inlined (a call a symbol is a tenth of the loop)
            p = views[symbol]
            score, confidence = p.score, p.confidence
            part = w * score * confidence
            x = (0.0 + part) / w  # max(-1.0, min(1.0, x)) as two comparisons (NaN -> 1.0 the same)
            x = x if x < 1.0 else 1.0
            table[symbol] = Consensus(
                symbol,
                x if x > -1.0 else -1.0,
                (0.0 + w * confidence) / w,
                1,
                share,
                True,
                {name: w * score},
                {name: part / w},
                "",
            )
    else:
        weight_of = {name: w} if views else {}
        for symbol in sorted(views):
            table[symbol] = _weigh(symbol, {name: views[symbol]}, weight_of, active_weight, quorum, threshold)
    return Council(table, active, quorum, {})


def _one_view(symbol: str, name: str, p: Proposal, w: float, share: float) -> Consensus:
    """One view on a symbol, with the quorum met: :func:`_weigh` with one name, spelt out with the same
    operations (the ``0.0 +`` keeps a -0.0 score's consensus at +0.0, as there)."""
    score, confidence = p.score, p.confidence
    part = w * score * confidence
    return Consensus(
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


def _weigh(
    symbol: str,
    by_plugin: dict[str, Proposal],
    weight_of: dict[str, float],
    active_weight: float,
    quorum: int,
    threshold: float,
) -> Consensus:
    """A symbol's consensus from its views (plug-in -> proposal)."""
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
        return Consensus(symbol, 0.0, 0.0, len(names), 0.0, False, reason="its plug-ins weigh nothing")
    share = total_w / active_weight if active_weight > 0 else 0.0
    reason = ""
    if len(names) < quorum:
        reason = f"quorum not met: {len(names)} of {quorum} plug-ins have a view ({', '.join(names)})"
    elif share + 1e-12 < threshold:
        reason = f"weight threshold not met: {share:.0%} of the council's weight < {threshold:.0%}"
    return Consensus(
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

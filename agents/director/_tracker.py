"""The Strategy Council's performance tracker: how much each plug-in's word weighs.

Per plug-in it keeps, as exponentially weighted evidence counted once per session:

* the **hit rate**: did the sign of yesterday's score match the symbol's next-day return (confidence and
  |score| weighted, shrunk towards 50% by ``hit_prior`` pseudo-observations);
* the **realised P&L** attributed from fills of the intents it voted for (see :mod:`._attribution`), as a
  fraction of NAV;
* its **average confidence**;
* a **penalty** fed back by risk and compliance rejections of intents it supported, decaying each session.

``raw = max(0.05, 1 + 4 (hit - 0.5) + 0.5 tanh(pnl / pnl_scale)) * (0.5 + 0.5 conf) * (1 - penalty)``;
the weights are ``raw`` normalised with a floor (``floor + (1 - n floor) raw / sum(raw)``) and then smoothed
(``w = (1 - s) w + s target``). The state is a JSON document (``to_json``/``restore``), stored in the
ledger by :mod:`._store`; :meth:`export_weights`/:meth:`install_weights` move it between a backtest and live.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from pydantic_core import to_json

from agents.director._attribution import AttributedPosition, attribute_fill, supporter_shares
from agents.director._settings import CouncilSettings
from agents.types import ExecutionReport, Feedback, Proposal, TradePack, Verdicts

VERSION = 1
_INTENT_SESSIONS = 3  # fills of an intent arrive within a few sessions (next open at the latest)
_MAX_FILLS = 500


@dataclass
class PluginStats:
    weight: float
    penalty: float = 0.0
    hits_ew: float = 0.0
    calls_ew: float = 0.0
    hits: int = 0
    calls: int = 0
    conf_ew: float = 0.0
    conf_n_ew: float = 0.0
    pnl_ew: float = 0.0
    pnl_total: float = 0.0

    def hit_rate(self, prior: float) -> float:
        return (self.hits_ew + 0.5 * prior) / (self.calls_ew + prior) if self.calls_ew + prior > 0 else 0.5

    def avg_confidence(self) -> float:
        return self.conf_ew / self.conf_n_ew if self.conf_n_ew > 0 else 0.5


@dataclass
class TickEffects:
    """What one update changed, for the Feedback message and the audit."""

    hits: dict[str, float] = field(default_factory=dict)
    pnl: dict[str, float] = field(default_factory=dict)
    penalties: dict[str, list[str]] = field(default_factory=dict)
    unattributed_pnl: float = 0.0
    fills: int = 0


def _decay(half_life: float) -> float:
    return float(0.5 ** (1.0 / half_life))


class PerformanceTracker:
    """Weights of the council's plug-ins from their track record. Pure: no I/O, deterministic."""

    def __init__(self, settings: CouncilSettings | None = None) -> None:
        self.s = settings or CouncilSettings()
        self.stats: dict[str, PluginStats] = {}
        self.session: date | None = None
        self.pending: dict[str, Any] = {}
        self.intents: dict[str, dict[str, dict[str, float]]] = {}  # session -> intent id -> supporter shares
        self.books: dict[str, AttributedPosition] = {}
        self.seen_fills: OrderedDict[str, None] = OrderedDict()
        self.unattributed_pnl = 0.0
        self.source = "live"
        self.updates = 0
        self.loaded = False
        self._tail: bytes | None = None  # the encoded intents, books, seen fills and unattributed P&L
        self._book_text: dict[str, bytes] = {}  # symbol -> its encoded "symbol":{book} member, until a fill
        # each seen fill's encoded key, in step with seen_fills: the saved list is joined from them (7 us at 500
        # fills) instead of encoded whole (22 us, most of it walking the OrderedDict) at every fill
        self._seen_text: deque[bytes] = deque()

    # -- weights ---------------------------------------------------------------------------------------
    def ensure(self, plugins: list[str]) -> None:
        """Give newcomers an equal share, keeping the others' relative weights."""
        new = [p for p in sorted(set(plugins)) if p not in self.stats]
        if not new:
            return
        n = len(self.stats) + len(new)
        for stats in self.stats.values():
            stats.weight *= (n - len(new)) / n
        for p in new:
            self.stats[p] = PluginStats(weight=1.0 / n)

    def weights_for(self, plugins: list[str]) -> dict[str, float]:
        """Current weights of ``plugins``, normalised over them (unknown plug-ins get an equal share)."""
        names = sorted(set(plugins))
        if not names:
            return {}
        known = [self.stats[p].weight for p in names if p in self.stats]
        default = sum(known) / len(known) if known else 1.0
        raw = {p: self.stats[p].weight if p in self.stats else default for p in names}
        total = sum(raw.values())
        return {p: v / total for p, v in raw.items()} if total > 0 else {p: 1.0 / len(names) for p in names}

    def target_weights(self) -> dict[str, float]:
        """The weights the evidence argues for today (before smoothing)."""
        s = self.s
        raw: dict[str, float] = {}
        for p, st in sorted(self.stats.items()):
            skill = 4.0 * (st.hit_rate(s.hit_prior) - 0.5) + 0.5 * math.tanh(st.pnl_ew / s.pnl_scale)
            raw[p] = max(0.05, 1.0 + skill) * (0.5 + 0.5 * st.avg_confidence()) * (1.0 - st.penalty)
        n = len(raw)
        if n == 0:
            return {}
        total = sum(raw.values())
        floor = s.weight_floor if n * s.weight_floor < 1 else 1.0 / n
        return {p: floor + (1.0 - n * floor) * v / total for p, v in raw.items()}

    def _reweight(self) -> None:
        target = self.target_weights()
        g = self.s.weight_smoothing
        for p, t in target.items():
            st = self.stats[p]
            st.weight = (1.0 - g) * st.weight + g * t
        total = sum(st.weight for st in self.stats.values())
        if total > 0:
            for st in self.stats.values():
                st.weight /= total

    # -- one tick ----------------------------------------------------------------------------------------
    def update(
        self,
        session: date,
        *,
        plugins: list[str],
        proposals: list[Proposal],
        prices: dict[str, float],
        pack: TradePack | None = None,
        risk: Verdicts | None = None,
        compliance: Verdicts | None = None,
        report: ExecutionReport | None = None,
        nav: float | None = None,
    ) -> TickEffects:
        """Fold one tick into the record and move the weights. Call once per tick, in tick order."""
        proposers = {p.plugin for p in proposals}
        self.ensure([*plugins, *proposers])
        # one plug-in behind every proposal (the usual council of one): its name, for the loops below
        only = next(iter(proposers)) if len(proposers) == 1 else None
        effects = TickEffects()
        new_session = self.session is None or session > self.session
        if new_session:
            self._new_session()
            self._score_pending(session, prices, effects)
            self._observe_confidence(proposals, only)
        self._store_pending(session, proposals, prices, only)
        if pack is not None:
            self._remember_intents(session, pack)
            self._penalise(pack, risk, compliance, effects)
        if report is not None:
            self._attribute(report, nav, effects)
        self.session = max(session, self.session) if self.session else session
        self._reweight()
        self.updates += 1
        return effects

    def _new_session(self) -> None:
        hit, pnl, pen = _decay(self.s.hit_half_life), _decay(self.s.pnl_half_life), self.s.penalty_decay
        for st in self.stats.values():
            st.hits_ew *= hit
            st.calls_ew *= hit
            st.conf_ew *= hit
            st.conf_n_ew *= hit
            st.pnl_ew *= pnl
            st.penalty *= pen

    def _score_pending(self, session: date, prices: dict[str, float], effects: TickEffects) -> None:
        """Yesterday's calls against today's prices: one observation per plug-in per session."""
        pend = self.pending
        if not pend or date.fromisoformat(pend["session"]) >= session:
            return
        then_get, now_get = pend["prices"].get, prices.get
        for plugin, calls in sorted(pend["calls"].items()):
            right = total = 0.0
            for symbol in sorted(calls):  # the keys sort as the (symbol, call) pairs would, cheaper
                score, conf = calls[symbol]
                p0, p1 = then_get(symbol), now_get(symbol)
                if not p0 or not p1 or p1 == p0 or score == 0:
                    continue
                w = abs(score) * (1e-6 if conf < 1e-6 else conf)  # max(conf, 1e-6), NaN included
                total += w
                if (score > 0) == (p1 > p0):
                    right += w
            if total > 0 and plugin in self.stats:
                st = self.stats[plugin]
                frac = right / total
                st.hits_ew += frac
                st.calls_ew += 1.0
                st.calls += 1
                st.hits += int(frac > 0.5)
                effects.hits[plugin] = frac

    def _observe_confidence(self, proposals: list[Proposal], only: str | None = None) -> None:
        sums: dict[str, list[float]] = {}
        if only is not None:  # every proposal is ``only``'s: the same list, in the same order
            sums[only] = [p.confidence for p in proposals]
        else:
            for p in proposals:
                sums.setdefault(p.plugin, []).append(p.confidence)
        for plugin, confs in sorted(sums.items()):
            st = self.stats[plugin]
            st.conf_ew += sum(confs) / len(confs)
            st.conf_n_ew += 1.0

    def _store_pending(
        self, session: date, proposals: list[Proposal], prices: dict[str, float], only: str | None = None
    ) -> None:
        calls: dict[str, dict[str, list[float]]] = {}  # lists, not tuples: the state round-trips through JSON
        if only is not None:  # every proposal is ``only``'s: one dict, filled in the same order (last call wins)
            mine = {p.symbol: [p.score, p.confidence] for p in proposals if p.symbol in prices}
            if mine:
                calls[only] = mine
        else:
            for p in proposals:
                if p.symbol in prices:
                    calls.setdefault(p.plugin, {})[p.symbol] = [p.score, p.confidence]
        if not calls:
            return
        if only is not None:
            mine = calls[only]
            wanted = sorted(mine)
            if wanted != list(mine):  # proposals come in universe order, usually sorted already
                calls[only] = {s: mine[s] for s in wanted}
            self.pending = {"session": session.isoformat(), "prices": {s: prices[s] for s in wanted}, "calls": calls}
            return
        wanted = sorted({s for c in calls.values() for s in c})
        self.pending = {
            "session": session.isoformat(),
            "prices": {s: prices[s] for s in wanted},
            "calls": {k: dict(sorted(v.items())) for k, v in sorted(calls.items())},
        }

    def _remember_intents(self, session: date, pack: TradePack) -> None:
        if pack.intents or len(self.intents) > _INTENT_SESSIONS:
            self._tail = None
        if pack.intents:
            day = self.intents.setdefault(session.isoformat(), {})
            for intent in pack.intents:
                day[intent.id] = supporter_shares(intent)
        for old in sorted(self.intents)[:-_INTENT_SESSIONS]:
            del self.intents[old]

    def shares_of(self, intent_id: str | None) -> dict[str, float]:
        """The supporter shares of a recent intent (empty when unknown or too old)."""
        for day in self.intents.values():
            found = day.get(intent_id or "")
            if found is not None:
                return found
        return {}

    def _penalise(
        self, pack: TradePack, risk: Verdicts | None, compliance: Verdicts | None, effects: TickEffects
    ) -> None:
        s = self.s
        by_risk = risk.by_intent() if risk else {}
        by_comp = compliance.by_intent() if compliance else {}
        for intent in pack.intents:
            shares = self.shares_of(intent.id)
            amount = 0.0
            why: list[str] = []
            c = by_comp.get(intent.id)
            if c is not None and not c.approved:
                amount += s.compliance_penalty
                why.append(f"compliance vetoed {intent.id}: {'; '.join(c.reasons) or 'no reason given'}")
            r = by_risk.get(intent.id)
            if r is not None and not r.approved:
                amount += s.risk_penalty
                why.append(f"risk rejected {intent.id}: {'; '.join(r.reasons) or 'no reason given'}")
            elif r is not None and r.qty < intent.qty:
                amount += 0.5 * s.risk_penalty * (1.0 - r.qty / intent.qty)
                why.append(f"risk cut {intent.id} from {intent.qty:g} to {r.qty:g}")
            if amount <= 0:
                continue
            for plugin, share in shares.items():
                if plugin in self.stats:
                    st = self.stats[plugin]
                    st.penalty = min(s.max_penalty, st.penalty + amount * share)
                    effects.penalties.setdefault(plugin, []).extend(why)

    def _attribute(self, report: ExecutionReport, nav: float | None, effects: TickEffects) -> None:
        scale = nav if nav and nav > 0 else None
        if report.fills:
            self._tail = None
        for fill in sorted(report.fills, key=lambda f: (f.ts, f.venue, f.trade_id)):
            key = f"{fill.venue}:{fill.trade_id}"
            if key in self.seen_fills:
                continue
            self.seen_fills[key] = None
            self._seen_text.append(to_json(key))
            while len(self.seen_fills) > _MAX_FILLS:
                self.seen_fills.popitem(last=False)
                self._seen_text.popleft()
            shares = self.shares_of(fill.intent_id)
            self._book_text.pop(fill.symbol, None)
            book = self.books.setdefault(fill.symbol, AttributedPosition())
            pnl, unattributed = attribute_fill(book, fill, shares)
            if book.qty == 0:
                del self.books[fill.symbol]
            effects.fills += 1
            effects.unattributed_pnl += unattributed
            self.unattributed_pnl += unattributed
            for plugin, amount in sorted(pnl.items()):
                self.stats.setdefault(plugin, PluginStats(weight=0.0))
                st = self.stats[plugin]
                st.pnl_total += amount
                if scale:
                    st.pnl_ew += amount / scale
                effects.pnl[plugin] = effects.pnl.get(plugin, 0.0) + amount

    # -- reporting -------------------------------------------------------------------------------------
    def feedback(self, as_of: date, effects: TickEffects, plugins: list[str]) -> Feedback:
        prior = self.s.hit_prior
        names = sorted(set(plugins) | set(self.stats))
        details: dict[str, Any] = {
            "source": self.source,
            "fills": effects.fills,
            "avg_confidence": {p: round(self.stats[p].avg_confidence(), 6) for p in names if p in self.stats},
            "tick_pnl": {p: round(v, 6) for p, v in sorted(effects.pnl.items())},
            "tick_hits": {p: round(v, 6) for p, v in sorted(effects.hits.items())},
            "unattributed_pnl": round(self.unattributed_pnl, 6),
        }
        if effects.penalties:
            details["penalty_reasons"] = {p: v for p, v in sorted(effects.penalties.items())}
        return Feedback(
            as_of=as_of,
            weights={p: round(w, 6) for p, w in self.weights_for(plugins).items()},
            penalties={p: round(self.stats[p].penalty, 6) for p in names if p in self.stats},
            hit_rates={p: round(self.stats[p].hit_rate(prior), 6) for p in names if p in self.stats},
            realised_pnl={p: round(self.stats[p].pnl_total, 6) for p in names if p in self.stats},
            details=details,
        )

    # -- persistence -----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return self._head_json() | self._tail_json()

    def _head_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "session": self.session.isoformat() if self.session else None,
            "source": self.source,
            "updates": self.updates,
            # the fields in declaration order, as asdict has them (all numbers: no deep copy needed), 10x faster
            "plugins": {p: dict(vars(st)) for p, st in sorted(self.stats.items())},
            "pending": self.pending,
        }

    def _tail_json(self) -> dict[str, Any]:
        return {
            "intents": self.intents,
            "books": {s: b.to_json() for s, b in sorted(self.books.items())},
            "seen_fills": list(self.seen_fills),
            "unattributed_pnl": self.unattributed_pnl,
        }

    def to_json_text(self) -> str:
        """:meth:`to_json` as compact JSON (what the ledger stores), byte for byte ``to_json(self.to_json())``.

        Saved every tick, while its second half (up to 500 seen fills, the attributed books, the recent
        intents) changes only on ticks with intents or fills: that half is encoded once per change and
        spliced in after the keys that change every tick.
        """
        tail = self._tail
        if tail is None:
            tail = self._tail = self._encode_tail()
        head = to_json(self._head_json())
        return (head[:-1] + b"," + tail[1:]).decode()

    def _encode_tail(self) -> bytes:
        """``to_json(self._tail_json())``, with each book encoded once per fill of its symbol."""
        cached = self._book_text
        books = []
        for symbol, book in sorted(self.books.items()):
            text = cached.get(symbol)
            if text is None:
                text = cached[symbol] = to_json(symbol) + b":" + to_json(book.to_json())
            books.append(text)
        return b"".join(
            (
                b'{"intents":',
                to_json(self.intents),
                b',"books":{',
                b",".join(books),
                b'},"seen_fills":[',
                b",".join(self._seen_fill_text()),
                b'],"unattributed_pnl":',
                to_json(self.unattributed_pnl),
                b"}",
            )
        )

    def _seen_fill_text(self) -> deque[bytes]:
        """The encoded keys of ``seen_fills`` (``to_json(list(self.seen_fills))`` is ``[`` + them joined + ``]``),
        encoded afresh if anything changed ``seen_fills`` but :meth:`_attribute` and :meth:`restore`."""
        if len(self._seen_text) != len(self.seen_fills):
            self._seen_text = deque(to_json(k) for k in self.seen_fills)
        return self._seen_text

    def restore(self, doc: dict[str, Any]) -> None:
        """Replace the state with a document from :meth:`to_json`."""
        self._tail = None
        self._book_text = {}
        if doc.get("version") != VERSION:
            raise ValueError(f"tracker document version {doc.get('version')!r}; this build reads {VERSION}")
        self.session = date.fromisoformat(doc["session"]) if doc.get("session") else None
        self.source = str(doc.get("source", "live"))
        self.updates = int(doc.get("updates", 0))
        self.stats = {p: PluginStats(**st) for p, st in doc.get("plugins", {}).items()}
        self.pending = dict(doc.get("pending") or {})
        self.intents = {day: dict(found) for day, found in doc.get("intents", {}).items()}
        self.books = {s: AttributedPosition.from_json(b) for s, b in doc.get("books", {}).items()}
        self.seen_fills = OrderedDict((k, None) for k in doc.get("seen_fills", []))
        self._seen_text = deque(to_json(k) for k in self.seen_fills)
        self.unattributed_pnl = float(doc.get("unattributed_pnl", 0.0))
        self.loaded = True

    def export_weights(self) -> dict[str, Any]:
        """Weights and the evidence behind them, for promotion of a backtest's tracker to live."""
        prior = self.s.hit_prior
        return {
            "version": VERSION,
            "kind": "agenthedge.council.weights",
            "as_of": self.session.isoformat() if self.session else None,
            "source": self.source,
            "weights": {p: st.weight for p, st in sorted(self.stats.items())},
            "stats": {
                p: {
                    "hit_rate": st.hit_rate(prior),
                    "realised_pnl": st.pnl_total,
                    "avg_confidence": st.avg_confidence(),
                    "penalty": st.penalty,
                }
                for p, st in sorted(self.stats.items())
            },
            "plugins": {p: asdict(st) for p, st in sorted(self.stats.items())},
        }

    def install_weights(self, doc: dict[str, Any], *, source: str) -> dict[str, float]:
        """Take weights (and, when present, the evidence) from :meth:`export_weights` or ``{"weights": {...}}``.

        Raises:
            ValueError: a malformed document (nothing is changed then).
        """
        weights = doc.get("weights") if isinstance(doc, dict) else None
        if not isinstance(weights, dict) or not weights:
            raise ValueError("a weights document needs a non-empty 'weights' mapping of plug-in -> weight")
        clean: dict[str, float] = {}
        for p, w in weights.items():
            if not isinstance(p, str) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
                raise ValueError(f"weight of {p!r} must be a finite number >= 0, got {w!r}")
            clean[p] = float(w)
        total = sum(clean.values())
        if total <= 0:
            raise ValueError("weights must not all be zero")
        found = doc.get("plugins")
        evidence: dict[str, Any] = found if isinstance(found, dict) else {}
        stats: dict[str, PluginStats] = {}
        for p, w in sorted(clean.items()):
            try:
                base = PluginStats(**evidence[p]) if p in evidence else PluginStats(weight=0.0)
            except TypeError as exc:
                raise ValueError(f"evidence of {p!r} is malformed: {exc}") from None
            base.weight = w / total
            base.penalty = 0.0  # penalties belong to the environment that earned them
            stats[p] = base
        self.stats = stats
        self.source = source
        return {p: st.weight for p, st in stats.items()}

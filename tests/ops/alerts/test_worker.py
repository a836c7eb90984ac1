"""A channel worker: retries with exponential back-off, permanent failures, timeouts, a bounded queue."""

from __future__ import annotations

import asyncio

import pytest

from ops.alerts import AlertMetrics, ChannelError, ChannelWorker, Notification
from runtime.payloads import Alert
from tests.ops.alerts.conftest import T0


class ScriptedChannel:
    """A channel that fails the first ``failures`` sends (or hangs), then delivers."""

    def __init__(
        self, failures: int = 0, *, permanent: bool = False, hang: bool = False, name: str = "scripted"
    ) -> None:
        self.name = name
        self.failures = failures
        self.permanent = permanent
        self.hang = hang
        self.attempts = 0
        self.delivered: list[Notification] = []
        self.closed = False
        self.cancelled = False

    async def send(self, note: Notification) -> None:
        self.attempts += 1
        if self.hang:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        if self.attempts <= self.failures:
            raise ChannelError(f"failure {self.attempts}", permanent=self.permanent)
        self.delivered.append(note)

    async def aclose(self) -> None:
        self.closed = True


def _note(n: int = 0) -> Notification:
    alert = Alert(id=f"a{n}", action="risk_alert", severity="warning", message=f"m{n}", source="risk", ts=T0)
    return Notification.of(alert)


class Harness:
    def __init__(self, channel: ScriptedChannel, **kw: object) -> None:
        self.sleeps: list[float] = []
        self.failures: list[tuple[str, str, str]] = []
        self.metrics = AlertMetrics()

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        async def on_failure(name: str, note: Notification, error: str) -> None:
            self.failures.append((name, note.alert.id, error))

        options: dict[str, object] = {"retries": 3, "backoff": 1.0, "backoff_max": 30.0, "timeout": 5.0}
        options.update(kw)
        self.worker = ChannelWorker(channel, metrics=self.metrics, on_failure=on_failure, sleep=sleep, **options)  # type: ignore[arg-type]

    def value(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)


async def test_retries_back_off_exponentially_then_deliver() -> None:
    channel = ScriptedChannel(failures=3)
    h = Harness(channel)
    assert await h.worker.deliver(_note())
    assert channel.attempts == 4
    assert h.sleeps == [1.0, 2.0, 4.0]
    assert h.failures == []
    assert h.value("alert_notifications_total", channel="scripted", outcome="sent") == 1
    assert h.value("alert_delivery_attempts_total", channel="scripted") == 4


async def test_giving_up_reports_the_failure() -> None:
    channel = ScriptedChannel(failures=10)
    h = Harness(channel, retries=4, backoff=5.0, backoff_max=12.0)
    assert not await h.worker.deliver(_note())
    assert channel.attempts == 5
    assert h.sleeps == [5.0, 10.0, 12.0, 12.0]  # doubled, then capped
    assert h.failures == [("scripted", "a0", "failure 5")]
    assert h.value("alert_notifications_total", channel="scripted", outcome="failed") == 1


async def test_a_permanent_failure_is_not_retried() -> None:
    channel = ScriptedChannel(failures=10, permanent=True)
    h = Harness(channel)
    assert not await h.worker.deliver(_note())
    assert channel.attempts == 1
    assert h.sleeps == []
    assert len(h.failures) == 1


async def test_a_hanging_channel_times_out_each_attempt() -> None:
    channel = ScriptedChannel(hang=True)
    h = Harness(channel, retries=1, timeout=0.05)
    assert not await h.worker.deliver(_note())
    assert channel.attempts == 2
    assert h.failures == [("scripted", "a0", "no answer within 0.05s")]


async def test_the_queue_is_bounded_and_offer_never_waits() -> None:
    channel = ScriptedChannel()
    h = Harness(channel, queue_size=2)
    assert h.worker.offer(_note(1))
    assert h.worker.offer(_note(2))
    assert not h.worker.offer(_note(3))  # full: dropped at once, never awaited
    assert h.value("alert_notifications_total", channel="scripted", outcome="dropped") == 1
    assert h.value("alert_queue_depth", channel="scripted") == 2
    h.worker.start()
    await h.worker.join()
    assert [n.alert.id for n in channel.delivered] == ["a1", "a2"]
    assert h.value("alert_queue_depth", channel="scripted") == 0
    await h.worker.stop()
    assert channel.closed


async def test_stop_drains_what_is_queued() -> None:
    channel = ScriptedChannel()
    h = Harness(channel)
    h.worker.start()
    for n in range(3):
        h.worker.offer(_note(n))
    await h.worker.stop(drain=5.0)
    assert len(channel.delivered) == 3


async def test_stop_does_not_wait_for_a_dead_channel_beyond_the_drain() -> None:
    channel = ScriptedChannel(hang=True)
    h = Harness(channel, timeout=3600.0)  # the send's own timeout cannot be what ends it
    h.worker.start()
    h.worker.offer(_note())
    await asyncio.sleep(0)
    async with asyncio.timeout(60):  # a hang guard for the suite, not a speed claim
        await h.worker.stop(drain=0.05)
    assert channel.attempts == 1
    assert channel.cancelled  # stop abandoned the hung send after the drain instead of waiting it out
    assert channel.closed
    assert channel.delivered == []


@pytest.mark.parametrize(("retry", "delay"), [(0, 1.0), (1, 2.0), (4, 16.0), (5, 30.0), (9, 30.0)])
def test_delay_schedule(retry: int, delay: float) -> None:
    assert Harness(ScriptedChannel()).worker.delay(retry) == delay

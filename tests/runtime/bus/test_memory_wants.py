"""The in-process bus tells publishers whether anyone could receive a topic, so nobody builds unread messages."""

from __future__ import annotations

from runtime.bus import MemoryBroker, MemoryBus


async def test_wants_follows_the_subscriptions_of_the_same_environment() -> None:
    MemoryBroker.reset("wants")
    publisher, observer, elsewhere = (MemoryBus("memory://wants", env) for env in ("paper", "paper", "live"))
    for bus in (publisher, observer, elsewhere):
        await bus.start()
    try:
        assert not publisher.wants("event/tick")
        other_env = elsewhere.subscribe("event/#")
        assert not publisher.wants("event/tick")  # a subscriber in another environment hears nothing from here
        sub = observer.subscribe("event/+")
        assert publisher.wants("event/tick")
        assert not publisher.wants("state/portfolio")
        assert publisher.wants("reply/abc")  # replies always go out: a requester waits on them
        await sub.close()
        assert not publisher.wants("event/tick")
        await other_env.close()
    finally:
        for bus in (publisher, observer, elsewhere):
            await bus.close()
        MemoryBroker.reset("wants")

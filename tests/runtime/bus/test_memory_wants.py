"""The in-process bus tells publishers whether anyone could receive a topic, so nobody builds unread messages."""

from __future__ import annotations

from runtime.bus import MemoryBroker, MemoryBus
from runtime.messages import make
from runtime.payloads import KillSwitch


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


async def test_a_client_holds_deliveries_only_while_its_backlog_is_not_handled() -> None:
    MemoryBroker.reset("backlog")
    sender, runtime = MemoryBus("memory://backlog", "paper"), MemoryBus("memory://backlog", "paper")
    for bus in (sender, runtime):
        await bus.start()
    try:
        sub = runtime.subscribe("risk/kill_switch")
        assert not runtime.may_hold_deliveries()
        await sender.publish("risk/kill_switch", make("kill_switch", KillSwitch(reason="test"), source="test"))
        assert runtime.may_hold_deliveries()  # the pipeline yields to the loop before its next stage
        await sub.get(timeout=1)
        await sub.close()  # asking for the next one (or closing) marks the delivery handled
        assert not runtime.may_hold_deliveries()
    finally:
        for bus in (sender, runtime):
            await bus.close()
        MemoryBroker.reset("backlog")

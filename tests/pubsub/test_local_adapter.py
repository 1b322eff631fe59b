import threading

import trio

from actorsock import App
from actorsock.pubsub import LocalAdapter, LocalBus, PubSub
from actorsock.testing import AdapterContract, open_test_server


class TestLocalAdapter(AdapterContract):
    async def make_nodes(self, count):
        bus = LocalBus()
        return [PubSub(f"n{i}", LocalAdapter(bus), node=f"n{i}") for i in range(count)]


def test_a_lone_local_pubsub_is_a_single_node(loop):
    lone = PubSub("lone")
    pid = loop.spawn()
    lone.subscribe("t", pid)
    assert lone.broadcast("t", 1) == 1
    assert pid.mailbox.pop() == 1


class RecordingAdapter(LocalAdapter):
    """A local adapter that has something to run, and says on which thread it publishes."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.publish_threads: list[int] = []

    async def serve(self, started):
        self.events.append("connecting")
        await trio.sleep(1)  # as if reaching a broker
        started()
        self.events.append("started")
        try:
            await trio.sleep_forever()
        finally:
            self.events.append("stopped")

    def publish(self, envelope):
        self.publish_threads.append(threading.get_ident())
        super().publish(envelope)


async def test_the_app_supervises_its_adapter_and_listens_only_once_it_started(autojump_clock):
    adapter = RecordingAdapter()
    app = App(pubsub=PubSub("recorded", adapter))
    async with open_test_server(app) as server:
        assert adapter.events == ["connecting", "started"]
        assert (await server.get("/healthz")).status == 200
        await trio.to_thread.run_sync(app.pubsub.broadcast, "t", "from a thread")
        await trio.testing.wait_all_tasks_blocked()
        assert adapter.publish_threads == [threading.get_ident()]  # the loop's thread
    assert adapter.events == ["connecting", "started", "stopped"]


class CrashingAdapter(LocalAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.runs = 0

    async def serve(self, started):
        self.runs += 1
        started()
        if self.runs == 1:
            await trio.sleep(1)
            raise ConnectionError("the broker went away")
        await trio.sleep_forever()


async def test_a_crashed_adapter_is_restarted(autojump_clock):
    adapter = CrashingAdapter()
    async with open_test_server(App(pubsub=PubSub("crashing", adapter))) as server:
        await trio.sleep(5)
        assert adapter.runs == 2
        assert (await server.get("/healthz")).status == 200

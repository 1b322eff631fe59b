"""The collector settings App.run applies to the process it owns."""

import gc

import pytest

from actorsock.collector import tune_collector
from actorsock.config import Config


@pytest.fixture
def collector_settings():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_the_default_lets_full_collections_wait_and_freezes_start_up(collector_settings):
    young, middle, _ = gc.get_threshold()
    tune_collector(Config().server.gc_full_collection_threshold)
    assert gc.get_threshold() == (young, middle, 50)
    assert gc.get_freeze_count() > 0


def test_zero_leaves_the_collector_alone(collector_settings):
    before = gc.get_threshold(), gc.get_freeze_count()
    tune_collector(0)
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_frozen_objects_are_still_freed_by_reference_counting(collector_settings):
    import weakref

    class Thing:
        pass

    thing = Thing()
    alive = weakref.ref(thing)
    tune_collector(50)
    del thing
    assert alive() is None


def test_app_run_sets_up_the_collector_of_the_process_it_owns(monkeypatch):
    import socket

    import actorsock.app as app_module
    from actorsock import App, ListenError

    seen = []
    monkeypatch.setattr(app_module, "tune_collector", seen.append)
    monkeypatch.setattr(app_module, "configure_logging", lambda *args: None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = Config().replace(server__port=taken.getsockname()[1])
        with pytest.raises(ListenError):
            App().run(config)  # stops at once: the port is taken
        assert seen == [50]
        with pytest.raises(ListenError):
            App().run(config.replace(server__gc_full_collection_threshold=0))
        assert seen == [50, 0]

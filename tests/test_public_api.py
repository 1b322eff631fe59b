import actorsock

EXPECTED = {
    "Accept",
    "Actor",
    "ActorsockError",
    "AlreadyRegisteredError",
    "App",
    "Binary",
    "ChildSpec",
    "Close",
    "Codec",
    "Command",
    "Config",
    "ConfigError",
    "Crash",
    "DataFrame",
    "DeadPidError",
    "DecodeError",
    "Down",
    "ErrorReason",
    "ErrorKind",
    "Event",
    "Frame",
    "FrameRefused",
    "Handler",
    "JSON",
    "Keys",
    "Listener",
    "MSGPACK",
    "MonitorRef",
    "Normal",
    "NotInActorError",
    "Overflow",
    "Pid",
    "Ping",
    "Pong",
    "Reason",
    "Registry",
    "RegistryError",
    "Reject",
    "Remote",
    "Request",
    "Response",
    "Restart",
    "RouteError",
    "ServerStatistics",
    "SetOptions",
    "Shutdown",
    "Stop",
    "StopReason",
    "StreamingResponse",
    "Strategy",
    "Supervisor",
    "SupervisorError",
    "Text",
    "TimerRef",
    "Timeout",
    "__version__",
    "cancel_timer",
    "demonitor",
    "load_config",
    "monitor",
    "registry",
    "self_pid",
    "send",
    "send_after",
    "send_interval",
    "start_actor",
    "ConnectionStatistics",
    "ListenError",
    "LocalAdapter",
    "LocalBus",
    "PreparedFrame",
    "PubSub",
    "PubSubStatistics",
    "SendPolicy",
    "broadcast",
    "broadcast_frame",
    "broadcast_from",
    "local_broadcast",
    "default_pubsub",
    "subscribe",
    "subscriber_count",
    "unsubscribe",
}


def test_exported_names_are_pinned():
    assert set(actorsock.__all__) == EXPECTED
    assert len(actorsock.__all__) == len(EXPECTED)
    for name in actorsock.__all__:
        assert hasattr(actorsock, name), name


def test_one_root_error():
    errors = [
        getattr(actorsock, n)
        for n in actorsock.__all__
        if n.endswith("Error") and isinstance(getattr(actorsock, n), type)
    ]
    assert len(errors) >= 8  # and no reason among them: the reason is ErrorReason
    assert all(issubclass(e, actorsock.ActorsockError) for e in errors)


def test_runtime_objects_have_no_public_constructor():
    import pytest

    with pytest.raises(TypeError):
        actorsock.Pid()


def test_default_registry_has_duplicate_keys():
    assert actorsock.registry.kind is actorsock.Keys.DUPLICATE

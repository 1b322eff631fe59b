"""actorsock: actor-style WebSocket servers on trio.

Every connection is a process with a pid and a mailbox; handlers have
Cowboy's callbacks; registries, timers and supervisors come from Erlang/Elixir.
See README.md for a tour and ``actorsock.core.handler`` for the handler
contract.
"""

from ._version import __version__
from .app import App
from .codecs import JSON, MSGPACK, Codec, DecodeError
from .config import Config, load_config
from .core.frames import (
    Binary,
    Close,
    Command,
    DataFrame,
    Event,
    Frame,
    Ping,
    Pong,
    SetOptions,
    Stop,
    Text,
)
from .core.handler import Actor, Handler
from .core.mailbox import Overflow
from .core.process import (
    Down,
    MonitorRef,
    Pid,
    cancel_timer,
    demonitor,
    monitor,
    self_pid,
    send,
    send_after,
    send_interval,
)
from .core.reasons import (
    Crash,
    ErrorKind,
    ErrorReason,
    Normal,
    Reason,
    Remote,
    Shutdown,
    StopReason,
    Timeout,
)
from .core.registry import Keys, Registry
from .core.request import Accept, Reject, Request, Response, StreamingResponse
from .core.send_queue import SendPolicy
from .core.supervision import Restart, Strategy
from .core.timers import TimerRef
from .core.transport import FrameRefused
from .core.wire import PreparedFrame
from .errors import (
    ActorsockError,
    AlreadyRegisteredError,
    ConfigError,
    DeadPidError,
    ListenError,
    NotInActorError,
    RegistryError,
    RouteError,
    SupervisorError,
)
from .listeners import Listener
from .pubsub import (
    LocalAdapter,
    LocalBus,
    PubSub,
    PubSubStatistics,
    broadcast,
    broadcast_frame,
    broadcast_from,
    default_pubsub,
    local_broadcast,
    subscribe,
    subscriber_count,
    unsubscribe,
)
from .runtime.actor import start_actor
from .runtime.stats import ConnectionStatistics, ServerStatistics
from .runtime.supervisor import ChildSpec, Supervisor

#: The default registry: duplicate keys, shared by the whole process.
registry = Registry(keys=Keys.DUPLICATE, name="actorsock.registry")

__all__ = [
    "JSON",
    "MSGPACK",
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
    "ConnectionStatistics",
    "Crash",
    "DataFrame",
    "DeadPidError",
    "DecodeError",
    "Down",
    "ErrorKind",
    "ErrorReason",
    "Event",
    "Frame",
    "FrameRefused",
    "Handler",
    "Keys",
    "ListenError",
    "Listener",
    "LocalAdapter",
    "LocalBus",
    "MonitorRef",
    "Normal",
    "NotInActorError",
    "Overflow",
    "Pid",
    "Ping",
    "Pong",
    "PreparedFrame",
    "PubSub",
    "PubSubStatistics",
    "Reason",
    "Registry",
    "RegistryError",
    "Reject",
    "Remote",
    "Request",
    "Response",
    "Restart",
    "RouteError",
    "SendPolicy",
    "ServerStatistics",
    "SetOptions",
    "Shutdown",
    "Stop",
    "StopReason",
    "Strategy",
    "StreamingResponse",
    "Supervisor",
    "SupervisorError",
    "Text",
    "Timeout",
    "TimerRef",
    "__version__",
    "broadcast",
    "broadcast_frame",
    "broadcast_from",
    "cancel_timer",
    "default_pubsub",
    "demonitor",
    "load_config",
    "local_broadcast",
    "monitor",
    "registry",
    "self_pid",
    "send",
    "send_after",
    "send_interval",
    "start_actor",
    "subscribe",
    "subscriber_count",
    "unsubscribe",
]


def __getattr__(name: str) -> object:
    # Renamed names, still importable with a DeprecationWarning (see core.reasons).
    if name == "Error":
        from .core import reasons

        return reasons.__getattr__(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

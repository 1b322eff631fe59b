from structlog.testing import capture_logs

from actorsock.logging import ContextLogger, get_logger


def test_a_context_logger_adds_its_pairs_to_every_line():
    log = ContextLogger(get_logger(app="demo"), pid="<0.7>", route="/ws")
    with capture_logs() as lines:
        log.info("open", subprotocol=None)
        log.warning("slow", route="/other")  # a pair given with the line wins
        log.error("crashed")
    app = {"app": "demo", "pid": "<0.7>"}
    assert lines == [
        {**app, "event": "open", "log_level": "info", "route": "/ws", "subprotocol": None},
        {**app, "event": "slow", "log_level": "warning", "route": "/other"},
        {**app, "event": "crashed", "log_level": "error", "route": "/ws"},
    ]

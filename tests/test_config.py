from pathlib import Path

import pytest

from actorsock.config import Config, ConfigWarning, WebSocketConfig, load_config
from actorsock.errors import ConfigError

SHIPPED = Path(__file__).parent.parent / "config" / "actorsock.toml"


def test_the_shipped_file_documents_exactly_the_defaults():
    assert load_config(SHIPPED, env={}) == Config()
    text = SHIPPED.read_text()
    for section in ("server", "websocket", "log"):
        for name in getattr(Config(), section).__dataclass_fields__:
            assert f"\n{name} = " in text, f"{section}.{name} is not documented"


def test_precedence_defaults_file_env_cli(tmp_path):
    file = tmp_path / "a.toml"
    file.write_text('[server]\nport = 9000\nhost = "0.0.0.0"\n[websocket]\nidle_timeout = 5\n')
    env = {"ACTORSOCK_SERVER_PORT": "9001", "ACTORSOCK_SERVER_ALLOWED_ORIGINS": "a, b"}
    config = load_config(file, env=env, overrides={"server.port": 9002, "server.host": None})
    assert config.server.port == 9002  # CLI beats env beats file
    assert config.server.host == "0.0.0.0"  # file beats defaults; None flags ignored
    assert config.websocket.idle_timeout == 5.0  # int accepted for a float option
    assert config.server.allowed_origins == ("a", "b")
    assert config.websocket.mailbox_size == 1024


def test_config_file_from_environment(tmp_path):
    file = tmp_path / "b.toml"
    file.write_text('[log]\nlevel = "debug"\n')
    assert load_config(env={"ACTORSOCK_CONFIG": str(file)}).log.level == "debug"


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ('[server]\nport = "eighty"\n', "server.port"),
        ("[server]\nport = 70000\n", "server.port"),
        ("[server]\nprot = 80\n", "server.prot"),
        ('[websocket]\noverflow = "explode"\n', "websocket.overflow"),
        ("[websocket]\nidle_timeout = -1\n", "websocket.idle_timeout"),
        ('[server]\nallowed_origins = "*"\n', "server.allowed_origins"),
        ("[nope]\nx = 1\n", "nope.x"),
        ("port = 80\n", "port"),
        ("[server\n", "(syntax)"),
    ],
)
def test_bad_file_values_name_key_and_file(tmp_path, content, key):
    file = tmp_path / "bad.toml"
    file.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_config(file, env={})
    assert caught.value.key == key and caught.value.source == str(file)
    assert str(file) in str(caught.value) and key in str(caught.value)


def test_bad_environment_values():
    with pytest.raises(ConfigError, match="ACTORSOCK_SERVER_PORT"):
        load_config(env={"ACTORSOCK_SERVER_PORT": "x"})


def test_unknown_environment_variables_warn_once_with_the_closest_option():
    said: list[str] = []
    env = {"ACTORSOCK_HOME": "/opt/app", "ACTORSOCK_SERVER_PROT": "1", "ACTORSOCK_BIN": "/x"}
    config = load_config(env=env, warn=said.append)
    assert config == Config()  # nothing applied, nothing stopped
    assert len(said) == 3
    prot = next(line for line in said if "ACTORSOCK_SERVER_PROT" in line)
    assert "ACTORSOCK_SERVER_PORT" in prot  # the closest option
    assert any("ACTORSOCK_HOME" in line for line in said)


def test_unknown_environment_variable_is_a_config_warning_by_default():
    with pytest.warns(ConfigWarning, match="ACTORSOCK_HOME"):
        load_config(env={"ACTORSOCK_HOME": "/opt/app"})


def test_missing_file():
    with pytest.raises(ConfigError, match="file not found") as caught:
        load_config("/nonexistent/actorsock.toml", env={})
    assert caught.value.key == "--config"


def test_missing_file_named_by_the_environment_blames_the_variable():
    with pytest.raises(ConfigError, match="file not found") as caught:
        load_config(env={"ACTORSOCK_CONFIG": "/nonexistent/actorsock.toml"})
    assert caught.value.key == "ACTORSOCK_CONFIG"
    assert "--config" not in str(caught.value)


def test_replace_for_code():
    assert Config().replace(server__port=0).server.port == 0
    with pytest.raises(ConfigError):
        Config().replace(server__port="x")


def test_the_connection_defaults_are_written_once():
    from actorsock.core.options import ConnectionOptions

    assert WebSocketConfig is ConnectionOptions
    assert Config().websocket == ConnectionOptions()

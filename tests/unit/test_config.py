from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.core.bots import BotConfigError, load_bots, parse_bots
from pipeline.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "bots.example.toml"


def test_example_bots_file_loads_with_every_channel_of_the_demo_bot():
    bots = load_bots(EXAMPLE)
    demo = bots["demo"]
    assert demo.inactivity_minutes == 10
    assert {c: bool(demo.channel_secrets(c)) for c in ("telegram", "messenger", "livechat", "slack", "web")} == \
        dict.fromkeys(("telegram", "messenger", "livechat", "slack", "web"), True)
    assert bots["acme"].channel_secrets("telegram") is None


def test_api_key_comparison_accepts_only_the_exact_key():
    demo = load_bots(EXAMPLE)["demo"]
    assert demo.accepts_key("demo-api-key-change-me")
    assert not demo.accepts_key("demo-api-key-change-m")


def test_bad_bot_config_names_the_key_and_problem():
    with pytest.raises(BotConfigError, match=r"bots\.x\.api_key: String should have at least 16 characters"):
        parse_bots('[bots.x]\napi_key = "short"\n')
    with pytest.raises(BotConfigError, match=r"bots\.x\.colour: Extra inputs are not permitted"):
        parse_bots('[bots.x]\napi_key = "0123456789abcdef"\ncolour = "red"\n')
    with pytest.raises(BotConfigError, match="at least one"):
        parse_bots("")
    with pytest.raises(BotConfigError, match="cannot read"):
        load_bots(Path("/nonexistent/bots.toml"))


def test_settings_default_to_local_broker_and_embedded_chdb(monkeypatch, tmp_path):
    monkeypatch.setenv("CHATLENS_DATA_DIR", str(tmp_path))
    for name in ("KAFKA_BOOTSTRAP", "CLICKHOUSE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.uses_local_broker and settings.bootstrap == "127.0.0.1:19092"
    assert settings.clickhouse_dsn == f"chdb://{tmp_path}/chdb"


def test_real_clusters_are_named_by_environment(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("CLICKHOUSE_URL", "http://u:p@ch:8123/chatlens")
    settings = Settings()
    assert not settings.uses_local_broker
    assert (settings.bootstrap, settings.clickhouse_dsn) == ("k1:9092,k2:9092", "http://u:p@ch:8123/chatlens")


def test_blank_environment_values_mean_unset(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP", " ")
    assert Settings().uses_local_broker


def test_invalid_settings_are_refused_with_the_variable_named(monkeypatch):
    monkeypatch.setenv("CLICKHOUSE_URL", "mysql://x")
    with pytest.raises(ValidationError, match="CLICKHOUSE_URL must start with"):
        Settings()
    monkeypatch.delenv("CLICKHOUSE_URL")
    monkeypatch.setenv("CHATLENS_HTTP_PORT", "99999")
    with pytest.raises(ValidationError, match="CHATLENS_HTTP_PORT"):
        Settings()


def test_schedule_dir_defaults_under_the_data_dir_and_must_be_a_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("CHATLENS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CHATLENS_SCHEDULE_DIR", raising=False)
    assert Settings().schedule_dir == tmp_path / "scheduled-exports"
    monkeypatch.setenv("CHATLENS_SCHEDULE_DIR", str(tmp_path / "exports" / ".." / "out"))
    assert Settings().schedule_dir == tmp_path / "out"
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("CHATLENS_SCHEDULE_DIR", str(tmp_path / "a-file"))
    with pytest.raises(ValidationError, match="CHATLENS_SCHEDULE_DIR must be a directory"):
        Settings()


def test_without_chatlens_bots_file_the_settings_read_bots_toml_else_the_example(monkeypatch, tmp_path):
    monkeypatch.delenv("CHATLENS_BOTS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert Settings().bots_file == Path("bots.toml")             # neither: the error will name bots.toml
    (tmp_path / "bots.example.toml").write_text(EXAMPLE.read_text())
    assert Settings().bots_file == Path("bots.example.toml")     # a fresh clone: the example's demo bot
    (tmp_path / "bots.toml").write_text(EXAMPLE.read_text())
    assert Settings().bots_file == Path("bots.toml")             # yours wins
    monkeypatch.setenv("CHATLENS_BOTS_FILE", "/etc/chatlens/bots.toml")
    assert Settings().bots_file == Path("/etc/chatlens/bots.toml")


def test_cli_commands_find_the_demo_bot_of_a_fresh_clone_without_the_variable(monkeypatch, tmp_path):
    from pipeline.cli.common import load_bot
    monkeypatch.delenv("CHATLENS_BOTS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bots.example.toml").write_text(EXAMPLE.read_text())
    settings, bot = load_bot("demo")
    assert (settings.bots_file, bot.bot_id) == (Path("bots.example.toml"), "demo")

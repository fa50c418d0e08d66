from click.testing import CliRunner

from pipeline.cli.main import main


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


def test_every_subcommand_has_help():
    runner = CliRunner()
    paths = list(_commands(main))
    assert {("run",), ("worker",), ("kafka", "start"), ("kafka", "stop"), ("kafka", "status"), ("sql",)} <= set(paths)
    for path in paths:
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, path


def test_sql_without_admin_key_says_what_to_set(monkeypatch):
    monkeypatch.delenv("CHATLENS_ADMIN_KEY", raising=False)
    result = CliRunner().invoke(main, ["sql", "SELECT 1"])
    assert result.exit_code == 1 and "set CHATLENS_ADMIN_KEY" in result.output


def test_invalid_configuration_is_reported_not_raised(monkeypatch):
    monkeypatch.setenv("CLICKHOUSE_URL", "ftp://nope")
    result = CliRunner().invoke(main, ["kafka", "status"])
    assert result.exit_code == 1 and "invalid configuration" in result.output and "CLICKHOUSE_URL" in result.output


def test_run_starts_a_crashed_worker_again_and_stops_when_it_ends_by_itself(tmp_path, monkeypatch):
    import sys

    import pipeline.cli.worker as cli
    runs = tmp_path / "runs"
    script = (f"import pathlib, sys; p = pathlib.Path({str(runs)!r}); n = len(p.read_text()) if p.exists() else 0; "
              "p.write_text('x' * (n + 1)); sys.exit(1 if n < 2 else 0)")
    monkeypatch.setattr(cli, "WORKER", [sys.executable, "-c", script])
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    cli.supervise_worker()
    assert runs.read_text() == "xxx"  # crashed twice (exit 1), started again each time, then ended with 0

"""The `chatlens` command. Every subcommand has --help; configuration comes from the environment."""

from __future__ import annotations

import logging

import click

from pipeline.cli.demo import demo
from pipeline.cli.dlq import dlq
from pipeline.cli.export import export
from pipeline.cli.kafka import kafka
from pipeline.cli.schedules import schedules
from pipeline.cli.segments import segments
from pipeline.cli.store import migrate, rebuild, sql
from pipeline.cli.users import users
from pipeline.cli.worker import ingest, run, worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """chatlens: chat webhooks -> Kafka -> Faust -> ClickHouse -> the Users section.

    Configuration is read from environment variables (see README.md, "Configuration").
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("kafka", "httpx"):  # they narrate every connection at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)


for command in (run, worker, ingest, kafka, migrate, rebuild, sql, demo, users, export, segments, schedules, dlq):
    main.add_command(command)

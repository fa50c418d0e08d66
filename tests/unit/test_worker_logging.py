"""The worker's log level is the level its libraries log at: no debug record is made above DEBUG."""

from __future__ import annotations

import logging

import faust
import pytest

from pipeline.stream.supervision import Worker


@pytest.fixture
def restored_root_logger():
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    yield root
    root.setLevel(level)
    root.handlers[:] = handlers


@pytest.mark.parametrize("level", ["WARNING", "ERROR"])
def test_a_worker_at_warning_or_above_makes_no_debug_records_of_its_libraries(level, restored_root_logger):
    worker = Worker(faust.App("log-level-test", broker="kafka://127.0.0.1:1"), loglevel=level, quiet=True,
                    deadline=1.0)
    worker._setup_logging()
    assert restored_root_logger.level == getattr(logging, level)
    assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("faust.topics").isEnabledFor(logging.DEBUG)

import asyncio

from consumers.sink import RetryingWriter, SinkStatus


def test_failed_writes_are_retried_until_they_succeed_and_reported_meanwhile():
    calls, seen_status = [], []
    status = SinkStatus()

    def flaky(batch):
        calls.append(list(batch))
        seen_status.append(status.ok)
        if len(calls) < 3:
            raise ConnectionError("ClickHouse is down")
        return len(batch)

    writer = RetryingWriter(flaky, status=status, first_delay=0.001)
    assert asyncio.run(writer.write([1, 2])) == 2
    assert calls == [[1, 2]] * 3
    assert seen_status == [True, False, False]  # reported failing between attempts
    assert (status.ok, status.attempts, status.rows_written, status.batches_written) == (True, 0, 2, 1)


def test_a_write_that_keeps_failing_never_returns_and_records_the_error():
    status = SinkStatus()

    def down(batch):
        raise ConnectionError("refused")

    async def scenario():
        task = asyncio.create_task(RetryingWriter(down, status=status, first_delay=0.001, max_delay=0.002).write([1]))
        await asyncio.sleep(0.1)
        assert not task.done()
        task.cancel()

    asyncio.run(scenario())
    assert status.ok is False and status.attempts > 3 and status.last_error == "ConnectionError: refused"

"""A topic just created by a racing process is described without partitions for a moment."""

from pipeline.kafka.admin import settled_partition_counts


def describer(*answers):
    calls = []

    def describe(names):
        calls.append(list(names))
        return answers[min(len(calls), len(answers)) - 1]
    describe.calls = calls
    return describe


def topic(name, partitions, error_code=0):
    return {"name": name, "error_code": error_code, "partitions": [{"partition": p} for p in range(partitions)]}


def test_a_topic_described_with_no_partitions_yet_is_asked_again_until_it_has_them():
    describe = describer([topic("a", 4), topic("b", 0)], [topic("a", 4), topic("b", 4)])
    assert settled_partition_counts(describe, ["a", "b"], pause=0) == {"a": 4, "b": 4}
    assert len(describe.calls) == 2


def test_a_topic_described_with_an_error_is_asked_again():
    describe = describer([topic("a", 0, error_code=5)], [topic("a", 8)])
    assert settled_partition_counts(describe, ["a"], pause=0) == {"a": 8}


def test_a_settled_mismatch_is_returned_at_once_for_the_caller_to_refuse():
    describe = describer([topic("a", 2)])
    assert settled_partition_counts(describe, ["a"], pause=0) == {"a": 2}
    assert len(describe.calls) == 1


def test_a_topic_that_never_settles_counts_zero_after_the_wait():
    describe = describer([topic("a", 0)])
    assert settled_partition_counts(describe, ["a"], wait=0.05, pause=0.01) == {"a": 0}
    assert len(describe.calls) > 1

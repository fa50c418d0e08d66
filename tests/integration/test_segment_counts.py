import pytest

from queries.users import segment_counts
from tests.support.user_rows import insert_users, user_row

pytestmark = pytest.mark.integration


def test_segments_are_listed_with_current_member_counts_per_bot(clickhouse):
    insert_users(clickhouse, [
        user_row("web:a", segments=["newsletter", "beta"]), user_row("web:b", segments=["newsletter"]),
        user_row("web:c", segments=["beta"]), user_row("web:c", segments=[], version=2),   # left beta
        user_row("web:d", segments=["newsletter"], is_deleted=1),                           # deleted
        user_row("web:e", bot_id="other", segments=["newsletter"]),                         # another bot
    ])
    assert segment_counts(clickhouse, "demo") == [{"segment": "beta", "members": 1},
                                                  {"segment": "newsletter", "members": 2}]

import pytest

from pipeline.cli.where import WhereError, parse_where
from queries.columns import FilterError


@pytest.mark.parametrize("expression,column,function,value", [
    ("country = Poland", "country", "equals", "Poland"),
    ("name != Ana Ruiz", "name", "not_equals", "Ana Ruiz"),
    ("attributes.plan = pro", "attributes.plan", "equals", "pro"),
    ("attributes.seats >= 10", "attributes.seats", "gte", 10),
    ("sessions > 3", "sessions", "gt", 3),
    ("avg_sentiment < -0.2", "avg_sentiment", "lt", -0.2),
    ("sessions between 1,5", "sessions", "between", [1, 5]),
    ("email contains @gmail.com", "email", "contains", "@gmail.com"),
    ("tags has vip", "tags", "has", "vip"),
    ("channel = web", "channel", "has", "web"),
    ("last_seen within_last_days 7", "last_seen", "within_last_days", 7),
    ("first_seen > 2026-01-01", "first_seen", "after", "2026-01-01"),
    ("email is_set", "email", "is_set", None),
    ("banned is_true", "banned", "is_true", None),
    ("country in_list Poland, Spain", "country", "in_list", ["Poland", "Spain"]),
])
def test_where_expressions_become_typed_conditions(expression, column, function, value):
    condition = parse_where(expression)
    assert (condition.column, condition.function, condition.value) == (column, function, value)


def test_where_errors_say_what_form_is_expected():
    with pytest.raises(WhereError, match="expected '<column> <function> \\[value\\]'"):
        parse_where("country")
    with pytest.raises(FilterError, match="unknown column 'nosuch'"):
        parse_where("nosuch = 1")
    with pytest.raises(WhereError, match="between"):
        parse_where("sessions between 1")

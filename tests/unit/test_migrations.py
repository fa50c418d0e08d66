from queries.migrate import migration_files, statements

# statements that leave the same table when run twice (a setting set again, a projection rebuilt again)
IDEMPOTENT_BY_NATURE = ("MODIFY SETTING", "MATERIALIZE PROJECTION")


def test_statements_split_on_semicolons_at_line_ends_and_drop_comments():
    sql = "-- a comment\nCREATE TABLE a (x String DEFAULT ';');\n\n-- another\nCREATE TABLE b (y UInt8);\n"
    assert statements(sql) == ["CREATE TABLE a (x String DEFAULT ';')", "CREATE TABLE b (y UInt8)"]


def test_migration_files_are_numbered_in_order_and_idempotent():
    names = [name for name, _ in migration_files()]
    assert names == sorted(names) and names[0].startswith("0001_")
    for name, sql in migration_files():
        for statement in statements(sql):
            repeatable = any(kind in statement for kind in IDEMPOTENT_BY_NATURE)
            assert "IF NOT EXISTS" in statement or "IF EXISTS" in statement or repeatable, (name, statement[:60])

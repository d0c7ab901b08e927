""" "Nothing lost, nothing doubled", read straight from the tables with SQL.

Plain SQL on a DB-API cursor, so the same checks run on the test database (Django's connection) and on
a test's own PostgreSQL cluster (a psycopg2 connection) that Django's test machinery does not know.
"""

# Order statuses that mean "this order is, or was, on the exchange".
ON_EXCHANGE = ("open", "partially_filled", "filled")
# Order statuses that mean "work still in flight"; none may be left once the engine has settled.
IN_FLIGHT = ("pending", "unknown")


def rows(cursor, sql: str, params=()) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall()


def problems(cursor, *, allow_queued: bool = False) -> list[str]:
    """Every broken invariant, in words; an empty list when the books are straight."""
    found = []
    unfinished = ("received",) if allow_queued else ("received", "queued")
    for signal_id, status in rows(cursor, "SELECT id, status FROM trading_signal WHERE status IN %s", (unfinished,)):
        found.append(f"signal {signal_id} is still {status}")
    for client_id, count in rows(
        cursor,
        "SELECT client_order_id, count(*) FROM exchanges_paperorder "
        "GROUP BY account_id, client_order_id HAVING count(*) > 1",
    ):
        found.append(f"{count} paper orders carry client id {client_id}")
    for client_id, status in rows(
        cursor,
        """
            SELECT p.client_order_id, p.status FROM exchanges_paperorder p
            LEFT JOIN trading_order o ON o.client_order_id = p.client_order_id
            WHERE o.id IS NULL""",
    ):
        found.append(f"paper order {client_id} ({status}) has no order row: orphaned on the exchange")
    for client_id, status in rows(
        cursor,
        """
            SELECT o.client_order_id, o.status FROM trading_order o
            LEFT JOIN exchanges_paperorder p ON p.client_order_id = o.client_order_id
            WHERE p.id IS NULL AND o.status IN %s""",
        (ON_EXCHANGE,),
    ):
        found.append(f"order {client_id} is {status} but the exchange never had it")
    for client_id, status in rows(
        cursor, "SELECT client_order_id, status FROM trading_order WHERE status IN %s", (IN_FLIGHT,)
    ):
        found.append(f"order {client_id} is still {status}")
    for client_id, ours, theirs in rows(
        cursor,
        """
            SELECT o.client_order_id, o.status, p.status FROM trading_order o
            JOIN exchanges_paperorder p ON p.client_order_id = o.client_order_id
            WHERE (p.status = 'open') <> (o.status IN ('open', 'partially_filled'))
               OR (p.status = 'closed' AND o.status <> 'filled')""",
    ):
        found.append(f"order {client_id} is {ours} here but {theirs} on the exchange")
    for client_id, group_status in rows(
        cursor,
        """
            SELECT p.client_order_id, g.status FROM exchanges_paperorder p
            JOIN trading_order o ON o.client_order_id = p.client_order_id
            JOIN trading_positiongroup g ON g.id = o.group_id
            WHERE p.status = 'open' AND g.status IN ('closed', 'failed')""",
    ):
        found.append(f"paper order {client_id} is still open for a {group_status} group")
    return found


def assert_books_straight(cursor, **options) -> None:
    found = problems(cursor, **options)
    assert not found, "nothing lost, nothing doubled — broken:\n  " + "\n  ".join(found)


def counts(cursor) -> dict:
    """A few totals worth printing next to a failure."""
    return {
        "signals": dict(rows(cursor, "SELECT status, count(*) FROM trading_signal GROUP BY status")),
        "orders": dict(rows(cursor, "SELECT status, count(*) FROM trading_order GROUP BY status")),
        "paper_orders": dict(rows(cursor, "SELECT status, count(*) FROM exchanges_paperorder GROUP BY status")),
        "groups": dict(rows(cursor, "SELECT status, count(*) FROM trading_positiongroup GROUP BY status")),
    }


def books_straight(**options) -> None:
    """``assert_books_straight`` on the test database, with the totals when it fails."""
    from django.db import connection

    with connection.cursor() as cursor:
        try:
            assert_books_straight(cursor, **options)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\ncounts: {counts(cursor)}") from None


def database_state() -> str:
    """Totals and every order of the test database, for a timeout's message."""
    from django.db import connection

    with connection.cursor() as cursor:
        orders = rows(
            cursor,
            "SELECT o.role, o.leg_index, o.status, o.client_order_id, o.error_message, p.status "
            "FROM trading_order o LEFT JOIN exchanges_paperorder p "
            "ON p.client_order_id = o.client_order_id ORDER BY o.created_at",
        )
        return f"{counts(cursor)}\n" + "\n".join(map(str, orders))

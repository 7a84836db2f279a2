from perfaudit.engine.analyze import CallSite, FileContext
from perfaudit.engine.rulebase import Example
from perfaudit.rules._paced import retried_or_paced
from perfaudit.rules._table_calls import TableCallRule


class DbConnectionPerCall(TableCallRule):
    """PA203 db-connection-per-call

    ## What it does
    Flags a database connection or client (`sqlite3`, `psycopg2`, `psycopg`, `pymysql`,
    `mysql.connector`, `asyncpg` connect, `redis.Redis()`/`redis.from_url`,
    `pymongo.MongoClient`, `sqlalchemy.create_engine`) created inside a loop or a
    comprehension.

    ## Why is this bad?
    Connecting costs a network round trip or more (authentication, TLS, server-side
    process start for PostgreSQL): far more than a typical query. A client like
    `MongoClient` or an SQLAlchemy engine is a whole connection pool with background
    threads. Created per item, that cost is paid per item.

    A retry loop is not reported (connect again after a failure, stop at the first
    success: waiting for a database to come up), nor a paced loop (one that sleeps a
    second or more per iteration), as for PA201/PA202.

    ## Example
    ```python
    for user_id in ids:
        conn = psycopg2.connect(DSN)
        conn.cursor().execute("update ...", (user_id,))
    ```
    Use instead:
    ```python
    conn = psycopg2.connect(DSN)
    for user_id in ids:
        conn.cursor().execute("update ...", (user_id,))
    ```
    """

    code = "PA203"
    calls_table = "db_connects"
    name = "db-connection-per-call"
    summary = "a database connection or client is created inside a loop"
    hooks_call = True
    examples = (
        Example.bad("""
            import sqlite3
            def save(rows):
                for row in rows:
                    conn = sqlite3.connect("app.db")  # expect: PA203
                    conn.execute("insert into t values (?)", row)
        """),
        Example.ok("""
            import sqlite3
            def save(rows):
                conn = sqlite3.connect("app.db")
                for row in rows:
                    conn.execute("insert into t values (?)", row)
        """),
    )

    def on_call(self, ctx: FileContext, site: CallSite) -> None:
        if site.loop_depth and site.qual is not None:
            if retried_or_paced(ctx, site):
                return  # connected again only after a failure, or once a pause
            ctx.report(self, site.node,
                       f"`{site.qual}` inside a loop connects again on every iteration; "
                       "connect once before the loop (or use a pool) and reuse it",
                       stmt=site.stmt)

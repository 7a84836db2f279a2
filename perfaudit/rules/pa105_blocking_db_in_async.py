from perfaudit.engine.rulebase import Example
from perfaudit.model import FixKind
from perfaudit.rules._blocking import BlockingCallRule


class BlockingDbInAsync(BlockingCallRule):
    """PA105 blocking-db-in-async

    ## What it does
    Flags synchronous database drivers used in the body of an `async def`:
    `sqlite3.connect` and its connections' and cursors' `execute*`/`commit`/`fetch*`,
    `psycopg2.connect` (and its cursors), `pymysql.connect`, `mysql.connector.connect`,
    synchronous `redis.Redis` commands and `pymongo.MongoClient`.

    ## Why is this bad?
    A query waits on the database server. Done synchronously, the whole event loop waits
    with it, and one slow query stalls every concurrent request.

    ## Example
    ```python
    async def count(db_path):
        conn = sqlite3.connect(db_path)
        return conn.execute("select count(*) from t").fetchone()
    ```
    Use instead:
    ```python
    async def count(db_path):
        async with aiosqlite.connect(db_path) as conn:
            cur = await conn.execute("select count(*) from t")
            return await cur.fetchone()
    ```
    """

    code = "PA105"
    fix = FixKind.UNSAFE
    name = "blocking-db-in-async"
    summary = "synchronous database call in an `async def` blocks the event loop"
    examples = (
        Example.bad("""
            import sqlite3
            async def count(db_path):
                conn = sqlite3.connect(db_path)  # expect: PA105
                return conn.execute("select 1").fetchone()  # expect: PA105
        """),
        Example.ok("""
            import aiosqlite
            async def count(db_path):
                async with aiosqlite.connect(db_path) as conn:
                    cur = await conn.execute("select 1")
                    return await cur.fetchone()
        """),
    )

"""Engine, sessions and the unit of work."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    String,
    any_,
    bindparam,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout, and its writers queued (`Writers`)
    so that several threads and processes can share it."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Every commit on disk before it returns, unless relaxed (`relax`).
            cursor.execute("PRAGMA synchronous=FULL")
            # What is deleted or overwritten is zeroed in the file, not left in free space:
            # `advocate forget` and the retention must leave no readable trace.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        @event.listens_for(engine, "checkin")
        def _durable_again(dbapi_connection: Any, record: Any) -> None:
            if record.record_info.pop("relaxed", False):
                dbapi_connection.execute("PRAGMA synchronous=FULL")

        path = make_url(url).database
        if path and path != ":memory:":
            Writers(path).watch(engine)
        return engine
    # Not pinged before each use (a round trip per transaction): a connection found dead
    # fails its transaction, which is retried (a request's storing at once, its work by
    # the pipeline's retries), and makes the pool replace every connection it holds.
    return create_engine(url, **kwargs)


def relax(connection: Connection) -> None:
    """This transaction's commit does not wait for the disk (`Database.transaction(durable=
    False)`): PostgreSQL's `synchronous_commit` is off for this transaction alone; SQLite's
    `synchronous=NORMAL` is set before its first statement, outside SQLite's transaction
    (which the driver begins at the first write), and the connection is made durable again
    when it returns to the pool."""
    # On the driver's own connection: one setting, no statement of ours to compile.
    driver = connection.connection.dbapi_connection
    info = connection.connection.record_info
    if driver is None or info is None:
        return
    if connection.dialect.name == "postgresql":
        driver.execute("SET LOCAL synchronous_commit TO OFF")
        return
    driver.execute("PRAGMA synchronous=NORMAL")
    info["relaxed"] = True


WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class Writers:
    """One writer at a time on a SQLite file, queued on a lock beside it.

    SQLite lets one connection write at a time, and one that finds the file locked polls,
    sleeping up to 100 ms between tries: a request's short insert, behind a worker's
    transaction, would wait for the next poll rather than for that transaction. Here a
    connection about to write first takes this lock (a thread lock, then an `flock` on
    `<file>-writer` shared by every process), and gives it back when it returns to the pool,
    after its commit or rollback; whoever waits is woken the moment it is free. Reads take
    no lock (WAL).
    """

    def __init__(self, path: str) -> None:
        self.path = f"{path}-writer"
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._file: int | None = None
        self._pid = 0

    def watch(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine, "checkin", self._checkin)

    def _before_execute(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The record's own dict, not the connection's: that one is emptied when a
        # connection is invalidated, and the lock would never be given back.
        info = conn.connection.record_info
        if info.get("writing") or not statement.lstrip()[:7].upper().startswith(WRITES):
            return
        me = threading.get_ident()
        if self._owner == me:
            return  # a second connection of this thread: SQLite's own lock decides
        self._lock.acquire()
        try:
            fcntl.flock(self._lock_file(), fcntl.LOCK_EX)
        except BaseException:
            self._lock.release()
            raise
        self._owner = me
        info["writing"] = True

    def _checkin(self, _dbapi_connection: Any, record: Any) -> None:
        if record.record_info.pop("writing", False):
            self._owner = None
            try:
                fcntl.flock(self._lock_file(), fcntl.LOCK_UN)
            finally:
                self._lock.release()

    def _lock_file(self) -> int:
        # A process forked from this one opens its own: a shared open file would share
        # the lock instead of queueing for it.
        if self._file is None or self._pid != os.getpid():
            self._file = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._file


class Database:
    """The app's database: an engine and a way to run one transaction."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # PostgreSQL: connections whose statements commit one by one (`alone`).
        self._autocommit = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.engine.dialect.name == "postgresql"
            else None
        )

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Session]:
        """One unit of work: commits when the block ends, rolls back if it raises.

        Every commit is on disk before it returns, except with `durable=False`, on SQLite:
        for work whose loss in a power cut only has it looked at again, because what it
        records is found again by its key (a claim, messages marked sent, a request marked
        done). A commit that decides what the app will tell Slack (an appreciation and its
        messages' keys, a reply counted) must be durable: the app would otherwise decide
        it again, differently, after posting it. The database then waits for no flush of
        its log, which each commit otherwise does (on SQLite, while holding the only
        writer's lock); a crash of the application itself loses nothing either way."""
        with self._sessions() as session, session.begin():
            if not durable:
                relax(session.connection())
            yield session

    @contextmanager
    def begin(self, *, durable: bool = True) -> Iterator[Connection]:
        """`transaction` for statements alone (no ORM objects): a connection in a
        transaction, committed when the block ends."""
        with self.engine.begin() as connection:
            if not durable:
                relax(connection)
            yield connection

    @contextmanager
    def alone(self, *, durable: bool = True) -> Iterator[Connection]:
        """A connection for work that is one statement (a read, or a write that stands on
        its own), committed as it runs.

        On PostgreSQL it runs in autocommit: without the BEGIN and COMMIT around it, each a
        round trip of its own, which made a single statement cost three. Its commit then
        waits for the disk even when `durable` is False: turning that off takes a statement
        of its own, a round trip that costs more than the wait (BENCHMARKS.md). On SQLite,
        where none of these is a round trip, it is `begin(durable=durable)`."""
        if self._autocommit is None:
            with self.begin(durable=durable) as connection:
                yield connection
            return
        with self._autocommit.connect() as connection:
            yield connection

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def reclaim_erased(self) -> None:
        """SQLite: copy the write-ahead log into the file and truncate it, so that erased
        text is not left in old page images there (secure_delete zeroes it in the file).
        Best effort: a reader in another process can hold the log for a while."""
        if not self.url.startswith("sqlite"):
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def dispose(self) -> None:
        self.engine.dispose()


def among(session: Session, column: Any, values: Collection[Any]) -> Any:
    """`column IN values`; on PostgreSQL `column = ANY(values)`, one array placeholder
    however many values: psycopg parses every placeholder of a statement on each call, and
    a long one's parse is not cached."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(text_array(values))
    return column.in_(values)


def text_array(values: Collection[str]) -> Any:
    """PostgreSQL: `values` as one text[] placeholder."""
    from sqlalchemy.dialects.postgresql import ARRAY

    return bindparam(None, list(values), type_=ARRAY(String()))


def insert_ignoring_conflicts(
    session: Session, table: Any, rows: list[dict[str, Any]], conflict_columns: list[str]
) -> int:
    """Insert rows, skipping any that collide on `conflict_columns`; returns how many went in.

    This is how "exactly once" is decided: the first process to insert a key owns it.
    Every row has the same keys. One row's statement, built once per table and keys, goes to
    the driver's executemany (pipelined on PostgreSQL, its placeholders parsed once:
    SQLAlchemy's own many-row statements hold one per value, which psycopg parses on every
    call; an unnested array per column was tried, and was slower); from `COPY_FROM` rows,
    PostgreSQL gets them by COPY instead. A JSON value that several rows share is
    serialized once.
    """
    if not rows:
        return 0
    connection = session.connection()
    insert = _IgnoringInsert.of(table, connection.dialect, tuple(rows[0]), tuple(conflict_columns))
    driver: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        if len(rows) >= COPY_FROM:
            return insert.copied(driver, rows)
        parameters = insert.parameters(rows)
        done = connection.exec_driver_sql(
            insert.sql, parameters[0] if len(parameters) == 1 else parameters
        )
        return int(done.rowcount)
    parameters = insert.parameters(rows)
    # SQLite's rowcount for a row inserted through executemany is not to be relied on; the
    # connection's count of changed rows is.
    before = driver.total_changes
    connection.exec_driver_sql(insert.sql, parameters)
    return int(driver.total_changes - before)


# From this many rows, PostgreSQL gets them by COPY (`_IgnoringInsert.copied`).
COPY_FROM = 200


class _IgnoringInsert:
    """`insert_ignoring_conflicts`' statement for one table and set of keys, compiled once."""

    _built: dict[tuple[Any, ...], _IgnoringInsert] = {}

    @classmethod
    def of(
        cls, table: Any, dialect: Dialect, names: tuple[str, ...], conflict: tuple[str, ...]
    ) -> _IgnoringInsert:
        key = (table, dialect.name, names, conflict)
        if key not in cls._built:
            cls._built[key] = cls(table, dialect, names, conflict)
        return cls._built[key]

    def __init__(
        self, table: Any, dialect: Dialect, names: tuple[str, ...], conflict: tuple[str, ...]
    ) -> None:
        from sqlalchemy.dialects import postgresql, sqlite

        insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
        compiled = (
            insert(table)
            .on_conflict_do_nothing(index_elements=list(conflict))
            .compile(dialect=dialect, column_keys=list(names))
        )
        columns = inspect(table).columns
        self.sql = compiled.string
        self.positional = compiled.positional
        self.order = tuple(compiled.positiontup or names)
        quote = dialect.identifier_preparer.quote
        target = getattr(inspect(table), "local_table", table)  # a mapped class's table
        self.table_sql = dialect.identifier_preparer.format_table(target)
        self.copy_columns = ", ".join(quote(name) for name in self.order)
        self.insert_copied = (
            f"INSERT INTO {self.table_sql} ({self.copy_columns}) "
            f"SELECT {self.copy_columns} FROM {{rows}} ORDER BY staged_row "
            f"ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO NOTHING"
        )
        self.json = {name for name in names if isinstance(columns[name].type, JSON)}
        self.convert = {name: columns[name].type.bind_processor(dialect) for name in names}

    def parameters(self, rows: list[dict[str, Any]]) -> list[Any]:
        """The rows' values as the driver takes them: tuples, or dicts by name."""
        values = self._values(rows)
        if self.positional:
            return values
        return [dict(zip(self.order, v, strict=True)) for v in values]

    def _values(self, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """Each row's values in `self.order`, converted for the database."""
        # Rows share many values (the same `now`, the week's common message): each distinct
        # object is converted once. The rows keep them alive, so their ids stay theirs.
        done: dict[tuple[int, int], Any] = {}
        converted = [
            (i, _as_json if name in self.json else self.convert[name])
            for i, name in enumerate(self.order)
            if name in self.json or self.convert[name] is not None
        ]
        values = []
        for row in rows:
            value = [row[name] for name in self.order]
            for i, convert in converted:
                raw = value[i]
                # None too for JSON: JSON's null, as SQLAlchemy stores it.
                if raw is not None or convert is _as_json:
                    key = (i, id(raw))
                    if key not in done:
                        done[key] = convert(raw)
                    value[i] = done[key]
            values.append(tuple(value))
        return values

    def copied(self, driver: Any, rows: list[dict[str, Any]]) -> int:
        """PostgreSQL, many rows: COPY them into a table of this transaction, then one
        INSERT … SELECT that skips the conflicts, in the order given. Each row of an
        executemany is a statement of its own for the server to plan and run."""
        staged = f"staged_{secrets.token_hex(4)}"
        with driver.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {staged} ON COMMIT DROP AS SELECT {self.copy_columns}, "
                f"0 AS staged_row FROM {self.table_sql} WITH NO DATA"
            )
            copying = f"COPY {staged} ({self.copy_columns}, staged_row) FROM STDIN"
            with cursor.copy(copying) as copy:
                for n, value in enumerate(self._values(rows)):
                    copy.write_row((*value, n))
            cursor.execute(self.insert_copied.format(rows=staged))
            return int(cursor.rowcount)


def _as_json(value: Any) -> str:
    return json.dumps(value)

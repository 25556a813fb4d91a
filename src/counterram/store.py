"""The event store: every event of a run, appended to SQLite (WAL mode) and mirrored to JSON Lines.

A run directory holds two files with the same content, one event a row / a line, in order:

``events.sqlite``
    ``events(seq, t, kind, track, zone, payload)``: ``seq`` is the order of appending (1, 2, ...),
    ``payload`` is the JSON of ``event.to_dict()``; ``t``, ``kind``, ``track`` (the scalar ``track``
    of an event that has one) and ``zone`` are copied out of it into indexed columns so that
    ``counterram events DIR --kind K --zone Z`` need not parse every payload. A ``meta`` table
    holds the schema version.
``events.jsonl``
    The same payloads, one JSON object a line, for programs that would rather not speak SQLite.

Durability. :meth:`EventStore.append` writes one transaction per call (the engine calls it once
per step). The database runs in write-ahead-log mode with ``synchronous=NORMAL``: a commit is
appended to the WAL file but not fsync'ed. A *process* that dies at any point - killed, crashed,
out of memory - therefore loses nothing it committed, because the commit is already in the
operating system's file cache; the next reader (or writer) sees every committed transaction and
none of a half-written one. Only an *operating system* crash or a power loss can lose the last
commits (never corrupt the database; it rolls back to an earlier commit). ``durable=True`` uses
``synchronous=FULL``, which fsyncs the WAL at every commit and survives power loss too, at a cost
of one fsync per :meth:`~EventStore.append`.

The JSONL mirror is written after the commit. A writer killed between the two leaves the mirror
behind the database, or with a cut last line; :func:`read_jsonl` skips such a line, and the next
:class:`EventStore` opened on the directory cuts it and copies the missing events from the database,
so the mirror again equals the store.

One writer at a time: the database would serialise two writers, but their mirror lines would mix.
Any number of readers (:func:`read_events`, which opens the database read-only) may read while
the writer writes.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .events import EVENT_TYPES, Event

if TYPE_CHECKING:  # pragma: no cover
    from rich.table import Table

SCHEMA_VERSION = 1
DB_NAME = "events.sqlite"
JSONL_NAME = "events.jsonl"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    t REAL NOT NULL,
    kind TEXT NOT NULL,
    track INTEGER,
    zone TEXT,
    payload TEXT NOT NULL
);
CREATE INDEX events_kind ON events (kind);
CREATE INDEX events_zone ON events (zone);
CREATE INDEX events_track ON events (track);
"""


class StoreError(ValueError):
    """The event store is missing, is not an event store, or cannot be read; the message names the file."""


def _jsonable(obj: Any) -> Any:
    """``json.dumps`` fallback for NumPy scalars and arrays (events are made from the step's arrays)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if hasattr(obj, "tolist"):  # numpy.ndarray and numpy scalars
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"an event field of type {type(obj).__name__} is not JSON serialisable: {obj!r}")


_FIELDS: dict[type, tuple[str, ...]] = {}


def _event_dict(event: Event) -> dict:
    """``event.to_dict()``, without ``dataclasses.asdict``'s deep copy when the class keeps the default.

    ``asdict`` copies every list and dict recursively (70 % of the append time); JSON encoding
    needs no copy and gives the same text (a nested dataclass is expanded by :func:`_jsonable`).
    A class that overrides ``to_dict`` is asked for its own.
    """
    cls = type(event)
    if cls.to_dict is not Event.to_dict:
        return event.to_dict()
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    d = {"kind": event.kind}
    for name in names:
        d[name] = getattr(event, name)
    return d


def _dumps(d: dict) -> str:
    return json.dumps(d, separators=(",", ":"), default=_jsonable)


def _row(event: Event) -> tuple[float, str, int | None, str | None, str]:
    if not isinstance(event, Event):
        raise TypeError(f"EventStore.append takes Event objects, got {type(event).__name__}: {event!r}")
    track = getattr(event, "track", None)
    zone = getattr(event, "zone", None)
    return (
        float(event.t),
        event.kind,
        int(track) if track is not None else None,
        str(zone) if zone is not None else None,
        _dumps(_event_dict(event)),
    )


def _db_path(directory: Path) -> Path:
    """``DIR/events.sqlite`` for a directory; a path to an existing file is taken as the database."""
    directory = Path(directory)
    if directory.is_file():
        return directory
    return directory / DB_NAME


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Raise StoreError unless ``conn`` is a counterram event store of a version this code reads."""
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path}: not an event store ({e})") from None
    if not {"meta", "events"} <= tables:
        raise StoreError(f"{path}: not an event store (an SQLite database without the events/meta tables)")
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise StoreError(f"{path}: not an event store (no schema_version in its meta table)")
    try:
        version = int(row[0])
    except ValueError:
        raise StoreError(f"{path}: not an event store (schema_version {row[0]!r})") from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: event store schema version {version} is newer than this counterram reads "
            f"({SCHEMA_VERSION}); upgrade counterram"
        )


class EventStore:
    """Append-only event log of a run: ``DIR/events.sqlite`` (WAL) mirrored to ``DIR/events.jsonl``.

    ``EventStore(directory)`` creates the directory and both files, or opens them to append more
    (a resumed or continued run). What survives a crash: with the default ``synchronous=NORMAL`` in
    WAL mode, every committed :meth:`append` survives the writing process being killed; only an
    operating-system crash or power loss may lose the last few commits (the database stays
    consistent, it just ends earlier). ``durable=True`` sets ``synchronous=FULL`` (an fsync per
    commit) so that commits survive power loss too.

    Opening repairs the mirror left by a killed writer: a cut last line is removed and events the
    database committed but the mirror missed are copied from the database.

    Use as a context manager, or call :meth:`close`::

        with EventStore(out_dir) as store:
            for plots, t in feed:
                store.append(engine.step(plots, t))
    """

    def __init__(self, directory: Path, *, durable: bool = False) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / DB_NAME
        self.jsonl_path = self.directory / JSONL_NAME
        self.durable = durable
        self._conn: sqlite3.Connection | None = None
        self._jsonl = None
        # isolation_level=None: no implicit transactions; append() says BEGIN and COMMIT itself.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        try:
            self._init_db(conn)
            self._conn = conn
        except sqlite3.DatabaseError as e:
            conn.close()
            raise StoreError(f"{self.path}: not an event store ({e})") from None
        except BaseException:
            conn.close()
            raise
        try:
            self._jsonl = self._open_mirror()
        except BaseException:
            self.close()
            raise

    def _init_db(self, conn: sqlite3.Connection) -> None:
        # Look before changing anything: another program's database must not be switched to WAL.
        if conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]:
            _check_schema(conn, self.path)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"{self.path}: could not switch the database to WAL mode (got {mode!r})")
        conn.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'NORMAL'}")
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]:
                from . import __version__

                for stmt in _SCHEMA.strip().split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("created_by", f"counterram {__version__}")],
                )
            else:
                _check_schema(conn, self.path)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _open_mirror(self):
        """Open ``events.jsonl`` to append, first making it equal to the database (see the class doc)."""
        assert self._conn is not None
        n_db = self._conn.execute("SELECT count(*) FROM events").fetchone()[0]
        n_lines = 0
        if self.jsonl_path.exists():
            with open(self.jsonl_path, "rb+") as f:
                data = f.read()
                if data and not data.endswith(b"\n"):  # a killed writer cut the last line
                    keep = data.rfind(b"\n") + 1
                    f.truncate(keep)
                    data = data[:keep]
                n_lines = data.count(b"\n")
        if n_lines > n_db:
            raise StoreError(
                f"{self.jsonl_path}: has {n_lines} lines but {self.path} holds {n_db} events; "
                "the mirror does not belong to this store (move one of them away)"
            )
        f = open(self.jsonl_path, "a", encoding="utf-8", newline="\n")  # kept open until close()
        if n_lines < n_db:
            rows = self._conn.execute("SELECT payload FROM events ORDER BY seq LIMIT -1 OFFSET ?", (n_lines,))
            for (payload,) in rows:
                f.write(payload + "\n")
            f.flush()
        return f

    def append(self, events: Iterable[Event]) -> int:
        """Append ``events`` in one transaction, then mirror them to the JSONL file; return how many.

        Either all of the call's events are committed or none (an exception while converting them,
        or a kill before the commit, leaves the store as it was). An empty iterable does nothing.
        """
        if self._conn is None or self._jsonl is None:
            raise StoreError(f"{self.path}: the event store is closed")
        rows = [_row(e) for e in events]
        if not rows:
            return 0
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO events (t, kind, track, zone, payload) VALUES (?, ?, ?, ?, ?)", rows
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._jsonl.write("".join(r[4] + "\n" for r in rows))
        self._jsonl.flush()
        return len(rows)

    def count(self) -> int:
        """How many events the store holds."""
        if self._conn is None:
            raise StoreError(f"{self.path}: the event store is closed")
        return self._conn.execute("SELECT count(*) FROM events").fetchone()[0]

    def close(self) -> None:
        """Close the mirror and the database (the last connection checkpoints the WAL into the file)."""
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else "open"
        return f"EventStore({str(self.directory)!r}, durable={self.durable}, {state})"


def _connect_ro(path: Path) -> sqlite3.Connection:
    if not path.exists():
        why = f"{path.parent} does not exist" if not path.parent.exists() else "no such file"
        raise StoreError(f"{path}: no event store ({why})")
    try:
        conn = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True, timeout=10.0)
    except sqlite3.Error as e:
        raise StoreError(f"{path}: cannot open the event store ({e})") from None
    try:
        _check_schema(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def read_events(
    directory: Path,
    kind: str | None = None,
    zone: str | None = None,
    track: int | None = None,
) -> list[dict]:
    """The events of a store, as the dicts ``event.to_dict()`` gave, in the order they were appended.

    ``directory`` is a run directory (holding ``events.sqlite``) or the database file itself. The
    filters combine with AND: ``kind`` matches the event kind, ``zone`` the event's ``zone`` field,
    and ``track`` the event's ``track`` field or membership of its ``tracks`` list (so a zone
    warning for tracks [3, 7] is listed under track 7). The database is opened read-only, so this
    may run while a writer appends, or after a writer was killed (every committed event is read).
    Raises :class:`StoreError` naming the file if there is no store or the file is not one.
    """
    path = _db_path(directory)
    conn = _connect_ro(path)
    where, args = [], []
    if kind is not None:
        where.append("kind = ?")
        args.append(kind)
    if zone is not None:
        where.append("zone = ?")
        args.append(zone)
    if track is not None:
        # Candidates by SQL (the scalar column, or any payload with a tracks list); the list is checked below.
        where.append("(track = ? OR (track IS NULL AND instr(payload, '\"tracks\":') > 0))")
        args.append(int(track))
    sql = "SELECT payload FROM events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq"
    try:
        try:
            out = [json.loads(p) for (p,) in conn.execute(sql, args)]
        except (sqlite3.DatabaseError, json.JSONDecodeError) as e:
            raise StoreError(f"{path}: cannot read the events ({e})") from None
    finally:
        conn.close()
    if track is not None:
        out = [d for d in out if d.get("track") == track or track in (d.get("tracks") or ())]
    return out


def read_jsonl(path: Path) -> list[dict]:
    """The events of an ``events.jsonl`` mirror (a file, or the run directory holding it).

    A killed writer may have cut the last line: a last line that is not valid JSON is skipped.
    A bad line anywhere else raises :class:`StoreError` naming the file and line number. Blank
    lines are ignored.
    """
    path = Path(path)
    if path.is_dir():
        path = path / JSONL_NAME
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        raise StoreError(f"{path}: no such file") from None
    lines = text.split("\n")
    last = max((i for i, s in enumerate(lines) if s.strip()), default=-1)
    out: list[dict] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            if i == last:
                break  # a cut last line
            raise StoreError(f"{path}:{i + 1}: not a JSON event line ({e.msg})") from None
        if not isinstance(d, dict):
            raise StoreError(f"{path}:{i + 1}: an event line must be a JSON object, got {type(d).__name__}")
        out.append(d)
    return out


# ---------------------------------------------------------------------------------------------
# Terminal output: `counterram events DIR [--kind K] [--zone Z] [--track N] [--json]`

_COLUMNS = ("t", "kind", "track", "tracks", "zone")


def _fmt_value(key: str, v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v).lower() if isinstance(v, bool) else "-"
    if isinstance(v, float):
        if key in ("lat", "lon"):
            return f"{v:.5f}"
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
    if isinstance(v, list):
        # a covariance: show the standard deviations along its diagonal
        if v and all(isinstance(r, list) and len(r) == len(v) for r in v):
            try:
                sd = [float(v[i][i]) ** 0.5 for i in range(len(v))]
                return "sd(" + ", ".join(f"{s:.3g}" for s in sd) + ")"
            except (TypeError, ValueError):
                pass
        if len(v) <= 6:
            return "[" + ", ".join(_fmt_value(key, x) for x in v) + "]"
        return f"[{len(v)} items]"
    if isinstance(v, dict):
        return (
            "{"
            + ", ".join(f"{k}={_fmt_value(k, x)}" for k, x in list(v.items())[:4])
            + (", ...}" if len(v) > 4 else "}")
        )
    return str(v)


def summarize(row: dict) -> str:
    """The fields of an event other than t/kind/track(s)/zone, short: ``cls=mortar p_ballistic=0.97``."""
    parts = []
    for k, v in row.items():
        if k in _COLUMNS or (isinstance(v, dict) and not v):
            continue
        name = "sd_en_m" if k == "cov_en_m2" else k
        parts.append(f"{name}={_fmt_value(k, v)}")
    return " ".join(parts)


def format_events(rows: list[dict], title: str | None = None) -> Table:
    """A rich table of event dicts: t, kind, track(s), zone, and a summary of the other fields."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title) if title else None, show_edge=False, header_style="bold")
    table.add_column("t s", justify="right", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("track", justify="right", no_wrap=True)
    table.add_column("zone", no_wrap=True)
    table.add_column("details", overflow="fold")
    for r in rows:
        t = r.get("t")
        if r.get("track") is not None:
            trk = str(r["track"])
        elif r.get("tracks"):
            trk = ",".join(str(x) for x in r["tracks"])
        else:
            trk = "-"
        cells = (
            f"{t:.2f}" if isinstance(t, int | float) else str(t),
            str(r.get("kind", "?")),
            trk,
            str(r["zone"]) if r.get("zone") is not None else "-",
            summarize(r),
        )
        table.add_row(*(Text(c) for c in cells))  # Text: a "[...]" in a field is not rich markup
    return table


def events_command(
    directory: Path,
    kind: str | None,
    zone: str | None,
    as_json: bool,
    track: int | None = None,
) -> int:
    """``counterram events DIR [--kind K] [--zone Z] [--track N] [--json]``: list a run's events.

    Prints a table (or, with ``as_json``, one JSON object a line, as in ``events.jsonl``) and
    returns the exit code: 0, or 2 with a message on stderr when there is no store, the file is
    not an event store, or ``kind`` is not a kind of event.
    """
    from rich.console import Console

    try:
        rows = read_events(directory, kind=kind, zone=zone, track=track)
    except StoreError as e:
        print(f"counterram events: {e}", file=sys.stderr)
        return 2
    if kind is not None and not rows and kind not in EVENT_TYPES:
        known = ", ".join(sorted(EVENT_TYPES))
        print(f"counterram events: unknown kind {kind!r}; the kinds are: {known}", file=sys.stderr)
        return 2
    if as_json:
        out = sys.stdout
        for r in rows:
            out.write(_dumps(r) + "\n")
        out.flush()
        return 0
    filters = ", ".join(
        f"{k}={v}" for k, v in (("kind", kind), ("zone", zone), ("track", track)) if v is not None
    )
    where = f"{directory}" + (f" ({filters})" if filters else "")
    console = Console(highlight=False)
    if not rows:
        console.print(f"no events in {where}", markup=False)
        return 0
    n = len(rows)
    console.print(format_events(rows, title=f"{n} event{'s' if n != 1 else ''} in {where}"))
    return 0

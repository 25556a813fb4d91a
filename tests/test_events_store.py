"""The event store: SQLite (WAL) mirrored to JSON Lines, read back, filtered, listed, and killed."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from counterram.events import (
    AllClear,
    ImpactPredicted,
    OriginEstimated,
    PlotRejected,
    TrackConfirmed,
    TrackDropped,
    TruthImpact,
    ZoneWarned,
)
from counterram.store import (
    SCHEMA_VERSION,
    EventStore,
    StoreError,
    events_command,
    format_events,
    read_events,
    read_jsonl,
)

SRC = Path(__file__).resolve().parents[1] / "src"


def batches() -> list[list]:
    """Three engine steps' worth of events, as the engine would append them."""
    return [
        [
            PlotRejected(t=10.0, sensor="lcmr-1", reason="elevation below the mask"),
            TrackConfirmed(
                t=10.5,
                track=3,
                cls="mortar",
                p_ballistic=0.91,
                lat=33.30,
                lon=44.38,
                alt_m=410.0,
                speed_mps=210.0,
            ),
            TrackConfirmed(
                t=10.5,
                track=7,
                cls="rocket",
                p_ballistic=0.88,
                lat=33.32,
                lon=44.41,
                alt_m=900.0,
                speed_mps=480.0,
            ),
        ],
        [
            ImpactPredicted(
                t=11.0,
                track=3,
                cls="mortar",
                lat=33.3101,
                lon=44.3902,
                alt_m=34.0,
                t_impact=31.0,
                cov_en_m2=[[400.0, 20.0], [20.0, 225.0]],
                zone="embassy",
            ),
            ImpactPredicted(
                t=11.0,
                track=7,
                cls="rocket",
                lat=33.29,
                lon=44.40,
                alt_m=34.0,
                t_impact=40.0,
                cov_en_m2=[[900.0, 0.0], [0.0, 900.0]],
            ),
            OriginEstimated(
                t=11.0,
                track=3,
                cls="mortar",
                lat=33.25,
                lon=44.30,
                alt_m=35.0,
                t_launch=-4.0,
                cov_en_m2=[[2500.0, 0.0], [0.0, 2500.0]],
            ),
            ZoneWarned(
                t=11.0,
                zone="embassy",
                siren="embassy-north",
                tracks=[3, 7],
                probability=0.82,
                t_impact=31.0,
                lead_time_s=20.0,
            ),
        ],
        [],  # a step with nothing to say
        [
            TruthImpact(t=31.2, object="m1", lat=33.31, lon=44.39, zone="embassy", extra={"miss_m": 12.5}),
            TrackDropped(t=33.0, track=3, reason="landed"),
            AllClear(t=36.0, zone="embassy", siren="embassy-north", tracks=[3]),
        ],
    ]


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    with EventStore(d) as store:
        for b in batches():
            store.append(b)
    return d


def expected() -> list[dict]:
    return [e.to_dict() for b in batches() for e in b]


def test_round_trip_sqlite_and_jsonl_mirror(store_dir: Path) -> None:
    want = expected()
    assert read_events(store_dir) == want
    assert read_events(store_dir / "events.sqlite") == want  # the database file itself also works
    assert read_jsonl(store_dir / "events.jsonl") == want
    assert read_jsonl(store_dir) == want
    # the payloads are exactly to_dict() (tuples of the dataclass survive as JSON lists)
    assert [r["kind"] for r in want][:3] == ["plot_rejected", "track_confirmed", "track_confirmed"]


def test_append_returns_count_and_empty_is_noop(tmp_path: Path) -> None:
    with EventStore(tmp_path) as store:
        assert store.append([]) == 0
        assert store.append(iter(())) == 0
        assert store.append(e for e in batches()[0]) == 3
        assert store.count() == 3
    assert len(read_events(tmp_path)) == 3
    assert (tmp_path / "events.jsonl").read_text().count("\n") == 3


def test_columns_schema_and_wal(store_dir: Path) -> None:
    conn = sqlite3.connect(store_dir / "events.sqlite")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = conn.execute("SELECT seq, t, kind, track, zone FROM events ORDER BY seq").fetchall()
        assert [r[0] for r in rows] == list(range(1, len(expected()) + 1))
        # the scalar track goes in the column; a tracks list does not
        by_kind = {r[2]: r for r in rows}
        assert by_kind["zone_warned"][3:] == (None, "embassy")
        assert by_kind["all_clear"][3:] == (None, "embassy")
        assert by_kind["track_dropped"][3:] == (3, None)
        assert by_kind["plot_rejected"][3:] == (None, None)
        assert by_kind["truth_impact"][1:] == (31.2, "truth_impact", None, "embassy")
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION
        )
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"events_kind", "events_zone", "events_track"} <= indexes
    finally:
        conn.close()


def test_filters(store_dir: Path) -> None:
    want = expected()
    assert read_events(store_dir, kind="impact_predicted") == [
        r for r in want if r["kind"] == "impact_predicted"
    ]
    assert len(read_events(store_dir, kind="impact_predicted")) == 2
    embassy = read_events(store_dir, zone="embassy")
    assert [r["kind"] for r in embassy] == ["impact_predicted", "zone_warned", "truth_impact", "all_clear"]
    assert read_events(store_dir, zone="nowhere") == []
    # track: the scalar field, or membership of a tracks list
    t7 = read_events(store_dir, track=7)
    assert [r["kind"] for r in t7] == ["track_confirmed", "impact_predicted", "zone_warned"]
    t3 = read_events(store_dir, track=3)
    assert [r["kind"] for r in t3] == [
        "track_confirmed",
        "impact_predicted",
        "origin_estimated",
        "zone_warned",
        "track_dropped",
        "all_clear",
    ]
    # filters combine with AND
    assert [r["track"] for r in read_events(store_dir, kind="impact_predicted", zone="embassy")] == [3]
    assert read_events(store_dir, kind="all_clear", track=7) == []
    assert read_events(store_dir, kind="no_such_kind") == []


def test_reopen_appends_after_existing_events(store_dir: Path) -> None:
    with EventStore(store_dir) as store:
        store.append([TrackDropped(t=50.0, track=7, reason="lost")])
    got = read_events(store_dir)
    assert got[:-1] == expected() and got[-1]["reason"] == "lost"
    assert read_jsonl(store_dir) == got


def test_reading_while_a_writer_is_open(tmp_path: Path) -> None:
    with EventStore(tmp_path) as store:
        store.append(batches()[0])
        assert len(read_events(tmp_path)) == 3
        store.append(batches()[1])
        assert len(read_events(tmp_path)) == 7


def test_numpy_fields_are_stored_as_plain_json(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    ev = ImpactPredicted(
        t=np.float64(12.0),
        track=np.int64(9),
        cls="rocket",
        lat=np.float64(33.3),
        lon=44.4,
        alt_m=34.0,
        t_impact=30.0,
        cov_en_m2=np.array([[4.0, 0.0], [0.0, 9.0]]),
    )
    with EventStore(tmp_path) as store:
        store.append([ev])
    (row,) = read_events(tmp_path, track=9)
    assert row["track"] == 9 and row["cov_en_m2"] == [[4.0, 0.0], [0.0, 9.0]]


def test_append_rejects_non_events_atomically(tmp_path: Path) -> None:
    with EventStore(tmp_path) as store:
        with pytest.raises(TypeError, match="Event objects"):
            store.append([batches()[0][0], {"kind": "x", "t": 1.0}])
        assert store.count() == 0
    assert read_events(tmp_path) == [] and read_jsonl(tmp_path) == []
    store.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="closed"):
        store.append(batches()[0])


def test_durable_mode_uses_synchronous_full(tmp_path: Path) -> None:
    with EventStore(tmp_path, durable=True) as store:
        store.append(batches()[0])
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with EventStore(tmp_path / "b") as store:
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert len(read_events(tmp_path)) == 3


# ---- errors -----------------------------------------------------------------------------------


def test_missing_store_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no event store") as e:
        read_events(tmp_path)
    assert str(tmp_path / "events.sqlite") in str(e.value)
    with pytest.raises(StoreError, match="no event store"):
        read_events(tmp_path / "does-not-exist")
    with pytest.raises(StoreError, match="no such file") as e:
        read_jsonl(tmp_path / "events.jsonl")
    assert str(tmp_path / "events.jsonl") in str(e.value)
    assert not (tmp_path / "events.sqlite").exists()  # reading never creates a store


def test_non_store_files_name_the_path(tmp_path: Path) -> None:
    junk = tmp_path / "events.sqlite"
    junk.write_text("this is not a database\n" * 100)
    with pytest.raises(StoreError, match="not an event store") as e:
        read_events(tmp_path)
    assert str(junk) in str(e.value)
    with pytest.raises(StoreError, match="not an event store"):
        EventStore(tmp_path)
    assert junk.read_text().startswith("this is not a database")  # left alone

    other = tmp_path / "other"
    other.mkdir()
    conn = sqlite3.connect(other / "events.sqlite")
    conn.execute("CREATE TABLE people (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="without the events/meta tables") as e:
        read_events(other)
    assert str(other / "events.sqlite") in str(e.value)
    with pytest.raises(StoreError, match="not an event store"):
        EventStore(other)
    conn = sqlite3.connect(other / "events.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not switched to WAL
    conn.close()

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "events.sqlite").touch()
    with pytest.raises(StoreError, match="not an event store"):
        read_events(empty)


def test_newer_schema_is_refused(store_dir: Path) -> None:
    conn = sqlite3.connect(store_dir / "events.sqlite")
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this counterram reads"):
        read_events(store_dir)


def test_read_jsonl_tolerates_only_a_cut_last_line(tmp_path: Path) -> None:
    p = tmp_path / "events.jsonl"
    good = [{"kind": "a", "t": 1.0}, {"kind": "b", "t": 2.0}]
    body = "".join(json.dumps(d) + "\n" for d in good)
    p.write_text(body + '{"kind": "c", "t": 3')
    assert read_jsonl(p) == good
    p.write_text(body + '{"kind": "c", "t": 3.0}')  # complete, though without its newline
    assert read_jsonl(p)[-1] == {"kind": "c", "t": 3.0}
    p.write_text(body + "\n\n")
    assert read_jsonl(p) == good
    p.write_text(json.dumps(good[0]) + '\n{"kind": "b", "t\n' + json.dumps(good[1]) + "\n")
    with pytest.raises(StoreError, match=r"events\.jsonl:2: not a JSON event line") as e:
        read_jsonl(p)
    assert str(p) in str(e.value)
    p.write_text("[1, 2]\n" + body)
    with pytest.raises(StoreError, match=r":1: an event line must be a JSON object"):
        read_jsonl(p)


def test_reopening_repairs_a_cut_or_lagging_mirror(store_dir: Path) -> None:
    mirror = store_dir / "events.jsonl"
    lines = mirror.read_text().splitlines(keepends=True)
    # a writer killed after a commit, in the middle of writing the mirror: lines missing, last one cut
    mirror.write_text("".join(lines[:5]) + lines[5][:17])
    assert len(read_jsonl(mirror)) == 5
    with EventStore(store_dir) as store:
        assert store.count() == len(expected())
    assert read_jsonl(mirror) == expected() == read_events(store_dir)
    assert mirror.read_text() == "".join(lines)

    # a mirror longer than the database does not belong to it
    (store_dir / "events.sqlite").rename(store_dir / "old.sqlite")
    for suffix in ("-wal", "-shm"):
        Path(str(store_dir / "events.sqlite") + suffix).unlink(missing_ok=True)
    with pytest.raises(StoreError, match="does not belong to this store"):
        EventStore(store_dir)


# ---- a writer killed mid-run ------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from counterram.events import TrackConfirmed, ZoneWarned
    from counterram.store import EventStore

    store = EventStore(Path(sys.argv[1]))
    n = 0
    for step in range(1_000_000):
        size = 500 if step % 50 == 49 else 10   # now and then a big transaction to be killed inside
        batch = []
        for i in range(size):
            k = n + i
            if k % 2:
                batch.append(ZoneWarned(t=k * 0.01, zone="z%d" % (k % 3), siren="s", tracks=[k, k + 1],
                                        probability=0.5, t_impact=k * 0.01 + 20.0, lead_time_s=20.0))
            else:
                batch.append(TrackConfirmed(t=k * 0.01, track=k, cls="mortar", p_ballistic=0.9,
                                            lat=33.3, lon=44.4, alt_m=100.0, speed_mps=200.0))
        n += store.append(batch)
        print(n, flush=True)
    """
)


def test_store_survives_a_killed_writer(tmp_path: Path) -> None:
    d = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(d)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    reported = 0
    deadline = time.monotonic() + 30
    try:
        while reported < 2000:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"the writer stopped early (rc {proc.wait()}): {proc.stderr.read()}")
            reported = int(line)
            assert time.monotonic() < deadline, "the writer is too slow"
    finally:
        proc.kill()  # SIGKILL: no cleanup, no close(), no checkpoint
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -9
    assert Path(str(d / "events.sqlite") + "-wal").exists()  # the killed writer left its WAL behind

    rows = read_events(d)
    assert len(rows) >= reported
    conn = sqlite3.connect((d / "events.sqlite").absolute().as_uri() + "?mode=ro", uri=True)
    try:
        seqs = [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")]
        payloads = [json.loads(r[0]) for r in conn.execute("SELECT payload FROM events ORDER BY seq")]
    finally:
        conn.close()
    assert seqs == list(range(1, len(rows) + 1))  # contiguous: no hole, no half transaction
    assert payloads == rows
    for k, r in enumerate(rows):
        assert r["t"] == pytest.approx(k * 0.01)
        if k % 2:
            assert r["kind"] == "zone_warned" and r["tracks"] == [k, k + 1] and r["zone"] == f"z{k % 3}"
        else:
            assert r["kind"] == "track_confirmed" and r["track"] == k and r["cls"] == "mortar"

    mirrored = read_jsonl(d / "events.jsonl")  # a cut last line is tolerated
    assert len(mirrored) >= reported
    assert mirrored == rows[: len(mirrored)]

    # the next writer picks up where the killed one stopped, and the mirror catches up
    with EventStore(d) as store:
        store.append(
            [TrackConfirmed(t=-1.0, track=-1, cls="x", p_ballistic=0, lat=0, lon=0, alt_m=0, speed_mps=0)]
        )
    after = read_events(d)
    assert after[:-1] == rows and after[-1]["track"] == -1
    assert read_jsonl(d) == after


# ---- the CLI's function -----------------------------------------------------------------------


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def test_events_command_table(store_dir: Path, capsys, wide) -> None:
    assert events_command(store_dir, None, None, False) == 0
    out = capsys.readouterr().out
    assert f"{len(expected())} events in {store_dir}" in out
    for kind in ("plot_rejected", "track_confirmed", "impact_predicted", "zone_warned", "all_clear"):
        assert kind in out
    assert "3,7" in out  # the zone warning's tracks
    assert "sd_en_m=sd(20, 15)" in out  # a covariance shown as its standard deviations
    assert "cls=mortar" in out and "reason=landed" in out


def test_events_command_filters(store_dir: Path, capsys, wide) -> None:
    assert events_command(store_dir, "zone_warned", None, False) == 0
    out = capsys.readouterr().out
    assert "1 event in" in out and "kind=zone_warned" in out
    assert "zone_warned" in out and "track_confirmed" not in out
    assert events_command(store_dir, None, "embassy", False, track=7) == 0
    out = capsys.readouterr().out
    assert "impact_predicted" not in out and "zone_warned" in out
    assert events_command(store_dir, None, "nowhere", False) == 0
    assert "no events in" in capsys.readouterr().out


def test_events_command_json(store_dir: Path, capsys) -> None:
    assert events_command(store_dir, None, "embassy", True) == 0
    lines = capsys.readouterr().out.splitlines()
    want = [r for r in expected() if r.get("zone") == "embassy"]
    assert [json.loads(s) for s in lines] == want


def test_events_command_errors(tmp_path: Path, store_dir: Path, capsys) -> None:
    assert events_command(tmp_path / "nothing", None, None, False) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "no event store" in cap.err and "nothing" in cap.err
    assert events_command(store_dir, "no_such_kind", None, False) == 2
    cap = capsys.readouterr()
    assert "unknown kind 'no_such_kind'" in cap.err and "zone_warned" in cap.err


def test_format_events_does_not_read_fields_as_markup() -> None:
    from rich.console import Console

    table = format_events(
        [{"kind": "plot_rejected", "t": 1.0, "sensor": "[bold]x[/bold]", "reason": "[red]"}]
    )
    console = Console(width=200, file=io.StringIO())
    console.print(table)
    text = console.file.getvalue()
    assert "[bold]x[/bold]" in text and "[red]" in text

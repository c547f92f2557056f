"""Installation mode without a window: the schedule, the playlist file, the programme, the
resume state, the log file and sd_notify."""

from __future__ import annotations

import datetime as dt
import errno
import io
import logging
import os
import socket
from pathlib import Path

import pytest

from latentsketch import commands as C
from latentsketch import resume
from latentsketch.app.programme import Programme
from latentsketch.notify import Notifier, watchdog_period
from latentsketch.playlist import Entry, PlaylistError, parse
from latentsketch.preset import Preset, PresetError
from latentsketch.schedule import Hours, cycle_order, is_open, slot_at
from latentsketch.showlog import ShowLogHandler

MON = dt.datetime(2026, 11, 30)   # a Monday


def test_slots_follow_the_durations_in_order_and_cycle() -> None:
    d = [2.0, 3.0, 1.0]
    got = [(s.position, s.entry, s.start) for s in (slot_at(d, t) for t in (0, 1.9, 2, 4.9, 5.5,
                                                                            6.0, 13.0))]
    assert got == [(0, 0, 0), (0, 0, 0), (1, 1, 2), (1, 1, 2), (2, 2, 5), (3, 0, 6),
                   (6, 0, 12)]
    with pytest.raises(ValueError):
        slot_at([], 0)


def test_shuffle_is_pinned_by_its_seed_and_never_repeats_a_scene() -> None:
    assert [cycle_order(4, c, shuffle=True, seed=7) for c in range(3)] == \
        [cycle_order(4, c, shuffle=True, seed=7) for c in range(3)]
    assert cycle_order(4, 0, shuffle=True, seed=7) != cycle_order(4, 0, shuffle=True, seed=8) \
        or cycle_order(4, 1, shuffle=True, seed=7) != cycle_order(4, 1, shuffle=True, seed=8)
    for n in (2, 3, 5):
        played = [e for c in range(60) for e in cycle_order(n, c, shuffle=True, seed=3)]
        assert all(sorted(played[i:i + n]) == list(range(n)) for i in range(0, len(played), n))
        assert all(a != b for a, b in zip(played, played[1:], strict=False))
    pinned = [slot_at([1, 1, 1, 1], t, shuffle=True, seed=7).entry for t in range(8)]
    assert pinned == [*cycle_order(4, 0, shuffle=True, seed=7),
                      *cycle_order(4, 1, shuffle=True, seed=7)]
    assert pinned == [1, 0, 2, 3, 1, 3, 2, 0]


def test_opening_hours_by_day_and_across_midnight() -> None:
    day = Hours(dt.time(10), dt.time(18), frozenset(range(1, 7)))   # tue..sun
    assert not is_open(day, MON.replace(hour=12))
    assert is_open(day, (MON + dt.timedelta(days=1)).replace(hour=12))
    assert not is_open(day, (MON + dt.timedelta(days=1)).replace(hour=18))
    night = Hours(dt.time(18), dt.time(2), frozenset({4}))           # friday nights
    fri = MON + dt.timedelta(days=4)
    assert is_open(night, fri.replace(hour=19))
    assert is_open(night, (fri + dt.timedelta(days=1)).replace(hour=1))
    assert not is_open(night, (fri + dt.timedelta(days=1)).replace(hour=3))
    assert not is_open(night, fri.replace(hour=1))   # thursday's night: not listed
    assert is_open(None, MON)


GOOD = """
order = "shuffle"
seed = 5
duration = 30
fade = 2
[hours]
open = "10:00"
close = 18:30:00
days = ["Tue", "wed"]
outside = "pause"
[[scene]]
preset = "gallery"
[[scene]]
preset = "default"
duration = 90
fade = 4
"""


def test_a_playlist_file_parses_with_defaults() -> None:
    p, problems = parse(GOOD, "show.toml")
    assert problems == []
    assert p.entries == (Entry("gallery", 30.0, 2.0), Entry("default", 90.0, 4.0))
    assert p.shuffle and p.seed == 5
    assert p.hours == Hours(dt.time(10), dt.time(18, 30), frozenset({1, 2}), "pause")


def test_bad_scenes_are_skipped_each_in_one_line() -> None:
    text = GOOD + """
[[scene]]
preset = "../etc/passwd"
[[scene]]
preset = "night"
duration = -3
[[scene]]
preset = "day"
colour = "red"
"""
    p, problems = parse(text, "show.toml")
    assert [e.preset for e in p.entries] == ["gallery", "default"]
    assert len(problems) == 3 and all("\n" not in x and x.startswith("playlist show.toml: ")
                                      for x in problems)
    assert "scene[2].preset" in problems[0] and "scene[3].duration = -3" in problems[1]
    assert "scene[4].colour" in problems[2]


@pytest.mark.parametrize("text, words", [
    ("[[scene]\npreset = 1", "not TOML"),
    ("duration = 5", "no [[scene]]"),
    ('[[scene]]\npreset = "a/b"', "scene[0].preset"),
])
def test_an_unusable_playlist_is_one_line(text: str, words: str) -> None:
    with pytest.raises(PlaylistError) as e:
        parse(text, "show.toml")
    assert words in str(e.value) and "\n" not in str(e.value).strip()


def _programme(text: str, broken: set[str], clock: float = 0.0) -> Programme:
    p, _ = parse(text, "show.toml")

    def switch(e: Entry) -> list[C.Command]:
        if e.preset in broken:
            raise PresetError(f"preset {e.preset!r} not found")
        return [C.LoadPreset(e.preset, fade=e.fade)]

    return Programme(p, switch, clock)


SEQ = '[[scene]]\npreset = "a"\nduration = 2\n[[scene]]\npreset = "b"\nduration = 2\n' \
      '[[scene]]\npreset = "c"\nduration = 2\n'


def test_the_programme_switches_on_time_and_skips_a_scene_that_cannot_play(caplog) -> None:
    prog = _programme(SEQ, {"b"})
    names = []
    for _ in range(65):   # 6.5 s in 0.1 s steps
        names += [c.name for c in prog.tick(0.1, MON) if isinstance(c, C.LoadPreset)]
    # b's turn plays the next scene that can, which plays on through its own turn (never
    # fading into itself), and the playlist goes round
    assert names == ["a", "c", "a"]
    assert prog.switches == 3 and prog.skipped == 1
    assert any("scene 2 (b) skipped" in r.getMessage() for r in caplog.records)


def test_the_one_scene_that_can_play_plays_on_without_fading_into_itself() -> None:
    prog = _programme(SEQ, {"b", "c"})
    names = [c.name for _ in range(130) for c in prog.tick(0.1, MON)
             if isinstance(c, C.LoadPreset)]
    assert names == ["a"] and prog.switches == 1


def test_closed_hours_black_out_or_hold_and_stop_the_clock() -> None:
    text = '[hours]\nopen = "10:00"\nclose = "18:00"\n' + SEQ
    prog = _programme(text, set())
    noon, night = MON.replace(hour=12), MON.replace(hour=20)
    assert prog.tick(0.1, noon) == [C.LoadPreset("a", fade=2.0)]
    assert prog.tick(1.0, night) == [C.SetParam("look.blackout", 1.0)]
    clock = prog.clock
    assert prog.tick(100.0, night) == [] and prog.clock == clock
    assert prog.tick(0.1, noon) == [C.SetParam("look.blackout", 0.0)]
    paused = _programme(text.replace('close = "18:00"', 'close = "18:00"\noutside = "pause"'),
                        set())
    assert paused.tick(0.1, night) == [C.SetPause(True)]
    assert C.SetPause(False) in paused.tick(0.1, noon)


def test_resume_state_round_trips_and_forgives_everything(tmp_path: Path) -> None:
    path = tmp_path / "state" / resume.FILE_NAME
    s = resume.ResumeState("/show.toml", 123.5, 7, "gallery", 1.0)
    resume.write(path, s)
    assert resume.read(path, "/show.toml") == s
    assert resume.read(path, "/other.toml") is None
    path.write_text("{not json")
    assert resume.read(path, "/show.toml") is None
    assert resume.read(tmp_path / "nothing.json", "/show.toml") is None
    assert sorted(os.listdir(path.parent)) == [resume.FILE_NAME]   # no temporary files


def test_resume_state_on_a_full_disk_keeps_the_old_file(full_dir: Path) -> None:
    path = full_dir / resume.FILE_NAME
    with pytest.raises(OSError) as e:
        resume.write(path, resume.ResumeState("/show.toml", 1.0, 0, "a", 0.0))
    assert e.value.errno == errno.ENOSPC
    assert [p.name for p in full_dir.iterdir()] == ["filler"]


class _FullStream(io.StringIO):
    def write(self, s: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_loses_log_lines_quietly_and_logging_comes_back(tmp_path: Path,
                                                                    monkeypatch, capsys) -> None:
    h = ShowLogHandler(tmp_path / "show.log", max_bytes=2000, backups=2, retry=0.0)
    logger = logging.getLogger("latentsketch.test-showlog")
    monkeypatch.setattr(logger, "propagate", False)
    logger.addHandler(h)
    try:
        logger.warning("before")
        real_open = h._open
        monkeypatch.setattr(h, "_open", _FullStream)   # every reopen finds the disk full
        h.stream = _FullStream()
        for i in range(50):
            logger.warning("lost %d", i)
        assert h.dropped == 50
        assert capsys.readouterr().err == ""   # no traceback per record
        monkeypatch.setattr(h, "_open", real_open)   # room again
        for i in range(100):   # the file is reopened, grows and rotates again
            logger.warning("after %d with some words to fill the file", i)
    finally:
        logger.removeHandler(h)
        h.close()
    text = (tmp_path / "show.log").read_text()
    assert "after 99" in text and "lost" not in text
    assert (tmp_path / "show.log.1").is_file() and not (tmp_path / "show.log.3").exists()


def test_logs_on_a_really_full_disk(full_dir: Path, monkeypatch, capsys) -> None:
    h = ShowLogHandler(full_dir / "show.log", retry=0.0)
    logger = logging.getLogger("latentsketch.test-showlog")
    monkeypatch.setattr(logger, "propagate", False)
    logger.addHandler(h)
    try:
        for i in range(20):
            logger.warning("line %d %s", i, "x" * 100)
        assert h.dropped == 20 and capsys.readouterr().err == ""
        (full_dir / "filler").unlink()
        logger.warning("room again")
    finally:
        logger.removeHandler(h)
        h.close()
    assert "room again" in (full_dir / "show.log").read_text()


def test_sd_notify_sends_ready_and_rate_limited_watchdog(tmp_path: Path, monkeypatch) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    n = Notifier()
    try:
        assert n.period == 2.0
        n.ready("playing")
        assert [n.ping(t) for t in (10.0, 10.5, 12.0)] == [True, False, True]
        got = [sock.recv(256).decode() for _ in range(3)]
    finally:
        n.close()
        sock.close()
    assert got == ["READY=1\nSTATUS=playing", "WATCHDOG=1", "WATCHDOG=1"]
    assert watchdog_period({"WATCHDOG_USEC": "junk"}) == 5.0


def test_without_systemd_notifications_do_nothing(monkeypatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    n = Notifier()
    n.ready()
    assert not n.ping() and not n.enabled
    n.close()


def test_a_presets_kiosk_table_round_trips_and_bad_keys_are_named() -> None:
    p = Preset.from_toml('name = "wall"\n[kiosk]\nplaylist = "day.toml"\n', "wall.toml")
    assert p.kiosk is not None and p.kiosk.enabled and p.kiosk.playlist == "day.toml"
    assert Preset.from_toml(p.to_toml(), "wall.toml") == p
    with pytest.raises(PresetError, match=r"wall.toml: unknown key kiosk.exit"):
        Preset.from_toml('[kiosk]\nexit = "q"\n', "wall.toml")

"""One declaration per action and per parameter: everything a performer reaches is derived.

Every row of ``actions.ACTIONS`` must be reachable over OSC (real UDP on 127.0.0.1 into the
real receiver), be a mapping target that MIDI learn binds, have its key and help row, and (a
switch) its OSC feedback; every parameter's key steps, HUD text and feedback precision come
from its ``Param``. The tests walk the tables, so a row added there is checked here unchanged.
"""

from __future__ import annotations

import math
import socket
import time

import mido
import numpy as np
import pygame
import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from latentsketch import commands as c
from latentsketch.actions import ACTIONS, Action, action
from latentsketch.app import App
from latentsketch.control.keyboard import REMOTE_ONLY, Keyboard, KeyContext
from latentsketch.control.mapping_runtime import MappingRuntime
from latentsketch.control.osc import OscInput, OscReceiver
from latentsketch.control.osc_addresses import OscTranslator, markdown_table
from latentsketch.control.osc_out import Feedback, OscFeedback
from latentsketch.engine import SLOTS
from latentsketch.mapping import ControlMapping, parse_target
from latentsketch.output.hud import Hud, HudInfo
from latentsketch.params import OSC_PREFIX, PARAMS, Param, defaults, param
from tests.test_hud import _overlay

DIM = 8
DT = 1 / 60


def _msg(address: str, *args: int) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a, "i")
    return b.build().dgram


def _expected(a: Action) -> list[tuple[bytes, c.Command]]:
    """Each way OSC may fire ``a``, with the command that must come out."""
    if a.kind == "trigger":
        return [(_msg(a.osc_address), a.command())]
    if a.kind == "switch":
        return [(_msg(a.osc_address, 1), a.command(True)),
                (_msg(a.osc_address, 0), a.command(False))]
    return [(_msg(a.osc_address, n), a.command(n)) for n in (1, SLOTS)]


def test_every_action_is_reachable_over_osc_on_a_real_socket() -> None:
    cases = [case for a in ACTIONS for case in _expected(a)]
    with OscReceiver("127.0.0.1", 0) as rx, socket.socket(socket.AF_INET,
                                                           socket.SOCK_DGRAM) as tx:
        for datagram, _ in cases:
            tx.sendto(datagram, ("127.0.0.1", rx.port))
        got: list[OscInput] = []
        end = time.monotonic() + 5.0
        while len(got) < len(cases) and time.monotonic() < end:
            got += rx.drain()
            time.sleep(0.002)
    tr = OscTranslator(DIM)
    assert tr.translate_all(got) == [cmd for _, cmd in cases]
    assert tr.dropped.total == 0
    assert {a.osc_address for a in ACTIONS} <= set(tr.addresses)


def test_actions_commands_are_what_their_rows_say() -> None:
    assert action("walk/cycle").command() == c.CycleMode(1)
    assert action("z/release").command() == c.ReleaseDim(None)
    assert action("pause").command(None) == c.SetPause(None)
    assert action("blackout").command(None, {"look.blackout": 1.0}) == c.SetParam(
        "look.blackout", 0.0)
    assert action("slot/store").command(SLOTS) == c.StoreSlot(SLOTS)
    with pytest.raises(ValueError, match=f"1..{SLOTS}"):
        action("slot/recall").command(SLOTS + 1)


def test_every_action_has_a_help_row_and_its_key_makes_its_command() -> None:
    kb = Keyboard(key_repeat=False)
    rows = kb.help_rows()
    for a in ACTIONS:
        label = a.keys.text() if a.keys is not None else REMOTE_ONLY
        assert (label, a.help) in rows, a.name
        if a.keys is None:
            continue
        n = SLOTS if a.kind == "slot" else 0
        found = [b for b in kb.bindings if b.description == a.help]
        assert found, a.name
        b = found[-1]
        assert b.action(KeyContext()) == a.command(n if a.kind == "slot" else None, {})
    assert len(set(rows)) == len(rows)


@pytest.mark.parametrize("a", ACTIONS, ids=lambda a: a.name)
def test_midi_learn_targets_every_action(a: Action) -> None:
    for target in a.targets:
        m = MappingRuntime(latent_dim=DIM)
        m.arm(target)
        m.feed_midi(mido.Message("control_change", channel=0, control=20, value=127))
        learned = m.take_learned()
        assert learned is not None and learned.target == target
        t = parse_target(target)
        expect = t.command() if t.kind == "trigger" else a.command(None, {})
        m.update(DT, {})
        m.feed_midi(mido.Message("control_change", channel=0, control=20, value=0))
        assert m.feed_midi(mido.Message("control_change", channel=0, control=20,
                                        value=127)) == [expect]


def test_every_switch_sends_its_state_back() -> None:
    out = OscFeedback("127.0.0.1", 9)   # nothing is sent: only the values are read
    try:
        values = out.values(Feedback(params=defaults() | {"look.blackout": 1.0}, paused=True,
                                     recording=False))
    finally:
        out.close()
    for a in ACTIONS:
        if a.kind == "switch":
            assert a.osc_address in values, a.name
    assert values[action("pause").osc_address] == 1
    assert values[action("blackout").osc_address] == 1
    # what goes out is what the translator reads back: the same state
    tr = OscTranslator(DIM)
    back = [OscInput(action(n).osc_address, (values[action(n).osc_address],), 0.0)
            for n in ("pause", "record", "blackout")]
    assert tr.translate_all(back) == [action("pause").command(True),
                                      action("record").command(False),
                                      action("blackout").command(True)]


def test_readme_table_lists_every_address_and_target() -> None:
    table = markdown_table()
    for a in ACTIONS:
        assert f"`{a.osc_address}`" in table and a.help in table
    for p in PARAMS:
        assert f"| `{p.osc_address}` |" in table and f"`{p.name}`" in table


# --- parameters ------------------------------------------------------------------------------

def _press(kb: Keyboard, keys: tuple[int, ...], mod: int, ctx: KeyContext) -> list[c.Command]:
    out = kb.handle(pygame.event.Event(pygame.KEYDOWN, key=keys[0], mod=mod, scancode=0,
                                       unicode=""), ctx)
    kb.handle(pygame.event.Event(pygame.KEYUP, key=keys[0], mod=0, scancode=0, unicode=""))
    return out


@pytest.mark.parametrize("p", [p for p in PARAMS if p.keys], ids=lambda p: p.name)
def test_parameter_keys_step_by_the_declaration(p: Param) -> None:
    kb = Keyboard(key_repeat=False)
    assert p.keys is not None
    up = tuple(getattr(pygame, k) for k in p.keys.codes)
    down, mod = ((tuple(getattr(pygame, k) for k in p.keys.down), 0) if p.keys.down
                 else (up, pygame.KMOD_LSHIFT))
    mid = (p.lo + p.hi) / 2 if not p.stops else float(p.stops[2])
    ctx = KeyContext(params={p.name: mid})
    if p.stops:
        assert _press(kb, up, 0, ctx) == [c.SetParam(p.name, float(p.stops[3]))]
        assert _press(kb, down, mod, ctx) == [c.SetParam(p.name, float(p.stops[1]))]
    else:
        assert _press(kb, up, 0, ctx) == [c.NudgeParam(p.name, p.step)]
        assert _press(kb, down, mod, ctx) == [c.NudgeParam(p.name, -p.step)]
    label = p.keys.text(stepped=True)
    assert (label, f"{p.label or p.title} up / down") in kb.help_rows()


def test_stops_decimals_and_feedback_precision() -> None:
    post = param("look.posterize")
    assert [post.stepped(v, 1) for v in (0, 7, 16)] == [2, 8, 16]
    assert [post.stepped(v, -1) for v in (2, 7, 0)] == [0, 6, 0]
    coarse = Param("walk.test", 1.0, 0.0, 10.0, " s", decimals=1)
    assert coarse.format(2.345) == "2.3 s" and coarse.rounded(2.345) == 2.3
    assert param("walk.speed").format(1.25) == "1.25x"
    out = OscFeedback("127.0.0.1", 9)
    try:
        sent = out.values(Feedback(params={"walk.speed": 1.23456, "look.posterize": 4.0}))
    finally:
        out.close()
    assert sent[f"{OSC_PREFIX}/walk/speed"] == 1.23
    assert sent[f"{OSC_PREFIX}/look/posterize"] == 4 and isinstance(
        sent[f"{OSC_PREFIX}/look/posterize"], int)


def test_a_mapping_out_range_defaults_to_the_declared_range() -> None:
    assert ControlMapping("z/0", cc=1).output_range() == (-3.0, 3.0)
    assert ControlMapping("z/0", cc=1, out_range=(-3.0, 3.0)) == ControlMapping("z/0", cc=1)
    t = param("walk.temperature")
    assert ControlMapping(t.name, cc=1, out_range=(t.lo, t.hi)).to_dict() == {"target": t.name,
    "cc": 1}
    assert ControlMapping("z/0", cc=1, out_range=(-2.0, 2.0)).to_dict()["out"] == [-2.0, 2.0]


# --- the HUD shows what changed, whatever changed it -----------------------------------------

def test_hud_keeps_each_changed_parameter_on_its_own_clock() -> None:
    pygame.display.init()
    hud = Hud(hint_seconds=0.0)
    surf = pygame.Surface((400, 300))
    hud.show_params([("look.posterize", 3.0)])
    hud.draw(surf, HudInfo(), 1.0)
    hud.show_params([("look.contrast", 1.5)])           # a knob turns a second later
    assert hud.value_text == "posterize 3   contrast 1.50x"
    hud.draw(surf, HudInfo(), 0.6)                       # posterize's 1.5 s are over
    assert hud.value_text == "contrast 1.50x"
    hud.show_params([("look.contrast", 1.75)])
    assert hud.value_text == "contrast 1.75x"


@pytest.fixture
def osc_app(make_app) -> App:
    return make_app(seed=1, size=(320, 240), osc=True, osc_port=0)


def _send_and_run(app: App, datagram: bytes) -> None:
    assert app.osc is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        tx.sendto(datagram, ("127.0.0.1", app.osc.port))
    end = time.monotonic() + 3.0
    while app.osc.queue.empty() and time.monotonic() < end:
        time.sleep(0.002)
    app.run(max_frames=app.frames + 2, dt=DT)


def test_a_parameter_changed_over_osc_shows_on_the_hud(osc_app: App) -> None:
    app = osc_app
    app.run(max_frames=3, dt=DT)
    assert app.hud.value_text == "" and _overlay(app) == 0
    b = OscMessageBuilder(f"{OSC_PREFIX}/look/contrast")
    b.add_arg(2.0, "f")
    _send_and_run(app, b.build().dgram)
    assert app.state.params["look.contrast"] == 2.0
    assert app.hud.value_text == "contrast 2.00x"
    assert _overlay(app) > 0
    app.run(max_frames=app.frames + 100, dt=DT)          # gone after 1.5 s...
    assert app.hud.value_text == ""
    _send_and_run(app, b.build().dgram)                  # ...and the same value again is news
    assert app.hud.value_text == ""                      # to nobody: nothing shows


def test_a_parameter_changed_by_a_midi_mapping_shows_on_the_hud(make_app) -> None:
    app = make_app(seed=1, size=(320, 240))
    app.mapper.set_mappings([ControlMapping("look.trails", cc=23, channel=1)])
    app.run(max_frames=2, dt=DT)
    app.mapper.feed_midi(mido.Message("control_change", channel=0, control=23, value=127))
    app.run(max_frames=app.frames + 1, dt=DT)
    trails = param("look.trails")
    assert math.isclose(app.state.params[trails.name], trails.hi)
    assert app.hud.value_text == f"trails {trails.format(trails.hi)}"
    assert np.isfinite(_overlay(app)) and _overlay(app) > 0

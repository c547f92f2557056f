"""Keyboard and mouse: injected pygame events become the documented commands."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pygame  # noqa: E402
import pytest  # noqa: E402

from latentsketch import commands as c  # noqa: E402
from latentsketch.control.keyboard import (  # noqa: E402
    ARROW_RATE,
    ARROW_TAP,
    Keyboard,
    KeyContext,
)
from latentsketch.control.mouse import HELP_ROWS, Mouse  # noqa: E402

SHIFT, CTRL = pygame.KMOD_LSHIFT, pygame.KMOD_LCTRL


def down(key: int = 0, mod: int = 0, scancode: int = 0, unicode: str = "") -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=key, mod=mod, scancode=scancode,
                              unicode=unicode)


def up(key: int = 0, scancode: int = 0) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYUP, key=key, mod=0, scancode=scancode, unicode="")


def press(kb: Keyboard, ctx: KeyContext | None = None, **kw) -> list[c.Command]:
    out = kb.handle(down(**kw), ctx)
    kb.handle(up(kw.get("key", 0), kw.get("scancode", 0)))
    return out


@pytest.fixture
def kb() -> Keyboard:
    return Keyboard(key_repeat=False)


K = pygame


@pytest.mark.parametrize("event, expected", [
    ({"key": K.K_SPACE, "scancode": K.KSCAN_SPACE, "unicode": " "}, [c.SetPause(None)]),
    ({"key": K.K_q, "scancode": K.KSCAN_Q, "unicode": "q"}, [c.Quit()]),
    ({"key": K.K_f, "unicode": "f"}, [c.ToggleFullscreen()]),
    ({"key": K.K_h, "unicode": "h"}, [c.ToggleHud()]),
    ({"key": K.K_F1}, [c.ToggleHelp()]),
    ({"key": K.K_SLASH, "mod": SHIFT, "unicode": "?"}, [c.ToggleHelp()]),
    ({"key": K.K_b, "unicode": "b"}, [c.SetParam("look.blackout", 1.0)]),
    ({"key": K.K_r, "unicode": "r"}, [c.Record(None)]),
    ({"key": K.K_s, "unicode": "s"}, [c.Snapshot()]),
    ({"key": K.K_s, "mod": CTRL}, [c.SavePreset()]),
    ({"key": K.K_1, "scancode": K.KSCAN_1, "unicode": "1"}, [c.RecallSlot(1)]),
    ({"key": K.K_9, "scancode": K.KSCAN_9, "unicode": "9"}, [c.RecallSlot(9)]),
    ({"key": K.K_KP_4, "scancode": K.KSCAN_KP_4}, [c.RecallSlot(4)]),
    ({"key": K.K_EXCLAIM, "mod": SHIFT, "scancode": K.KSCAN_1, "unicode": "!"},
     [c.StoreSlot(1)]),
    ({"key": K.K_7, "mod": SHIFT, "scancode": K.KSCAN_7, "unicode": "&"}, [c.StoreSlot(7)]),
    ({"key": K.K_TAB, "scancode": K.KSCAN_TAB}, [c.CycleMode(1)]),
    ({"key": K.K_TAB, "mod": SHIFT, "scancode": K.KSCAN_TAB}, [c.CycleMode(-1)]),
    ({"key": K.K_RIGHT}, [c.NudgeDim(0, ARROW_TAP)]),
    ({"key": K.K_LEFT}, [c.NudgeDim(0, -ARROW_TAP)]),
    ({"key": K.K_UP}, [c.NudgeDim(1, ARROW_TAP)]),
    ({"key": K.K_DOWN, "mod": SHIFT}, [c.NudgeDim(1, -ARROW_TAP)]),
    ({"key": K.K_EQUALS, "mod": SHIFT, "unicode": "+"}, [c.NudgeParam("walk.speed", 0.25)]),
    ({"key": K.K_KP_PLUS}, [c.NudgeParam("walk.speed", 0.25)]),
    ({"key": K.K_MINUS, "unicode": "-"}, [c.NudgeParam("walk.speed", -0.25)]),
    ({"key": K.K_PAGEDOWN}, [c.NudgeParam("walk.speed", -0.25)]),
    ({"key": K.K_t, "unicode": "t"}, [c.NudgeParam("walk.temperature", 0.1)]),
    ({"key": K.K_t, "mod": SHIFT, "unicode": "T"}, [c.NudgeParam("walk.temperature", -0.1)]),
    ({"key": K.K_n}, [c.NewTarget()]),
    ({"key": K.K_0, "scancode": K.KSCAN_0, "unicode": "0"}, [c.Reset()]),
    ({"key": K.K_HOME}, [c.Reset()]),
    ({"key": K.K_x}, [c.ReleaseDim(None)]),
    ({"key": K.K_z}, [c.CycleFit()]),
    ({"key": K.K_p}, [c.SetParam("look.posterize", 2.0)]),
    ({"key": K.K_c}, [c.NudgeParam("look.contrast", 0.1)]),
    ({"key": K.K_c, "mod": SHIFT}, [c.NudgeParam("look.contrast", -0.1)]),
    ({"key": K.K_v}, [c.NudgeParam("look.saturation", 0.1)]),
    ({"key": K.K_e}, [c.NudgeParam("look.trails", 0.05)]),
    ({"key": K.K_o, "mod": SHIFT}, [c.NudgeParam("look.softness", -0.1)]),
    ({"key": K.K_l, "mod": SHIFT}, [c.NudgeParam("look.brightness", -0.05)]),
    ({"key": K.K_g}, [c.NudgeParam("look.grain", 0.05)]),
    ({"key": K.K_m}, [c.SetParam("mouse.dim_x", 2.0), c.SetParam("mouse.dim_y", 3.0)]),
    ({"key": K.K_w}, []),
    ({"key": K.K_h, "mod": pygame.KMOD_LALT}, []),
])
def test_each_binding_makes_its_command(kb: Keyboard, event: dict, expected: list) -> None:
    assert press(kb, **event) == expected


def test_lock_keys_do_not_change_the_binding(kb: Keyboard) -> None:
    mod = pygame.KMOD_NUM | pygame.KMOD_CAPS
    assert press(kb, key=K.K_h, mod=mod) == [c.ToggleHud()]


def test_digits_follow_the_physical_key_on_azerty(kb: Keyboard) -> None:
    # AZERTY top row: unshifted it types "&" and "-" (key codes K_AMPERSAND, K_MINUS),
    # shifted the digits. The physical position decides.
    assert press(kb, key=K.K_AMPERSAND, scancode=K.KSCAN_1, unicode="&") == [c.RecallSlot(1)]
    assert press(kb, key=K.K_MINUS, scancode=K.KSCAN_6, unicode="-") == [c.RecallSlot(6)]
    assert press(kb, key=K.K_6, mod=SHIFT, scancode=K.KSCAN_6, unicode="6") == [c.StoreSlot(6)]
    assert press(kb, key=K.K_AGRAVE if hasattr(K, "K_AGRAVE") else 224,
                 scancode=K.KSCAN_0, unicode="à") == [c.Reset()]
    # "?" is Shift+comma on AZERTY: bound by the character typed.
    assert press(kb, key=K.K_COMMA, mod=SHIFT, scancode=K.KSCAN_M, unicode="?") == [
        c.ToggleHelp()]


def test_escape_leaves_help_then_fullscreen_then_quits(kb: Keyboard) -> None:
    esc = {"key": K.K_ESCAPE, "scancode": K.KSCAN_ESCAPE}
    assert press(kb, KeyContext(help_open=True, fullscreen=True), **esc) == [c.ToggleHelp()]
    assert press(kb, KeyContext(fullscreen=True), **esc) == [c.ToggleFullscreen()]
    assert press(kb, KeyContext(fullscreen=False), **esc) == [c.Quit()]


def test_window_close_quits(kb: Keyboard) -> None:
    assert kb.handle(pygame.event.Event(pygame.QUIT)) == [c.Quit()]


def test_toggles_use_the_current_value(kb: Keyboard) -> None:
    on = KeyContext(params={"look.blackout": 1.0})
    assert press(kb, on, key=K.K_b) == [c.SetParam("look.blackout", 0.0)]
    top = KeyContext(params={"look.posterize": 16.0})
    assert press(kb, top, key=K.K_p) == [c.SetParam("look.posterize", 16.0)]
    four = KeyContext(params={"look.posterize": 4.0})
    assert press(kb, four, key=K.K_p, mod=SHIFT) == [c.SetParam("look.posterize", 3.0)]
    two = KeyContext(params={"look.posterize": 2.0})
    assert press(kb, two, key=K.K_p, mod=SHIFT) == [c.SetParam("look.posterize", 0.0)]
    wrap = KeyContext(params={"mouse.dim_x": 6.0}, latent_dim=8)
    assert press(kb, wrap, key=K.K_m) == [c.SetParam("mouse.dim_x", 0.0),
                                          c.SetParam("mouse.dim_y", 1.0)]
    assert press(kb, KeyContext(latent_dim=8), key=K.K_m, mod=SHIFT) == [
        c.SetParam("mouse.dim_x", 6.0), c.SetParam("mouse.dim_y", 7.0)]


def test_key_repeat_fires_steps_but_not_toggles(kb: Keyboard) -> None:
    space = down(K.K_SPACE, scancode=K.KSCAN_SPACE)
    assert kb.handle(space) == [c.SetPause(None)]
    assert kb.handle(space) == []                    # auto-repeat of a toggle: ignored
    kb.handle(up(K.K_SPACE, K.KSCAN_SPACE))
    assert kb.handle(space) == [c.SetPause(None)]
    plus = down(K.K_KP_PLUS, scancode=K.KSCAN_KP_PLUS)
    assert kb.handle(plus) == kb.handle(plus) == [c.NudgeParam("walk.speed", 0.25)]


def test_held_arrows_nudge_every_frame_until_released(kb: Keyboard) -> None:
    right = down(K.K_RIGHT, scancode=K.KSCAN_RIGHT)
    assert kb.handle(right) == [c.NudgeDim(0, ARROW_TAP)]
    assert kb.held(0.2) == [c.NudgeDim(0, ARROW_RATE * 0.2)]
    assert kb.handle(right) == []                    # auto-repeat adds nothing on top
    kb.handle(down(K.K_UP, scancode=K.KSCAN_UP))
    assert sorted(kb.held(0.1), key=lambda x: x.index) == [
        c.NudgeDim(0, ARROW_RATE * 0.1), c.NudgeDim(1, ARROW_RATE * 0.1)]
    kb.handle(up(K.K_RIGHT, K.KSCAN_RIGHT))
    assert kb.held(0.1) == [c.NudgeDim(1, ARROW_RATE * 0.1)]
    kb.handle(pygame.event.Event(pygame.WINDOWFOCUSLOST))
    assert kb.held(0.1) == []                        # no stuck key after losing focus


def test_every_binding_is_reachable_and_listed_in_help(kb: Keyboard) -> None:
    mods = {"": 0, "shift": SHIFT, "ctrl": CTRL, "alt": pygame.KMOD_LALT, None: 0}
    labels = {label for label, _ in kb.help_rows()}
    for b in kb.bindings:
        if b.scancodes:
            found = kb.find(0, mods[b.mods], scancode=b.scancodes[0])
        elif b.keys:
            found = kb.find(b.keys[0], mods[b.mods])
        else:
            found = kb.find(0, mods[b.mods], unicode=b.chars[0])
        assert found is b, b.label
        assert b.label in labels
    md = kb.help_markdown(HELP_ROWS)
    assert md.count("\n") == len(kb.help_rows()) + len(HELP_ROWS) + 1
    assert "| Shift+1..9 | store the current point in slot |" in md


# --- mouse -----------------------------------------------------------------------------------

RECT = (100, 0, 400, 400)             # a fitted square picture in a 600x400 window


def mouse_event(kind: int, pos: tuple[int, int], button: int = 1) -> pygame.event.Event:
    if kind == pygame.MOUSEMOTION:
        return pygame.event.Event(kind, pos=pos, rel=(0, 0), buttons=(1, 0, 0))
    return pygame.event.Event(kind, pos=pos, button=button)


def test_mouse_drag_pins_the_pad_dims_and_releases_them() -> None:
    m = Mouse()
    params = {"mouse.dim_x": 2.0, "mouse.dim_y": 5.0}
    assert m.handle(mouse_event(pygame.MOUSEBUTTONDOWN, (300, 200)), RECT, params) == []
    assert m.handle(mouse_event(pygame.MOUSEMOTION, (302, 201)), RECT, params) == []
    out = m.handle(mouse_event(pygame.MOUSEMOTION, (500, 0)), RECT, params)
    assert [type(x) for x in out] == [c.SetDim, c.SetDim]
    assert (out[0].index, out[1].index) == (2, 5)
    assert out[0].value == pytest.approx(3.0) and out[1].value == pytest.approx(3.0, abs=0.02)
    out = m.handle(mouse_event(pygame.MOUSEMOTION, (40, 399)), RECT, params)   # in the bar
    assert out[0].value == pytest.approx(-3.0) and out[1].value == pytest.approx(-3.0, abs=0.02)
    out = m.handle(mouse_event(pygame.MOUSEMOTION, (300, 200)), RECT, params)
    assert out[0].value == pytest.approx(0.0, abs=0.02)
    assert m.dragging
    assert m.handle(mouse_event(pygame.MOUSEBUTTONUP, (300, 200)), RECT, params) == [
        c.ReleaseDim(2), c.ReleaseDim(5)]
    assert not m.dragging
    assert m.handle(mouse_event(pygame.MOUSEMOTION, (310, 250)), RECT, params) == []


def test_mouse_click_sets_the_target() -> None:
    m = Mouse()
    m.handle(mouse_event(pygame.MOUSEBUTTONDOWN, (200, 100)), RECT)
    m.handle(mouse_event(pygame.MOUSEMOTION, (201, 101)), RECT)            # jitter, no drag
    out = m.handle(mouse_event(pygame.MOUSEBUTTONUP, (201, 101)), RECT)
    assert len(out) == 1 and isinstance(out[0], c.SetTarget)
    assert out[0].x == pytest.approx(-1.5, abs=0.02)
    assert out[0].y == pytest.approx(1.5, abs=0.02)
    assert m.handle(mouse_event(pygame.MOUSEBUTTONDOWN, (200, 100), button=3), RECT) == []
    assert m.handle(mouse_event(pygame.MOUSEBUTTONUP, (200, 100), button=3), RECT) == []


def test_mouse_drag_can_latch_and_focus_loss_ends_a_drag() -> None:
    latch = Mouse(release_on_up=False)
    latch.handle(mouse_event(pygame.MOUSEBUTTONDOWN, (300, 200)), RECT)
    assert len(latch.handle(mouse_event(pygame.MOUSEMOTION, (350, 200)), RECT)) == 2
    assert latch.handle(mouse_event(pygame.MOUSEBUTTONUP, (350, 200)), RECT) == []
    m = Mouse()
    m.handle(mouse_event(pygame.MOUSEBUTTONDOWN, (300, 200)), RECT)
    m.handle(mouse_event(pygame.MOUSEMOTION, (350, 200)), RECT)
    assert m.handle(pygame.event.Event(pygame.WINDOWFOCUSLOST), RECT) == [
        c.ReleaseDim(0), c.ReleaseDim(1)]


def test_mouse_wheel_changes_speed() -> None:
    m = Mouse(wheel_step=0.1)
    wheel = pygame.event.Event(pygame.MOUSEWHEEL, x=0, y=2, precise_x=0.0, precise_y=2.0,
                               flipped=False)
    assert m.handle(wheel, RECT) == [c.NudgeParam("walk.speed", pytest.approx(0.2))]
    back = pygame.event.Event(pygame.MOUSEWHEEL, x=0, y=-1, flipped=False)
    assert m.handle(back, RECT) == [c.NudgeParam("walk.speed", pytest.approx(-0.1))]


def test_key_repeat_is_switched_on_once_a_window_exists() -> None:
    from latentsketch.control.keyboard import KEY_REPEAT

    pygame.display.init()
    pygame.key.set_repeat()
    kb = Keyboard()
    kb.handle(pygame.event.Event(pygame.WINDOWSHOWN))
    assert pygame.key.get_repeat() == KEY_REPEAT
    pygame.key.set_repeat()

"""``latentsketch info``: what a model is, how fast it decodes here, and what its dimensions do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from latentsketch.errors import UserError
from latentsketch.model import checkpoint
from latentsketch.model.inference import Decoder
from latentsketch.model.vae import count_params, decoder_flops
from latentsketch.output.paths import output_error, write_atomically
from latentsketch.sheets import labelled_sheet

SWEEP = np.linspace(-2.5, 2.5, 9)
WALK_FRAMES = 16      # the walk sheet: frames of the default preset's walk ...
WALK_SPACING = 0.5    # ... this many seconds apart (30 frames at 60 fps) ...
WALK_SIDE = 256       # ... each at this display size, with the preset's look


def atlas(loaded: checkpoint.LoadedModel, decoder: Decoder, dims: int) -> np.ndarray:
    """Decodes sweeping each of the top ``dims`` dimensions (KL rank) from -2.5 to 2.5 std."""
    space = loaded.space
    rows = []
    for k in range(min(dims, space.dim)):
        u = np.zeros((len(SWEEP), space.dim), np.float32)
        u[:, space.raw_index(k)] = SWEEP
        rows.append(decoder.decode_batch(space.to_z(u)))
    return np.stack(rows)


def _engines_line(model_id: str) -> str:
    """What the live window measured of the decode engines on this CPU kind, if it has."""
    from latentsketch.model.engine_upgrade import EngineUpgrade, read_choice
    from latentsketch.model.engines import cache_dir

    choice = read_choice(cache_dir(model_id))
    if choice is None:
        return ("engines    not measured on this CPU yet (the live window measures them in the "
                "background on its first start)")
    return f"engines    {choice.winner} wins; " + EngineUpgrade.describe_choice(choice)


def walk_frames(loaded: checkpoint.LoadedModel, decoder: Decoder, preset_name: str = "default",
                n: int = WALK_FRAMES, spacing: float = WALK_SPACING, side: int = WALK_SIDE,
                seed: int = 0) -> np.ndarray:
    """(n, side, side, 3) uint8: what the audience sees of the preset's walk, every ``spacing``
    seconds from the start, stepped by the engine at 60 fps as the live loop does."""
    from latentsketch import engine
    from latentsketch import preset as presets
    from latentsketch.output.picture import ArrayScaler, Picture

    pre = presets.load(preset_name)
    space = loaded.space
    state = engine.State.initial(space, seed, pre.params, dict(pre.slots),
                                 [k.u for k in pre.keyframes] or None)
    per = max(1, round(spacing * 60))
    zs, params = [], []
    for _ in range(n):
        zs.append(engine.output_z(state, space))
        params.append(dict(state.params))
        for _ in range(per):
            state = engine.step(state, [], 1 / 60, space)
    frames = decoder.decode_batch(np.stack(zs))
    pic = Picture(ArrayScaler("bicubic"))
    return np.stack(pic.batch(list(frames), params, [spacing] * n, (side, side), "fit"))


def describe(model: str | None, out: Path, dims: int = 6) -> str:
    """Print-ready description; writes the atlas PNG into ``out`` (never into assets/).

    Raises UserError for ``dims`` < 1, CheckpointError for an unusable model and OutputError
    (one line naming the file) when the atlas cannot be written; a failed write leaves no
    partial file.
    """
    if dims < 1:
        raise UserError(f"--dims {dims}: the atlas needs at least 1 dimension (row)")
    loaded = checkpoint.load(model)
    assets = checkpoint.default_model_path().parent.resolve()
    out = Path(out)
    if out.resolve() == assets or assets in out.resolve().parents:
        raise checkpoint.CheckpointError(f"info --out {out}: refusing to write into the bundled "
                                         f"assets folder; pick another folder")
    dec = Decoder(loaded.vae, threads=1)
    ms = {t.backend: t.ms for t in dec.timings}
    cfg = loaded.config
    kl = np.asarray(cfg.get("kl_per_dim") or np.zeros(loaded.space.dim))
    lines = [
        f"model      {loaded.path}",
        f"model id   {loaded.model_id}",
        f"image      {loaded.cfg.image_size}x{loaded.cfg.image_size}, {loaded.cfg.channels} "
        f"channels; latent {loaded.cfg.latent}",
        f"decoder    widths {list(loaded.cfg.dec_widths)}, "
        f"{decoder_flops(loaded.cfg) / 1e9:.3f} GFLOP/frame",
        f"parameters {count_params(loaded.vae):,} ({count_params(loaded.vae.decoder):,} decoder)",
        "decode     " + ", ".join(f"{k} {v:.2f} ms" for k, v in ms.items())
        + f" per frame, 1 thread (using {dec.backend})",
        f"data       {cfg.get('data', 'unknown')}",
        _engines_line(loaded.model_id),
    ]
    tr = cfg.get("training") or {}
    if tr:
        lines.append(f"training   {tr.get('steps')} steps, {tr.get('seconds')} s, "
                     f"{tr.get('precision')}; final {json.dumps(tr.get('final_terms', {}))}")
    if cfg.get("metrics"):
        lines.append("quality    " + ", ".join(f"{k} {v}" for k, v in cfg["metrics"].items()))
    if not cfg.get("latent_mean"):
        lines.append("walk space N(0, I) (this checkpoint stores no latent statistics)")
    ranked = [(k, loaded.space.raw_index(k)) for k in range(loaded.space.dim)]
    active = int((kl > 0.01).sum())
    lines.append(f"dimensions by KL (rank: raw index, nats), {active} of {len(kl)} active:")
    cells = [f"{k:>3}: {r:>3} {kl[r]:6.2f}" for k, r in ranked]
    for i in range(0, len(cells), 4):
        lines.append("   " + "   ".join(cells[i : i + 4]))
    grid = atlas(loaded, dec, dims)
    rows = [(f"dim {k} (raw {loaded.space.raw_index(k)})", grid[k]) for k in range(len(grid))]
    sheet = labelled_sheet(rows, scale=max(1, 128 // loaded.cfg.image_size),
                           title=f"latent atlas {loaded.model_id}: each row sweeps one "
                                 f"dimension from -2.5 to +2.5 std")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise output_error(e, out, "create folder") from e
    path = write_atomically(out / f"latentsketch-atlas-{loaded.model_id}.png",
                            lambda tmp: sheet.save(tmp, format="PNG"))
    lines.append(f"atlas      {path}")
    walk = walk_frames(loaded, dec)
    cols = 4
    walk_sheet = labelled_sheet(
        [(f"{i * cols * WALK_SPACING:g}-{(i + 1) * cols * WALK_SPACING - WALK_SPACING:g} s",
          walk[i * cols:(i + 1) * cols]) for i in range(len(walk) // cols)],
        title=f"default walk {loaded.model_id}: a frame every {WALK_SPACING:g} s at "
              f"{WALK_SIDE} px, with the preset's look")
    path = write_atomically(out / f"latentsketch-walk-{loaded.model_id}.png",
                            lambda tmp: walk_sheet.save(tmp, format="PNG"))
    lines.append(f"walk sheet {path}")
    return "\n".join(lines)

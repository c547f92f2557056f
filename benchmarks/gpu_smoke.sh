#!/usr/bin/env bash
# The GPU paths, checked in under 5 minutes the day a machine with a CUDA GPU is at hand:
#  1. trains 300 steps at 128 px with mixed precision (bf16, or fp16 with its grad scaler),
#     pinned non-blocking batches, channels_last; prints images/s; then 100 steps more with
#     --compile (kept only if measured faster) and, with 2+ GPUs, 100 steps of torchrun DDP;
#  2. decodes at 256 px with the live decoder (CUDA timed at warm-up against the CPU; the
#     frame finished as uint8 on the GPU): prints ms per decode and which device won;
#  3. runs the live loop headless (SDL dummy driver) for 10 s at 512x512 unthrottled: fps.
# Without a CUDA GPU it says so in one line and exits 2.
# Run from the repository: bash benchmarks/gpu_smoke.sh  (PYTHON=... to choose the python)
set -euo pipefail
PY=${PYTHON:-python}
if [ -z "${GPU_SMOKE_ON_CPU:-}" ] && \
   ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_smoke: no CUDA GPU here (torch.cuda.is_available() is False); nothing checked" >&2
    exit 2
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy
STEPS=${GPU_SMOKE_STEPS:-300}

"$PY" - "$WORK" "$STEPS" <<'PYEOF'
import sys
import time

import numpy as np
import torch

from latentsketch.train import TrainConfig, Trainer

work, steps = sys.argv[1], int(sys.argv[2])
dev = "cuda" if torch.cuda.is_available() else "cpu"
print(f"gpu_smoke: torch {torch.__version__}, "
      f"{torch.cuda.get_device_name() if dev == 'cuda' else 'CPU (GPU_SMOKE_ON_CPU)'}")
base = dict(data="procedural", size=128, latent=32, width=32, batch_size=64, n_images=512,
            device=dev, ema=0.999, steps=steps)
for label, extra in (("train", {}), ("train --compile", {"compile": True, "steps": steps // 3})):
    cfg = TrainConfig(**{**base, **extra, "out": f"{work}/{label.split()[-1].strip('-')}"})
    notes = []
    t = Trainer(cfg, lambda e: notes.append(e.message) if e.kind == "note" else None)
    t0 = time.perf_counter()
    t.run()
    if dev == "cuda":
        torch.cuda.synchronize()
    sec = time.perf_counter() - t0
    prec = "bf16" if t.bf16 else "fp16+scaler" if t.scaler is not None else "fp32"
    print(f"gpu_smoke: {label}: {t.step} steps of {cfg.batch_size} in {sec:.1f} s = "
          f"{t.step * cfg.batch_size / sec:.1f} images/s ({prec}; the first steps include "
          f"warm-up), loss {t.history['total'][-1]:.0f}")
    for n in notes:
        if n.startswith("--compile"):
            print(f"gpu_smoke:   {n}")
    if label == "train":
        t.finalise()
PYEOF

NGPU=$("$PY" -c "import torch; print(torch.cuda.device_count())")
if [ "$NGPU" -ge 2 ]; then
    T0=$(date +%s.%N)
    "$PY" -m torch.distributed.run --standalone --nproc-per-node "$NGPU" -m latentsketch train \
        procedural --out "$WORK/ddp" --size 128 --n-images 512 --batch-size $((64 * NGPU)) \
        --steps 100 --ema 0 2>&1 | tail -n 3
    echo "gpu_smoke: torchrun on $NGPU GPUs: 100 steps of $((64 * NGPU)) images (with start-up and measuring) in $(echo "$(date +%s.%N) - $T0" | bc) s"
fi

"$PY" - "$WORK" <<'PYEOF'
import sys
import tempfile
import time

import numpy as np
import torch

from latentsketch.app import App, AppOptions
from latentsketch.model.inference import Decoder
from latentsketch.model.vae import VAE, VAEConfig

work = sys.argv[1]
vae = VAE(VAEConfig.named("preset", 256, 32, 32)).eval()
dec = Decoder(vae)
z = np.random.default_rng(0).standard_normal((1, 32)).astype(np.float32)
for _ in range(5):
    dec.decode_batch(z)
ts = []
for _ in range(100):
    t = time.perf_counter()
    dec.decode_batch(z)
    ts.append(time.perf_counter() - t)
timed = ", ".join(f"{t.backend} {t.ms:.2f} ms" for t in dec.timings)
print(f"gpu_smoke: decode 256 px: {np.median(ts) * 1e3:.2f} ms median on {dec.device.type} "
      f"{dec.backend} (timed at warm-up: {timed})")

app = App(AppOptions(model=f"{work}/train", seed=1, fps=0, size=(512, 512), osc=False,
                     midi=False, out_dir=tempfile.mkdtemp(), engines=False))
frames, t_end = 0, time.perf_counter() + 10
t0 = last = time.perf_counter()
while time.perf_counter() < t_end:
    app.frame_step()
    now = time.perf_counter()
    app._dt = now - last
    last = now
    frames += 1
print(f"gpu_smoke: live loop 512x512 headless, 10 s unthrottled: {frames / (last - t0):.1f} fps "
      f"(decoder {app.decoder.engine} on {app.decoder.device.type})")
app.close()
PYEOF
echo "gpu_smoke: done"

#!/bin/sh
# README's assets/live.png: the live window on the default model, the default tour, then with
# posterize (P). Needs Debian's xvfb, imagemagick and xdotool; run from the checkout.
#   sh tools/live_screenshot.sh [SECONDS_BEFORE_THE_FIRST_SHOT]
set -eu
wait_s=${1:-8}
out=$(mktemp -d)
Xvfb :77 -screen 0 512x512x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true; rm -rf "$out"' EXIT
sleep 1
DISPLAY=:77 latentsketch --size 512x512 --borderless --seed 3 --no-osc --no-midi >"$out/log" 2>&1 &
app=$!
sleep "$wait_s"
DISPLAY=:77 import -window root "$out/a.png"
DISPLAY=:77 xdotool search --class latentsketch windowfocus 2>/dev/null || true
DISPLAY=:77 xdotool key p
sleep 2.5
DISPLAY=:77 import -window root "$out/b.png"
kill -INT $app; wait $app || true
convert "$out/a.png" -size 8x512 xc:'#101014' "$out/b.png" +append assets/live.png
echo "wrote assets/live.png"

#!/usr/bin/env bash
# screenshot.sh - assets/screenshot.png from the real binary.
#
# Lays out a demo directory with one pidfile of every status (real processes:
# a running sleep, a zombie, a reused PID, a FIFO...), runs `pidscope` on it in
# a 100x30 tmux terminal, captures the screen with its colours and renders it
# to PNG with Pillow (installed for the user if missing) and DejaVu Sans Mono.
# Needs: cargo, tmux, python3, fonts-dejavu-core.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/assets/screenshot.png}
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install --quiet --user pillow

demo=$(mktemp -d /tmp/pidscope-demo.XXXX)
sock=pidscope-shot-$$
pids=()
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null || true
  rm -rf "$demo"
}
trap cleanup EXIT
mkdir -p "$demo/run/nginx" "$demo/run/php"
sleep 3600 & pids+=($!); echo $! >"$demo/run/sleep.pid"
# A zombie: the shell becomes `sleep`, which never reaps its finished child.
sh -c 'sleep 0 & echo $! >"$1"; exec sleep 3600' sh "$demo/run/worker.pid" & pids+=($!)
# A PID reused: the file is an hour older than the process it names.
sleep 3600 & pids+=($!); echo $! >"$demo/run/nginx/nginx.pid"; touch -d '1 hour ago' "$demo/run/nginx/nginx.pid"
sh -c 'echo $$' >"$demo/run/backup-job.pid"   # a PID that just exited
: >"$demo/run/php/php-fpm.pid"
mkfifo "$demo/run/control.pid"
sleep 0.5

tmux -L "$sock" -f /dev/null new-session -d -x 100 -y 30 -c "$demo" \
  "PIDSCOPE_CONFIG=/dev/null $root/target/release/pidscope --read-only --no-mouse ./run"
for _ in $(seq 50); do
  tmux -L "$sock" capture-pane -p | grep -q 'alive 1' && break
  sleep 0.1
done
tmux -L "$sock" send-keys Down Down
sleep 0.5
tmux -L "$sock" capture-pane -e -p >"$demo/screen.ansi"

python3 - "$demo/screen.ansi" "$out" "$demo" <<'PY'
import re, sys
from PIL import Image, ImageDraw, ImageFont
src, out, demo = sys.argv[1:4]
text = open(src, encoding="utf-8").read()
palette = [(30,30,30),(205,49,49),(13,188,121),(229,229,16),(36,114,200),(188,63,188),(17,168,205),(229,229,229),
           (102,102,102),(241,76,76),(35,209,139),(245,245,67),(59,142,234),(214,112,214),(41,184,219),(255,255,255)]
FG, BG = (220,220,220), (24,24,28)
font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 15)
bold = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf", 15)
cw, ch = 9, 19
lines = text.split("\n")[:30]
img = Image.new("RGB", (100 * cw + 20, 30 * ch + 20), BG)
draw = ImageDraw.Draw(img)
for y, line in enumerate(lines):
    fg, bg, b, rev, x = FG, None, False, False, 0
    for token in re.split(r"(\x1b\[[0-9;]*m)", line):
        m = re.fullmatch(r"\x1b\[([0-9;]*)m", token)
        if m:
            codes = [int(c) if c else 0 for c in m.group(1).split(";")]
            i = 0
            while i < len(codes):
                c = codes[i]
                if c == 0: fg, bg, b, rev = FG, None, False, False
                elif c == 1: b = True
                elif c == 22: b = False
                elif c == 7: rev = True
                elif c == 27: rev = False
                elif 30 <= c <= 37: fg = palette[c - 30]
                elif 90 <= c <= 97: fg = palette[c - 90 + 8]
                elif c == 39: fg = FG
                elif 40 <= c <= 47: bg = palette[c - 40]
                elif c == 49: bg = None
                elif c in (38, 48) and i + 2 < len(codes) and codes[i + 1] == 5:
                    n = codes[i + 2]; col = palette[n] if n < 16 else FG
                    if c == 38: fg = col
                    else: bg = col
                    i += 2
                i += 1
            continue
        for chx in token:
            # Reverse video swaps the cell's colours.
            ink, paper = (bg or BG, fg) if rev else (fg, bg)
            px, py = 10 + x * cw, 10 + y * ch
            if paper:
                draw.rectangle([px, py, px + cw, py + ch], fill=paper)
            draw.text((px, py), chx, font=bold if b else font, fill=ink)
            x += 1
img.save(out)
print(out)
PY

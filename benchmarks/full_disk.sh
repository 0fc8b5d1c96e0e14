#!/usr/bin/env bash
# A real full disk (not a simulated one): mount a small tmpfs, put a good run and good files on
# it, fill it up to the last 4 KB, then run train, --resume, sample, screenshot and the
# window's exports into it; then the same read-only. Each must print one line naming the file and the cause, exit 2,
# and leave every earlier file byte-identical (sha256) and the checkpoint loadable.
# Needs root (mount). Usage: sudo benchmarks/full_disk.sh [python]   (default: python3)
set -u
PY=${1:-python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MNT=/tmp/fulldisk
ERR=$(mktemp)
export PYTHONPATH=$ROOT OMP_NUM_THREADS=1 QT_QPA_PLATFORM=offscreen
SMALL="--batch-size 32 --noise-dim 8"
fail=0

mkdir -p $MNT
mount -t tmpfs -o size=4m tmpfs $MNT || { echo "cannot mount a tmpfs at $MNT (root needed)"; exit 1; }
trap 'umount $MNT; rm -f "$ERR"' EXIT

# good files first, while there is room
$PY -m ganviz train --dataset ring --steps 30 --out $MNT/run $SMALL >/dev/null 2>&1 || { echo "setup: train failed"; exit 1; }
$PY -m ganviz sample --checkpoint $MNT/run/checkpoint.pt --n 100 --out $MNT/samples.npy >/dev/null
mkdir -p $MNT/export
$PY "$ROOT/benchmarks/full_disk_window.py" export $MNT/export >/dev/null 2>&1 || { echo "setup: export failed"; exit 1; }
printf 'old screenshot\n' > $MNT/shot.png
before=$(cd $MNT && find . -type f | sort | xargs sha256sum)

avail=$(df --output=avail -B1 $MNT | tail -1)
dd if=/dev/zero of=$MNT/filler bs=4096 count=$(( (avail - 4096) / 4096 )) status=none
echo "tmpfs $MNT: $(df --output=avail -B1 $MNT | tail -1) bytes left"

check() {   # name, expected exit code, command...
  local name=$1 want=$2; shift 2
  local code err lines
  "$@" >/dev/null 2>"$ERR"; code=$?
  # the progress line (\r-separated) and Qt's offscreen warning are not messages
  err=$(tr '\r' '\n' < "$ERR" | grep -v '^ *[0-9]*/[0-9]* ' | grep -v propagateSizeHints | grep -v '^ *$')
  lines=$(printf '%s\n' "$err" | grep -c .)
  if [ "$code" = "$want" ] && [ "$lines" = 1 ] && ! grep -q Traceback "$ERR"; then
    echo "ok   $name: exit $code: $err"
  else
    echo "FAIL $name: exit $code (want $want), $lines lines:"; cat "$ERR"; fail=1
  fi
}

check "train --resume" 2 $PY -m ganviz train --resume $MNT/run --steps 50
check "train (new run)" 2 $PY -m ganviz train --dataset ring --steps 50 --out $MNT/new $SMALL
check "sample" 2 $PY -m ganviz sample --checkpoint $MNT/run/checkpoint.pt --n 200000 --out $MNT/samples.npy
check "screenshot" 2 $PY -m ganviz screenshot --steps 2 --out $MNT/shot.png --size 800x600
echo "window: Export plots and samples as PNG, and the history as CSV:"
$PY "$ROOT/benchmarks/full_disk_window.py" report $MNT/export 2>&1 | grep -v propagateSizeHints

rm -f $MNT/filler
rm -rf $MNT/new   # the failed new run's folder: not an earlier file
echo "the same file system, read-only (root writes through chmod, not through this):"
mount -o remount,ro $MNT
check "train --resume" 2 $PY -m ganviz train --resume $MNT/run --steps 5
check "sample" 2 $PY -m ganviz sample --checkpoint $MNT/run/checkpoint.pt --n 10 --out $MNT/samples.npy
mount -o remount,rw $MNT
after=$(cd $MNT && find . -type f | sort | xargs sha256sum)
if [ "$before" = "$after" ]; then
  echo "ok   every earlier file byte-identical ($(printf '%s\n' "$before" | wc -l) files, sha256)"
else
  echo "FAIL files changed:"; diff <(echo "$before") <(echo "$after"); fail=1
fi
leftover=$(find $MNT -name '*.tmp' | wc -l)
if [ "$leftover" = 0 ]; then echo "ok   no temp files left"; else echo "FAIL $leftover temp files left"; fail=1; fi
if $PY -m ganviz eval --checkpoint $MNT/run/checkpoint.pt >"$ERR" 2>&1; then
  echo "ok   checkpoint loads: $(cat "$ERR")"
else
  echo "FAIL checkpoint does not load: $(cat "$ERR")"; fail=1
fi
exit $fail

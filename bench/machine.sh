#!/usr/bin/env bash
# machine.sh - the two lines every benchmark prints first: the machine (CPU
# model, cores, kernel) and the date, so a number is never read without them.
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, Linux $(uname -r)"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"

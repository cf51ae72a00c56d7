#!/bin/sh
# Prints "line N of M" every half second for $seconds seconds (default 5), then writes slow.txt.
set -eu

seconds="${seconds:-5}"
case "$seconds" in
    '' | *[!0-9]*)
        echo "seconds must be a whole number, got '$seconds'" >&2
        exit 1
        ;;
esac

total=$((seconds * 2))
i=0
trap 'echo "stopped after line $i of $total"; exit 143' TERM INT
while [ "$i" -lt "$total" ]; do
    i=$((i + 1))
    echo "line $i of $total"
    # Fractional sleeps are not POSIX; fall back to whole seconds where they are refused.
    sleep 0.5 2>/dev/null || sleep 1
done
echo "ran for $seconds seconds ($total lines)" > slow.txt
echo "done"

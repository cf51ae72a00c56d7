#!/bin/sh
# Writes its parameters to out.txt; fails with a message when nmin is not a number.
set -eu

nmin="${nmin-}"
label="${label-}"
case "$nmin" in
    '' | - | . | -. | *[!0-9.-]* | *.*.* | ?*-*)
        echo "nmin must be a number, got '$nmin'" >&2
        exit 1
        ;;
esac

{
    echo "nmin: $nmin"
    echo "label: $label"
    echo "version: ${ORDERLY_VERSION:-}"
    echo "parameters: ${ORDERLY_PARAMETERS:-}"
} > out.txt
echo "wrote out.txt:"
cat out.txt

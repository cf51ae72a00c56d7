#!/bin/sh
# Never runs: this report's orderly.yml cannot be read.
echo "x" > out.csv

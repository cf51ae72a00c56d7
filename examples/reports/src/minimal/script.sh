#!/bin/sh
# Reads source.txt ("region count" lines) and writes data.csv and the bar chart mygraph.svg.
# Only sh built-ins: no awk, no python.
set -eu

echo "reading source.txt"
echo "region,count" > data.csv
rows=0
bars=""
while read -r region count || [ -n "${region:-}" ]; do
    [ -n "$region" ] || continue
    echo "$region,$count" >> data.csv
    y=$((20 + rows * 30))
    width=$((count * 20))
    bars="$bars
  <rect x=\"80\" y=\"$y\" width=\"$width\" height=\"20\" fill=\"steelblue\"/>
  <text x=\"70\" y=\"$((y + 15))\" text-anchor=\"end\">$region</text>
  <text x=\"$((85 + width))\" y=\"$((y + 15))\">$count</text>"
    rows=$((rows + 1))
done < source.txt
echo "wrote data.csv ($rows rows)"

height=$((40 + rows * 30))
cat > mygraph.svg <<SVG
<svg xmlns="http://www.w3.org/2000/svg" width="480" height="$height" font-family="sans-serif" font-size="12">
  <title>Counts by region</title>$bars
</svg>
SVG
echo "wrote mygraph.svg"

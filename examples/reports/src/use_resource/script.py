"""Summarises the resource meta/data.csv (columns group,value) into summary.csv."""

import csv
from collections import defaultdict

values = defaultdict(list)
with open("meta/data.csv", newline="") as source:
    for row in csv.DictReader(source):
        values[row["group"]].append(float(row["value"]))
print(f"read {sum(len(v) for v in values.values())} values in {len(values)} groups")

with open("summary.csv", "w", newline="") as out:
    writer = csv.writer(out)
    writer.writerow(["group", "n", "mean", "min", "max"])
    for group in sorted(values):
        group_values = values[group]
        mean = sum(group_values) / len(group_values)
        writer.writerow(
            [group, len(group_values), f"{mean:.3f}", min(group_values), max(group_values)]
        )
        print(f"{group}: n={len(group_values)} mean={mean:.3f}")
print("wrote summary.csv")

#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
bench/report.py - print and save the figures collected by bench/run.

    report.py table SECTION RESULTS ANCHORS [ME]
    report.py json OUT RESULTS ANCHORS NOTES VERSIONS

RESULTS is the tab-separated file bench_record (bench/lib.sh) appends to:
section, workload, unit, better ("higher" or "lower"), target, median and
the raw per-run values separated by spaces. ANCHORS is the space-separated
list of encrypted anchors phivault is compared with. ME, the target whose
ratios a table prints, is "phivault" unless given: the policy section
compares "phivault-policy" with "phivault" (anchors "phivault").

A ratio is always "phivault's performance as a multiple of the other's":
value / other when higher is better, other / value when lower is better.
Above 1.00 phivault does better, below 1.00 worse. "Best anchor" is,
per workload, the encrypted anchor with the best figure.

The JSON keeps every row (with its raw runs), the ratios, the notes, the
tool versions and every BENCH_* and PHIVAULT_* setting of the run.
"""

import datetime
import json
import os
import platform
import sys


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 7:
                continue
            sec, wl, unit, better, target, value, raw = parts[:7]
            rows.append({
                "section": sec, "workload": wl, "unit": unit,
                "better": better, "target": target,
                "median": num(value), "runs": [num(v) for v in raw.split()],
            })
    return rows


def num(text):
    try:
        return float(text)
    except ValueError:
        return None


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def speed_ratio(mine, other, better):
    if mine is None or other is None or mine == 0 or other == 0:
        return None
    return mine / other if better == "higher" else other / mine


def ordered(items):
    seen = []
    for i in items:
        if i not in seen:
            seen.append(i)
    return seen


def compute_ratios(rows, anchors, me_name="phivault"):
    """One entry per (section, workload) that has a row of me_name."""
    out = []
    keys = ordered((r["section"], r["workload"]) for r in rows)
    for sec, wl in keys:
        group = {r["target"]: r for r in rows
                 if r["section"] == sec and r["workload"] == wl}
        me = group.get(me_name)
        if me is None:
            continue
        better = me["better"]
        pt = group.get("passthrough")
        best_name, best_val = None, None
        for a in anchors:
            v = group[a]["median"] if a in group else None
            if v is None:
                continue
            if best_val is None or (v > best_val if better == "higher"
                                    else v < best_val):
                best_name, best_val = a, v
        out.append({
            "section": sec, "workload": wl, "unit": me["unit"],
            "better": better, "phivault": me["median"],
            "vs_passthrough": speed_ratio(
                me["median"], pt["median"] if pt else None, better),
            "best_anchor": best_name, "best_anchor_value": best_val,
            "vs_best_anchor": speed_ratio(me["median"], best_val, better),
        })
    return out


def print_table(section, rows, anchors, me_name="phivault"):
    rows = [r for r in rows if r["section"] == section]
    if not rows:
        print("(no figures)")
        return
    targets = ordered(r["target"] for r in rows)
    workloads = ordered(r["workload"] for r in rows)
    cell = {(r["workload"], r["target"]): r for r in rows}
    label = {r["workload"]: "%s [%s]%s" % (
        r["workload"], r["unit"], "" if r["better"] == "higher" else " v")
        for r in rows}
    w0 = max(len(s) for s in label.values())
    widths = [max(9, len(t)) for t in targets]
    print("%-*s" % (w0, "workload [unit]") +
          "".join(" %*s" % (w, t) for w, t in zip(widths, targets)))
    for wl in workloads:
        vals = [fmt(cell[(wl, t)]["median"]) if (wl, t) in cell else "-"
                for t in targets]
        print("%-*s" % (w0, label[wl]) +
              "".join(" %*s" % (w, v) for w, v in zip(widths, vals)))
    print("(v: lower is better; other rows: higher is better)")

    ratios = compute_ratios(rows, anchors, me_name)
    if not ratios or all(r["phivault"] is None for r in ratios):
        return
    print()
    print("%s relative to %s (>1.00: %s better)" % (
        me_name, "the anchors" if me_name == "phivault" else
        " ".join(anchors), me_name))
    print("%-*s %9s %9s  %-14s %9s" % (w0, "workload", me_name[:9],
                                       "/passthru", "best anchor",
                                       "/best"))
    for r in ratios:
        print("%-*s %9s %9s  %-14s %9s" % (
            w0, label[r["workload"]], fmt(r["phivault"]),
            fmt(r["vs_passthrough"]), r["best_anchor"] or "n/a",
            fmt(r["vs_best_anchor"])))


def read_pairs(path):
    pairs = {}
    try:
        with open(path) as f:
            for line in f:
                if "\t" in line:
                    k, v = line.rstrip("\n").split("\t", 1)
                    pairs[k] = v
    except OSError:
        pass
    return pairs


def read_lines(path):
    try:
        with open(path) as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    except OSError:
        return []


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_json(out, rows, anchors, notes, versions):
    doc = {
        "schema": 1,
        "generated": datetime.datetime.now(datetime.timezone.utc)
        .isoformat(timespec="seconds"),
        "host": {"cpu": cpu_model(), "cpus": os.cpu_count(),
                 "kernel": platform.release()},
        "config": {k: v for k, v in sorted(os.environ.items())
                   if k == "PHIVAULT"
                   or k.startswith(("BENCH_", "PHIVAULT_"))},
        "versions": read_pairs(versions),
        "anchors": anchors,
        "results": rows,
        "phivault_ratios": compute_ratios(
            [r for r in rows if r["section"] != "policy"], anchors),
        "policy_ratios": compute_ratios(
            [r for r in rows if r["section"] == "policy"], ["phivault"],
            "phivault-policy"),
        "notes": read_lines(notes),
    }
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, out)


def main(argv):
    if len(argv) in (4, 5) and argv[0] == "table":
        print_table(argv[1], load(argv[2]), argv[3].split(),
                    argv[4] if len(argv) == 5 else "phivault")
        return 0
    if len(argv) == 6 and argv[0] == "json":
        write_json(argv[1], load(argv[2]), argv[3].split(), argv[4],
                   argv[5])
        return 0
    print(__doc__.strip().splitlines()[2], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Draws docs/img/gc-*.png: the heap layout, and two figures from the gc benchmark JSON that the
generic report does not draw (pause against live heap size; allocation cost against live objects).

Usage: gc_figures.py [RESULTS_JSON] [IMG_DIR]   (defaults: build/bench-results/gc.json docs/img)
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Rectangle  # noqa: E402


def load(path):
    with open(path) as f:
        text = f.read().strip()
    if not text.endswith("]"):
        text = text.rstrip(",\n") + "\n]"
    return [r for r in json.loads(text) if r.get("record") == "bench"]


def layout(img_dir):
    fig, ax = plt.subplots(figsize=(10, 2.8))
    parts = [  # (start, width, label, colour)
        (0, 34, "vector space\n(Vec blocks: owner back-pointer + bytes;\nholes chained, compacted down)", "#9ecae1"),
        (34, 30, "free gap\n(shared by both spaces)", "#f0f0f0"),
        (64, 31, "object space\n(Obj / malloc / free blocks;\nnever moved, swept)", "#fdae6b"),
        (95, 5, "mark\nstack", "#bcbddc"),
    ]
    for x, w, label, colour in parts:
        ax.add_patch(Rectangle((x, 0), w, 1, facecolor=colour, edgecolor="black"))
        ax.text(x + w / 2, 0.5, label, ha="center", va="center", fontsize=8)
    for x, name in [(0, "base"), (34, "vec_top"), (64, "obj_low"), (95, "obj_top"), (100, "end")]:
        ax.text(x, -0.18, name, ha="center", va="top", fontsize=8, family="monospace")
    ax.add_patch(FancyArrowPatch((28, 1.15), (40, 1.15), arrowstyle="->", mutation_scale=12))
    ax.text(34, 1.22, "grows up", ha="center", fontsize=8)
    ax.add_patch(FancyArrowPatch((70, 1.15), (58, 1.15), arrowstyle="->", mutation_scale=12))
    ax.text(64, 1.22, "grows down", ha="center", fontsize=8)
    ax.set_xlim(-2, 102)
    ax.set_ylim(-0.45, 1.45)
    ax.axis("off")
    ax.set_title("gc::Heap over one caller-given region (addresses increase to the right)", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(img_dir, "gc-layout.png"), dpi=90)
    plt.close(fig)


def pause_vs_live(records, img_dir):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for bench, style in [("collect_pause_cpu", "-"), ("collect_pause", ":")]:
        for subject, colour in [("ferro::gc::Heap", "tab:blue"), ("Boehm GC", "tab:red")]:
            rs = sorted((r for r in records if r["bench"] == bench and r["subject"] == subject),
                        key=lambda r: r["options"]["live_kib"])
            if not rs:
                continue
            xs = [r["options"]["live_kib"] for r in rs]
            what = "CPU" if bench.endswith("cpu") else "wall"
            ax.plot(xs, [r["p50"] / 1e3 for r in rs], style, marker="o", color=colour, label=f"{subject} p50 ({what})")
            if what == "CPU":
                ax.plot(xs, [r["p99"] / 1e3 for r in rs], style, marker="^", color=colour, alpha=0.5,
                        label=f"{subject} p99 ({what})")
    ax.axhline(1000, color="gray", linestyle="--", linewidth=1)
    ax.text(8.5, 1150, "target for a 64 KiB heap: 1 ms", fontsize=8, color="gray")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("live data, KiB (heap = 2 x live)")
    ax.set_ylabel("collection pause, µs")
    ax.set_title("gc: full collection (mark, sweep, compact) against live heap size")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(img_dir, "gc-pause-vs-live.png"), dpi=90)
    plt.close(fig)


def alloc_vs_live(records, img_dir):
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for subject, colour in [("ferro::gc size classes", "tab:blue"), ("first-fit walk (Monty's)", "tab:red")]:
        rs = sorted((r for r in records if r["bench"] == "object_alloc_vs_live" and r["subject"] == subject),
                    key=lambda r: r["options"]["live_objects"])
        if not rs:
            continue
        xs = [r["options"]["live_objects"] for r in rs]
        ax.plot(xs, [r["p50"] for r in rs], "-o", color=colour, label=f"{subject} p50")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("live objects (with small holes between them)")
    ax.set_ylabel("one object allocation, ns")
    ax.set_title("gc: why size-segregated free lists (object allocation cost against heap population)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(img_dir, "gc-alloc-vs-live.png"), dpi=90)
    plt.close(fig)


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else "build/bench-results/gc.json"
    img_dir = sys.argv[2] if len(sys.argv) > 2 else "docs/img"
    os.makedirs(img_dir, exist_ok=True)
    layout(img_dir)
    records = load(results)
    pause_vs_live(records, img_dir)
    alloc_vs_live(records, img_dir)
    print(f"wrote gc figures to {img_dir}")


if __name__ == "__main__":
    main()

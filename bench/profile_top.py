"""Where the time goes, from a py-spy profile in its raw (collapsed stacks) format: the frames with
the most samples of their own and the most samples beneath them, over the stacks that pass through
a given frame (default: health's batch handler, the hot path).

    make bench-profile       # py-spy (pip install py-spy==0.4.3) on bench.health's workload
    .venv/bin/python -m bench.profile_top bench/results/profiles/health.txt [--within HealthHandler] [--top 10]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def parse(text: str, within: str) -> tuple[list[tuple[list[str], int]], int]:
    """The stacks that pass through `within`, from it down, with their sample counts; and all samples."""
    stacks, total = [], 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        total += int(count)
        frames = stack.split(";")
        at = next((i for i, f in enumerate(frames) if within in f), None)
        if at is not None:
            stacks.append((frames[at:], int(count)))  # from `within` down: the frames above are the loop's
    return stacks, total


def top(stacks: list[tuple[list[str], int]], n: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    own: Counter[str] = Counter()
    beneath: Counter[str] = Counter()
    for frames, count in stacks:
        own[frames[-1]] += count
        for frame in set(frames):
            beneath[frame] += count
    return own.most_common(n), beneath.most_common(n)


def report(path: Path, *, within: str, n: int) -> str:
    stacks, total = parse(path.read_text(), within)
    hot = sum(c for _, c in stacks)
    own, beneath = top(stacks, n)
    lines = [f"{path.name}: {total} samples, {hot} ({100 * hot / max(total, 1):.0f} %) through {within!r}", "",
             "| own samples | % of hot path | frame |", "| --- | --- | --- |"]
    lines += [f"| {c} | {100 * c / max(hot, 1):.1f} | `{f}` |" for f, c in own]
    lines += ["", "| samples beneath | % of hot path | frame |", "| --- | --- | --- |"]
    lines += [f"| {c} | {100 * c / max(hot, 1):.1f} | `{f}` |" for f, c in beneath]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("profile", type=Path)
    p.add_argument("--within", default="HealthHandler.__call__")
    p.add_argument("--top", type=int, default=10)
    args = p.parse_args()
    text = report(args.profile, within=args.within, n=args.top)
    args.profile.with_name(f"{args.profile.stem}.{args.within.replace('.', '_')}.top.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

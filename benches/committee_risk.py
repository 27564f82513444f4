#!/usr/bin/env python3
"""Exact committee-risk arithmetic behind docs/committees.md.

A committee of C members is a BFT group tolerating f_C = floor((C - 1) / 3) faulty members.
Drawn uniformly without replacement from N members of which F are faulty, it is unsafe when it
holds more than f_C faulty ones:

    p(N, F, C) = sum_{k > f_C} comb(F, k) * comb(N - F, C - k) / comb(N, C)

p is computed exactly (fractions.Fraction); the yearly figure 1 - (1 - p)^draws is computed
from the exact p with 60-digit decimal arithmetic. Standard library only.

Run from the repository root:  python3 benches/committee_risk.py
"""

from decimal import Decimal, getcontext
from fractions import Fraction
from math import comb

getcontext().prec = 60

SHARDS_PER_EPOCH = 4
EPOCH_MINUTES = 10
EPOCHS_PER_YEAR = 365 * 24 * 60 // EPOCH_MINUTES  # 52,560
DRAWS_PER_YEAR = SHARDS_PER_EPOCH * EPOCHS_PER_YEAR  # 210,240
TARGET = Fraction(1, 10**6)

N_MAIN = 100
C_VALUES = [4, 10, 22, 34, 67, 100]
F_VALUES = [1, 5, 10, 20, 33]


def tolerated(c):
    """f_C: the faulty members a committee of c tolerates."""
    return (c - 1) // 3


def p_unsafe(n, f, c):
    """Exact probability that a uniform c-subset of n members holds more than f_C of the f faulty."""
    if not (0 <= f <= n and 1 <= c <= n):
        raise ValueError(f"need 0 <= F <= N and 1 <= C <= N, got N={n} F={f} C={c}")
    bad = sum(comb(f, k) * comb(n - f, c - k) for k in range(tolerated(c) + 1, min(c, f) + 1))
    return Fraction(bad, comb(n, c))


def over_draws(p, draws):
    """1 - (1 - p)^draws: at least one unsafe committee in `draws` independent draws."""
    if p == 0 or p == 1:
        return p
    q = Decimal(p.numerator) / Decimal(p.denominator)
    return 1 - (1 - q) ** draws


def fmt_year(p, draws):
    """over_draws(p, draws), formatted. Near 1 it shows the complement (1 - p)^draws, which the
    subtraction would round away: "1 − x", or "≈ 1" when x < 1e-6."""
    if p == 0 or p == 1:
        return fmt(p)
    q = Decimal(p.numerator) / Decimal(p.denominator)
    none_unsafe = (1 - q) ** draws
    if none_unsafe < Decimal("1e-6"):
        return "≈ 1"
    if none_unsafe < Decimal("0.001"):
        return f"1 − {none_unsafe:.1E}"
    return fmt(1 - none_unsafe)


def fmt(x):
    """Exact zero/one stay exact; anything else to 3 significant digits."""
    if x == 0:
        return "0"
    if x == 1:
        return "1"
    d = Decimal(x.numerator) / Decimal(x.denominator) if isinstance(x, Fraction) else x
    if d >= Decimal("0.001"):
        return f"{d:.3g}"
    return f"{d:.2E}"


def fraction_text(p):
    return "0" if p == 0 else ("1" if p == 1 else f"{p.numerator}/{p.denominator}")


def largest_f(n, c, limit, draws=1):
    """Largest F with 1 - (1 - p(n, F, c))^draws <= limit for every F' <= F (p grows with F)."""
    best = None
    for f in range(n + 1):
        if over_draws(p_unsafe(n, f, c), draws) > limit:
            break
        best = f
    return best


def main():
    print(f"# N = {N_MAIN}: probability that one committee draw is unsafe")
    print()
    print("| C | f_C | " + " | ".join(f"F = {f}" for f in F_VALUES) + " |")
    print("|---|---|" + "---|" * len(F_VALUES))
    for c in C_VALUES:
        row = [fmt(p_unsafe(N_MAIN, f, c)) for f in F_VALUES]
        print(f"| {c} | {tolerated(c)} | " + " | ".join(row) + " |")
    print()
    print(
        f"# N = {N_MAIN}: probability of at least one unsafe committee in a year "
        f"({SHARDS_PER_EPOCH} shards x {EPOCHS_PER_YEAR:,} epochs = {DRAWS_PER_YEAR:,} draws, "
        "independent)"
    )
    print()
    print("| C | " + " | ".join(f"F = {f}" for f in F_VALUES) + " |")
    print("|---|" + "---|" * len(F_VALUES))
    for c in C_VALUES:
        row = [fmt_year(p_unsafe(N_MAIN, f, c), DRAWS_PER_YEAR) for f in F_VALUES]
        print(f"| {c} | " + " | ".join(row) + " |")
    print()
    print("# Small test networks, C = 4 (f_C = 1): per draw, exact")
    print()
    print("| N | F | p per draw | exact |")
    print("|---|---|---|---|")
    for n in (4, 8):
        for f in (1, 2):
            p = p_unsafe(n, f, 4)
            print(f"| {n} | {f} | {fmt(p)} | {fraction_text(p)} |")
    print()
    print(f"# N = {N_MAIN}: largest F with p <= 1e-6 per draw")
    print()
    print(
        "| C | f_C | largest F | p at that F | p at F + 1 | that F over a year "
        "| largest F with <= 1e-6 over a year |"
    )
    print("|---|---|---|---|---|---|---|")
    for c in C_VALUES:
        f = largest_f(N_MAIN, c, TARGET)
        p = p_unsafe(N_MAIN, f, c)
        nxt = fmt(p_unsafe(N_MAIN, f + 1, c)) if f < N_MAIN else "-"
        year = fmt_year(p, DRAWS_PER_YEAR)
        f_year = largest_f(N_MAIN, c, TARGET, DRAWS_PER_YEAR)
        print(
            f"| {c} | {tolerated(c)} | {f} ({f / N_MAIN:.0%}) | {fmt(p)} | {nxt} | {year} "
            f"| {f_year} |"
        )


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The detect matrix: every case of matrix.txt at every hardening level.

usage: run_matrix.py [--jobs N] [--measure] [--only REGEX] --preload LIB --bindir DIR TABLE
       run_matrix.py --selftest

TABLE (matrix.txt) has one row per case: "name | off | fast | strict | paranoid | program args".
An outcome is
  undetected   the program runs to its end (exit 0) and prints no "hakmem:" line
  segv         killed by SIGSEGV, no "hakmem:" line (a guard page, a PROT_NONE or unmapped page)
  n/a          the program's set-up cannot be made at this level (exit 2), e.g. a *_mid program
               asking for a medium block at strict, where there is no medium tier
  MESSAGE      killed by SIGABRT after the one line "hakmem: MESSAGE (pointer 0x...)"
  A,B          either (the outcome depends on the address-space layout, e.g. whether the page a
               wild write lands on is mapped); counts as detected only if every alternative is
The program is DIR/detect_<program> (built without hakmem) run with LD_PRELOAD=LIB and
HAKMEM_HARDEN=<level>, through run_detect.check (so the rules are those of every detect test).

Fails (exit 1) if
  (a) an outcome differs from the table, or
  (b) the table is not monotonic: a case detected at a level and undetected at a level above it
      (the levels must be supersets; n/a cells are skipped).
--measure prints the observed table instead of comparing (to fill in a new row); --selftest
checks that (a) and (b) reject what they must, without running anything.
"""
import concurrent.futures
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_detect  # noqa: E402

LEVELS = ("off", "fast", "strict", "paranoid")
RUN_TIMEOUT_S = 60


def parse(text):
    """[(name, {level: outcome}, argv)]; raises ValueError on a malformed row."""
    rows, seen = [], set()
    for no, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split("|")]
        if len(cells) != 6 or not all(cells):
            raise ValueError("line %d: want 'name | off | fast | strict | paranoid | program args'" % no)
        name = cells[0]
        if name in seen:
            raise ValueError("line %d: case %s twice" % (no, name))
        seen.add(name)
        rows.append((name, dict(zip(LEVELS, cells[1:5])), shlex.split(cells[5])))
    return rows


def detected(outcome):
    return all(o not in ("undetected", "n/a") for o in outcome.split(","))


def monotonic_errors(rows):
    errs = []
    for name, want, _ in rows:
        for i, lo in enumerate(LEVELS):
            if not detected(want[lo]):
                continue
            for hi in LEVELS[i + 1:]:
                if "undetected" in want[hi].split(","):
                    errs.append("%s: detected at %s (%s) but undetected at %s" % (name, lo, want[lo], hi))
    return errs


def expect_of(outcome):
    """The run_detect EXPECT for a table outcome (n/a is handled here)."""
    if outcome == "undetected":
        return "ok"
    if outcome == "segv":
        return "segv"
    return "abort:" + outcome


def classify(rc, stderr):
    """The table outcome a run had (for --measure and for messages)."""
    lines = stderr.splitlines()
    if rc == 2 and any(l.startswith("detect: set-up failed") for l in lines):
        return "n/a"
    for outcome in ("undetected", "segv"):
        if run_detect.check(expect_of(outcome), rc, stderr) is None:
            return outcome
    hak = [l for l in lines if l.startswith("hakmem:")]
    m = run_detect.REPORT.fullmatch(hak[0]) if len(hak) == 1 else None
    if m and run_detect.check("abort:" + m.group(1), rc, stderr) is None:
        return m.group(1)
    return "?(%s%s)" % (run_detect.describe(rc), "; " + hak[0] if hak else "")


def run_one(lib, bindir, argv, level):
    prog = os.path.join(bindir, "detect_" + argv[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAKMEM_") and k != "LD_PRELOAD"}
    env.update(LC_ALL="C", HAKMEM_HARDEN=level, LD_PRELOAD=lib)
    try:
        r = subprocess.run([prog] + argv[1:], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=RUN_TIMEOUT_S, preexec_fn=run_detect.no_core)
    except subprocess.TimeoutExpired:
        return None, "no end after %d s" % RUN_TIMEOUT_S
    return r.returncode, r.stderr.decode("utf-8", "replace")


def verdict(want, rc, stderr):
    """None if the run matches the table's outcome `want`, else why not."""
    if rc is None:
        return stderr
    whys = []
    for alt in want.split(","):
        if alt == "n/a":
            got = classify(rc, stderr)
            why = None if got == "n/a" else "expected n/a (set-up failed, exit 2), got %s" % got
        else:
            why = run_detect.check(expect_of(alt), rc, stderr)
        if why is None:
            return None
        whys.append(why)
    return "%s (observed: %s)" % ("; or ".join(whys), classify(rc, stderr))


def selftest():
    good = parse("a | undetected | double free | double free | segv | p\n"
                 "b | n/a | undetected | n/a | segv | p\n"
                 "d | undetected | undetected,segv | segv | segv | p\n")
    bad = parse("c | undetected | corrupted free list | write after free | undetected | p\n"
                "e | undetected | segv | segv | undetected,segv | p\n")
    fails = []
    if monotonic_errors(good):
        fails.append("a monotonic table was rejected: %s" % monotonic_errors(good))
    if len(monotonic_errors(bad)) != 4:   # fast -> paranoid and strict -> paranoid, twice
        fails.append("detected at fast and strict, undetected at paranoid: %s" % monotonic_errors(bad))
    abrt, segv = -6, -11
    line = "hakmem: double free (pointer 0x1234)\n"
    for want, rc, err, ok in [("double free", abrt, line, True), ("write after free", abrt, line, False),
                              ("undetected", 0, "detect: survived\n", True), ("undetected", abrt, line, False),
                              ("double free", 0, "detect: survived\n", False), ("segv", segv, "", True),
                              ("segv", 0, "detect: survived\n", False), ("n/a", 2, "detect: set-up failed: x\n", True),
                              ("n/a", 0, "detect: survived\n", False), ("undetected,segv", segv, "", True),
                              ("undetected,segv", 0, "detect: survived\n", True),
                              ("undetected,segv", abrt, line, False)]:
        if (verdict(want, rc, err) is None) != ok:
            fails.append("verdict(%r, %d, %r) should be %s" % (want, rc, err, "a pass" if ok else "a fail"))
    for f in fails:
        print("FAIL: selftest: " + f)
    print("selftest: %s" % ("FAIL" if fails else "PASS"))
    return 1 if fails else 0


def main(argv):
    jobs, measure, only, lib, bindir, args = os.cpu_count() or 2, False, None, None, None, list(argv)
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--selftest":
            return selftest()
        if opt == "--measure":
            measure = True
        elif opt == "--jobs" and args:
            jobs = int(args.pop(0))
        elif opt == "--only" and args:
            only = re.compile(args.pop(0))
        elif opt == "--preload" and args:
            lib = os.path.abspath(args.pop(0))
        elif opt == "--bindir" and args:
            bindir = args.pop(0)
        else:
            print(__doc__, file=sys.stderr)
            return 1
    if len(args) != 1 or lib is None or bindir is None:
        print(__doc__, file=sys.stderr)
        return 1
    if not os.path.isfile(lib):
        print("FAIL: no library at %s" % lib)
        return 1
    with open(args[0]) as f:
        rows = parse(f.read())
    if only:
        rows = [r for r in rows if only.search(r[0])]
    failures = []
    for e in monotonic_errors(rows):
        failures.append("NOT MONOTONIC: " + e)
    work = [(name, want, argv_, level) for name, want, argv_ in rows for level in LEVELS]
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        results = list(ex.map(lambda w: run_one(lib, bindir, w[2], w[3]), work))
    observed = {}
    counts = {l: 0 for l in LEVELS}
    for (name, want, argv_, level), (rc, err) in zip(work, results):
        got = classify(rc, err) if rc is not None else "?(timeout)"
        observed.setdefault(name, {})[level] = got
        if detected(got):
            counts[level] += 1
        why = verdict(want[level], rc, err)
        if why and not measure:
            failures.append("%s at %s: table says %r: %s" % (name, level, want[level], why))
    if measure:
        for name, _, argv_ in rows:
            print(" | ".join([name] + [observed[name][l] for l in LEVELS] + [" ".join(argv_)]))
    table = {l: sum(1 for _, want, _ in rows if detected(want[l])) for l in LEVELS}
    print("matrix: %d cases x %d levels = %d runs; detected per level, by the table: %s; in this run: %s" %
          (len(rows), len(LEVELS), len(work), ", ".join("%s %d" % (l, table[l]) for l in LEVELS),
           ", ".join("%s %d" % (l, counts[l]) for l in LEVELS)))
    for f in failures:
        print("FAIL: " + f)
    if measure:
        return 0
    print("FAIL (%d)" % len(failures) if failures else "PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

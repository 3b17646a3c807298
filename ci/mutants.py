#!/usr/bin/env python3
"""ci/mutants.py — hakmem's planted-bug harness (run it through ci/mutants.sh).

Each mutant of ci/mutants.txt is one realistic bug: an exact piece of text of one file and what
it becomes. Per preset the harness keeps one scratch copy of the tree (build/mutants/<preset>/tree,
the tracked and untracked-not-ignored files, synchronised by content so ninja rebuilds only what
changed), configures and builds it once, runs the union of the selected mutants' tests on the
clean copy (the baseline: a test that already fails there would count every mutant as caught),
then per mutant: writes the mutated file, rebuilds incrementally, runs `ctest -R <tests>` until
the first failure, and writes the original back.

Verdicts:
  caught       the build passed and a selected test failed (or timed out)
  build-error  the mutant did not compile: counted as caught, listed apart (an unrealistic bug)
  missed       every selected test passed (with the list's note, where it explains a known miss)
  equivalent   every selected test passed and the list argues the bug cannot be observed
  stale        the original text does not occur exactly once in the file (never silently skipped)
  no-tests     the tests regex selects no test
A mutant marked equivalent that the suite catches is reported caught, with a note: its argument
is wrong.

Score = (caught + build-error) / (caught + build-error + missed). Exit status: 1 if any selected
mutant is stale or no-tests, or listed equivalent and caught, if a baseline fails, or in --sample
mode if any mutant is not caught; 1 in a full run whose score is below --min-score (95).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIELDS = {"preset", "file", "tests", "sample", "equivalent", "note", "desc", "old", "new"}


def parse(path):
    """Records: '[id]' then 'key = value' lines; old/new may repeat (joined with newlines)."""
    muts, cur, order = [], None, []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = re.match(r"^\[([A-Za-z0-9_.-]+)\]$", line)
            if m:
                cur = {"id": m.group(1), "line": n, "old": [], "new": []}
                muts.append(cur)
                continue
            m = re.match(r"^([a-z]+) =(?: (.*))?$", line)
            if not m or cur is None or m.group(1) not in FIELDS:
                sys.exit(f"{path}:{n}: not a record line: {line!r}")
            k, v = m.group(1), m.group(2) or ""
            if k in ("old", "new"):
                cur[k].append(v)
            elif k in cur:
                sys.exit(f"{path}:{n}: {k} given twice in [{cur['id']}]")
            else:
                cur[k] = v
    ids = set()
    for m in muts:
        for k in ("preset", "file", "tests", "desc"):
            if k not in m:
                sys.exit(f"{path}:{m['line']}: [{m['id']}] has no {k}")
        if not m["old"]:
            sys.exit(f"{path}:{m['line']}: [{m['id']}] has no old text")
        if m["id"] in ids:
            sys.exit(f"{path}:{m['line']}: duplicate id {m['id']}")
        ids.add(m["id"])
        m["old"] = "\n".join(m["old"])
        m["new"] = "\n".join(m["new"])
        m["sample"] = m.get("sample", "no") == "yes"
    return muts


def tree_files():
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                         check=True, capture_output=True).stdout
    return [p for p in out.decode().split("\0") if p]


def sync(tree):
    """Copy every file of the working tree whose content differs (a fresh mtime: ninja rebuilds
    exactly those), so a mutant left behind by an interrupted run is undone too."""
    copied = 0
    for rel in tree_files():
        src, dst = os.path.join(ROOT, rel), os.path.join(tree, rel)
        if not os.path.lexists(src):
            continue   # deleted in the working tree, not yet in the index
        if os.path.islink(src):
            if os.path.islink(dst) and os.readlink(dst) == os.readlink(src):
                continue
            if os.path.lexists(dst):
                os.remove(dst)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.symlink(os.readlink(src), dst)
            continue
        with open(src, "rb") as f:
            data = f.read()
        try:
            with open(dst, "rb") as f:
                if f.read() == data:
                    continue
        except OSError:
            pass
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as f:
            f.write(data)
        shutil.copymode(src, dst)
        copied += 1
    return copied


def run(cmd, log, cwd, timeout):
    with open(log, "ab") as f:
        f.write(("$ " + " ".join(cmd) + "\n").encode())
        f.flush()
        try:
            return subprocess.run(["nice"] + cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT,
                                  timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            f.write(b"\n[harness] timed out\n")
            return 124


def ctest(build, regex, log, cwd, args):
    cmd = ["ctest", "--test-dir", build, "-LE", "long", "-j", str(args.jobs), "--timeout",
           str(args.test_timeout), "--stop-on-failure", "--output-on-failure"]
    if regex != "all":
        cmd += ["-R", regex]
    start = os.path.getsize(log) if os.path.exists(log) else 0
    rc = run(cmd, log, cwd, args.mutant_timeout)
    with open(log, "rb") as f:
        f.seek(start)
        tail = f.read().decode(errors="replace")
    if "No tests were found" in tail:
        return "no-tests"
    return "pass" if rc == 0 else "fail"


def ninja_targets(build):
    out = subprocess.run(["ninja", "-C", build, "-t", "targets", "all"], capture_output=True,
                         text=True, check=True).stdout
    return dict(line.rsplit(": ", 1) for line in out.splitlines() if ": " in line)   # path: rule


def test_words(build):
    """Per test, the words of its add_test and set_tests_properties lines in the CTestTestfiles:
    they name its programs before they are built (ctest's own listing leaves the command out
    while the program does not exist)."""
    words = {}
    line_re = re.compile(r"^(?:add_test|set_tests_properties)\(\[=\[(.+?)\]=\] (.*)\)$")
    for d, _, files in os.walk(build):
        if "CTestTestfile.cmake" in files:
            with open(os.path.join(d, "CTestTestfile.cmake"), encoding="utf-8") as f:
                for line in f:
                    m = line_re.match(line.strip())
                    if m:
                        words.setdefault(m.group(1), []).extend(re.split(r'[\s"=;:,]+', m.group(2)))
    return words


def select(build, regex, targets, words):
    """The tests `regex` selects and the ninja outputs they name (programs, arguments,
    environment): building those alone relinks a few programs per mutant instead of every one
    (None: build everything)."""
    cmd = ["ctest", "--test-dir", build, "-LE", "long", "--show-only=json-v1"]
    if regex != "all":
        cmd += ["-R", regex]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    if "RegularExpression" in r.stderr:
        sys.exit(f"mutants: ctest cannot compile the regex {regex!r}: {r.stderr.strip()}")
    names = [t["name"] for t in json.loads(r.stdout).get("tests", [])]
    want = set()
    for n in names:
        for tok in words.get(n, []):
            if tok.startswith(build + "/"):
                rel = os.path.relpath(tok, build)
                if rel in targets:
                    want.add(rel)
                elif os.path.isdir(tok):   # a test given a directory of programs (--bindir)
                    want |= {t for t, rule in targets.items() if os.path.dirname(t) == rel and
                             "EXECUTABLE_LINKER" in rule}
    return names, (sorted(want) or None)


def names_regex(names):
    """One ctest regex for exactly these tests (CMake's regex engine allows 9 groups: one here)."""
    return "^(" + "|".join(re.escape(n) for n in sorted(set(names))) + ")$"


def build_cmd(build, want, jobs):
    return ["ninja", "-C", build, "-j", str(jobs)] + (want or [])


def first_failure(log):
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return ""
    for name, status in re.findall(r"Test +#\d+: (\S+) \.*(.*?) +[0-9.]+ sec", text):
        if "Passed" not in status:
            return f"{name} ({status.strip('* ')})"
    m = re.search(r"\d+% tests passed, \d+ tests failed.*?\n((?:\s+\d+ - .*\n)+)", text)
    return m.group(1).split("\n")[0].strip() if m else ""


def main():
    ap = argparse.ArgumentParser(description="planted-bug harness (ci/mutants.txt)")
    ap.add_argument("ids", nargs="*", help="run only these mutant ids")
    ap.add_argument("--sample", action="store_true", help="only the mutants marked sample = yes")
    ap.add_argument("--check", action="store_true", help="check that no mutant is stale; run nothing")
    ap.add_argument("--list", default=os.path.join(ROOT, "ci", "mutants.txt"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--test-timeout", type=int, default=120, help="seconds per test")
    ap.add_argument("--mutant-timeout", type=int, default=1200, help="seconds per build or ctest run")
    ap.add_argument("--min-score", type=float, default=95.0)
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "mutants"))
    args = ap.parse_args()
    args.out = os.path.abspath(args.out)

    muts = parse(args.list)
    known = {m["id"] for m in muts}
    for i in args.ids:
        if i not in known:
            sys.exit(f"mutants: no mutant {i}")
    sel = [m for m in muts if (not args.ids or m["id"] in args.ids) and (not args.sample or m["sample"])]
    results = {}
    for m in sel:   # staleness against the real tree: exactly one occurrence
        with open(os.path.join(ROOT, m["file"]), encoding="utf-8") as f:
            n = f.read().count(m["old"])
        if n != 1:
            results[m["id"]] = ("stale", 0.0, f"original text occurs {n} times in {m['file']}")
        elif m["old"] == m["new"]:
            results[m["id"]] = ("stale", 0.0, "replacement equals the original")
    if args.check:
        for i, r in results.items():
            print(f"{i}: {r[0]}: {r[2]}")
        print(f"mutants: {len(sel)} checked, {len(results)} stale")
        return 1 if results else 0

    os.makedirs(args.out, exist_ok=True)
    logs = os.path.join(args.out, "logs")
    os.makedirs(logs, exist_ok=True)
    baseline_ok = True
    t_all = time.time()
    for preset in dict.fromkeys(m["preset"] for m in sel):
        todo = [m for m in sel if m["preset"] == preset and m["id"] not in results]
        if not todo:
            continue
        tree = os.path.join(args.out, preset, "tree")
        build = os.path.join(tree, "build", preset)
        plog = os.path.join(logs, f"{preset}-baseline.log")
        if os.path.exists(plog):
            os.remove(plog)
        t0 = time.time()
        os.makedirs(tree, exist_ok=True)
        print(f"=== {preset}: {sync(tree)} files synchronised into {tree}", flush=True)
        if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
            if run(["cmake", "--preset", preset], plog, tree, args.mutant_timeout) != 0:
                sys.exit(f"mutants: configuring {preset} failed (log {plog})")
        if run(["ninja", "-C", build, "-j", str(args.jobs), "build.ninja"], plog, tree, args.mutant_timeout) != 0:
            sys.exit(f"mutants: regenerating the {preset} build failed (log {plog})")
        targets, words = ninja_targets(build), test_words(build)
        names, want = [], set()
        for m in todo:
            n, w = select(build, m["tests"], targets, words)
            names += n
            want = None if want is None or w is None else want | set(w)
        union = names_regex(names) if names else "^$"
        union_want = sorted(want) if want else None
        if run(build_cmd(build, union_want, args.jobs), plog, tree, args.mutant_timeout) != 0:
            sys.exit(f"mutants: the clean {preset} build failed (log {plog})")
        base = ctest(build, union, plog, tree, args)
        print(f"=== {preset}: clean build and baseline {base} ({time.time() - t0:.0f} s)", flush=True)
        if base != "pass":
            print(f"mutants: the baseline of {preset} is {base}: first failure "
                  f"{first_failure(plog) or '?'} (log {plog}); its mutants are not run")
            baseline_ok = False
            for m in todo:
                results[m["id"]] = ("not-run", 0.0, f"baseline of {preset} {base}")
            continue
        for m in todo:
            path = os.path.join(tree, m["file"])
            with open(path, encoding="utf-8") as f:
                orig = f.read()
            log = os.path.join(logs, f"{m['id']}.log")
            if os.path.exists(log):
                os.remove(log)
            t1 = time.time()
            try:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(orig.replace(m["old"], m["new"], 1))
                want = select(build, m["tests"], targets, words)[1]
                if run(build_cmd(build, want, args.jobs), log, tree, args.mutant_timeout) != 0:
                    verdict, why = "build-error", "does not compile"
                else:
                    r = ctest(build, m["tests"], log, tree, args)
                    if r == "no-tests":
                        verdict, why = "no-tests", f"'{m['tests']}' selects no test"
                    elif r == "fail":
                        verdict, why = "caught", first_failure(log)
                        if "equivalent" in m:
                            why += "; NOTE: listed as equivalent, the argument is wrong"
                    elif "equivalent" in m:
                        verdict, why = "equivalent", m["equivalent"]
                    else:
                        verdict, why = "missed", "every selected test passed"
                        if "note" in m:
                            why += "; " + m["note"]
            finally:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(orig)   # a fresh mtime: the next build recompiles it
            dt = time.time() - t1
            results[m["id"]] = (verdict, dt, why)
            print(f"{m['id']:<34} {verdict:<11} {dt:5.0f} s  {why}", flush=True)
        run(build_cmd(build, union_want, args.jobs), plog, tree, args.mutant_timeout)

    return report(sel, results, args, baseline_ok, time.time() - t_all)


def report(sel, results, args, baseline_ok, seconds):
    count = {}
    for v, _, _ in results.values():
        count[v] = count.get(v, 0) + 1
    caught = count.get("caught", 0) + count.get("build-error", 0)
    equiv = count.get("equivalent", 0)
    missed = count.get("missed", 0)
    scored = caught + missed
    score = 100.0 * caught / scored if scored else 100.0
    lines = ["# Planted-bug run (ci/mutants.sh)", "",
             f"{len(sel)} mutants selected{' (sample)' if args.sample else ''}; "
             f"caught {count.get('caught', 0)}, build-error {count.get('build-error', 0)}, "
             f"missed {missed}, equivalent {equiv}, stale {count.get('stale', 0)}, "
             f"no-tests {count.get('no-tests', 0)}, not run {count.get('not-run', 0)}; "
             f"score {score:.1f} % (caught / (caught + missed)); {seconds:.0f} s.", "",
             "| id | preset | file | verdict | s | why / first failing test | bug |",
             "|---|---|---|---|---|---|---|"]
    for m in sel:
        v, dt, why = results.get(m["id"], ("not-run", 0.0, ""))
        lines.append(f"| {m['id']} | {m['preset']} | {m['file']} | {v} | {dt:.0f} | "
                     f"{why.replace('|', '/')} | {m['desc'].replace('|', '/')} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "sample.md" if args.sample else "report.md"), "w") as f:
        f.write(text)
    print(lines[2])
    bad = [i for i, r in results.items() if r[0] in ("stale", "no-tests") or "argument is wrong" in r[2]]
    for i in bad:
        print(f"mutants: {i} is {results[i][0]}: {results[i][2]}")
    if bad or not baseline_ok:
        return 1
    if args.sample:
        not_caught = [i for i, r in results.items() if r[0] not in ("caught",)]
        for i in not_caught:
            print(f"mutants: sample mutant {i} is {results[i][0]}")
        return 1 if not_caught else 0
    if not args.ids and score < args.min_score:
        print(f"mutants: score {score:.1f} % is below {args.min_score} %")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Runs one tests/detect program and checks how it died.

usage: run_detect.py [--preload LIB] [--env NAME=VALUE]... EXPECT PROGRAM

EXPECT is one of
  abort:MESSAGE   killed by SIGABRT; stderr has exactly one line starting "hakmem:", and it is
                  "hakmem: MESSAGE (pointer 0x<hex>)"; if the program announced
                  "detect: expect pointer 0x..." the reported pointer is that one
  segv            killed by SIGSEGV (a guard page or an unmapped block); no "hakmem:" line
  ok              exits 0 and prints no "hakmem:" line (the misuse is not checked at this level)
  warn:S1,S2,...  exits 0 and prints exactly one "hakmem:" line, containing every S

The program runs with every HAKMEM_* variable and LD_PRELOAD removed from the environment, then
the --env values and, with --preload, LD_PRELOAD=LIB. Exit status: 0 pass, 1 fail.
"""
import os
import re
import resource
import signal
import subprocess
import sys

REPORT = re.compile(r"hakmem: (.*) \(pointer (0x[0-9a-f]+)\)")
ANNOUNCE = re.compile(r"detect: expect pointer (0x[0-9a-f]+|\(nil\))")
TIMEOUT_S = 60


def describe(rc):
    if rc < 0:
        try:
            return "killed by " + signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit status %d" % rc


def no_core():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))   # SIGABRT and SIGSEGV are the expected end


def check(expect, rc, stderr):
    """Returns None when the run matches `expect`, else why not."""
    lines = stderr.splitlines()
    hak = [l for l in lines if l.startswith("hakmem:")]
    if rc == 2 and any(l.startswith("detect: set-up failed") for l in lines):
        return "the program's set-up failed (not a detection result)"
    if rc == 0 and expect not in ("ok",) and not expect.startswith("warn:"):
        if any(l == "detect: survived" for l in lines):
            return "NOT DETECTED: the program ran past the misuse to the end"
    if expect == "segv":
        if rc != -signal.SIGSEGV:
            return "expected SIGSEGV, got " + describe(rc)
        if hak:
            return "expected no hakmem line, got %r" % hak[0]
        return None
    if expect == "ok":
        if rc != 0:
            return "expected exit 0 (misuse not checked at this level), got " + describe(rc)
        if hak:
            return "expected no hakmem line, got %r" % hak[0]
        return None
    if expect.startswith("warn:"):
        if rc != 0:
            return "expected exit 0 after a warning, got " + describe(rc)
        if len(hak) != 1:
            return "expected exactly one hakmem line, got %d" % len(hak)
        missing = [s for s in expect[5:].split(",") if s not in hak[0]]
        if missing:
            return "the warning %r does not contain %s" % (hak[0], ", ".join(map(repr, missing)))
        return None
    if not expect.startswith("abort:"):
        return "bad EXPECT %r" % expect
    message = expect[6:]
    if rc != -signal.SIGABRT:
        return "expected SIGABRT, got " + describe(rc)
    if len(hak) != 1:
        return "expected exactly one hakmem line, got %d" % len(hak)
    m = REPORT.fullmatch(hak[0])
    if not m:
        return "the line %r is not 'hakmem: <what> (pointer 0x...)'" % hak[0]
    if m.group(1) != message:
        return "expected message %r, got %r" % (message, m.group(1))
    announced = [ANNOUNCE.fullmatch(l) for l in lines]
    announced = [a.group(1) for a in announced if a]
    if announced:
        want = 0 if announced[-1] == "(nil)" else int(announced[-1], 16)
        if int(m.group(2), 16) != want:
            return "the report names pointer %s, the misused pointer is %s" % (m.group(2), announced[-1])
    return None


def main(argv):
    preload, env_add, args = None, [], list(argv)
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--preload" and args:
            preload = os.path.abspath(args.pop(0))
        elif opt == "--env" and args and "=" in args[0]:
            env_add.append(args.pop(0).split("=", 1))
        else:
            print(__doc__, file=sys.stderr)
            return 1
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 1
    expect, program = args
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAKMEM_") and k != "LD_PRELOAD"}
    env["LC_ALL"] = "C"
    for k, v in env_add:
        env[k] = v
    if preload:
        if not os.path.isfile(preload):
            print("FAIL: no library at %s" % preload)
            return 1
        env["LD_PRELOAD"] = preload
    shown = " ".join(["%s=%s" % tuple(kv) for kv in env_add] + (["LD_PRELOAD=" + preload] if preload else [])
                     + [program])
    try:
        r = subprocess.run([program], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT_S, preexec_fn=no_core)
    except subprocess.TimeoutExpired:
        print("FAIL: %s: no end after %d s" % (shown, TIMEOUT_S))
        return 1
    stderr = r.stderr.decode("utf-8", "replace")
    why = check(expect, r.returncode, stderr)
    print("%s: %s; expected %s" % (shown, describe(r.returncode), expect))
    sys.stdout.write("".join("  stderr: %s\n" % l for l in stderr.splitlines()[:20]))
    if why:
        print("FAIL: " + why)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

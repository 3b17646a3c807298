#!/usr/bin/env python3
"""cflite_workflows.py SOURCE_DIR: checks the ClusterFuzzLite workflows and the OSS-Fuzz project
files (ctest cflite_workflows, label cflite). Uses PyYAML (python3-yaml, ci/install-deps.sh)."""
import os
import sys

import yaml

root = sys.argv[1] if len(sys.argv) > 1 else "."
errors = []


def err(msg):
    errors.append(msg)


def load(rel):
    path = os.path.join(root, rel)
    if not os.path.isfile(path):
        err(f"{rel}: missing")
        return None
    with open(path) as f:
        return yaml.safe_load(f)


def steps_using(doc, action):
    for name, job in (doc.get("jobs") or {}).items():
        for step in job.get("steps") or []:
            if str(step.get("uses", "")).startswith(action):
                yield name, job, step


BUILD = "google/clusterfuzzlite/actions/build_fuzzers@v1"
RUN = "google/clusterfuzzlite/actions/run_fuzzers@v1"


def check_workflow(rel, modes, sanitizers, fuzz_seconds=None, schedule=False):
    doc = load(rel)
    if doc is None:
        return
    # PyYAML reads the key "on" as True
    triggers = doc.get("on", doc.get(True)) or {}
    if schedule and not (isinstance(triggers, dict) and triggers.get("schedule")):
        err(f"{rel}: no schedule trigger")
    if not schedule and not (isinstance(triggers, dict) and "pull_request" in triggers):
        err(f"{rel}: no pull_request trigger")
    builds = list(steps_using(doc, BUILD))
    runs = list(steps_using(doc, RUN))
    if not builds:
        err(f"{rel}: no step uses {BUILD}")
    if not runs:
        err(f"{rel}: no step uses {RUN}")
    seen_modes, seen_sans = set(), set()
    for job_name, job, step in runs:
        w = step.get("with") or {}
        seen_modes.add(w.get("mode"))
        if "fuzz-seconds" not in w:
            err(f"{rel}: job {job_name}: run_fuzzers without fuzz-seconds")
        elif fuzz_seconds is not None and int(w["fuzz-seconds"]) != fuzz_seconds:
            err(f"{rel}: job {job_name}: fuzz-seconds {w['fuzz-seconds']}, expected {fuzz_seconds}")
        if "storage-repo" in w and "storage-repo-branch" not in w:
            err(f"{rel}: job {job_name}: storage-repo without storage-repo-branch")
        san = str(w.get("sanitizer", ""))
        if "matrix.sanitizer" in san:
            matrix = ((job.get("strategy") or {}).get("matrix") or {}).get("sanitizer") or []
            seen_sans.update(matrix)
        elif san:
            seen_sans.add(san)
    for m in modes:
        if m not in seen_modes:
            err(f"{rel}: no run_fuzzers step with mode {m} (found {sorted(map(str, seen_modes))})")
    for s in sanitizers:
        if s not in seen_sans:
            err(f"{rel}: sanitizer {s} not in the matrix (found {sorted(seen_sans)})")


check_workflow(".github/workflows/cflite_pr.yml", ["code-change"], ["address", "undefined"], 600)
check_workflow(".github/workflows/cflite_batch.yml", ["batch"], ["address", "undefined"], schedule=True)
check_workflow(".github/workflows/cflite_cron.yml", ["prune", "coverage"], [], schedule=True)

proj = load("oss-fuzz/project.yaml")
if proj is not None:
    for key in ("homepage", "language", "primary_contact", "main_repo"):
        if key not in proj:
            err(f"oss-fuzz/project.yaml: no {key}")
    for s in ("address", "undefined", "memory"):
        if s not in (proj.get("sanitizers") or []):
            err(f"oss-fuzz/project.yaml: sanitizer {s} missing")
    for e in ("libfuzzer", "afl"):
        if e not in (proj.get("fuzzing_engines") or []):
            err(f"oss-fuzz/project.yaml: engine {e} missing")
cfl = load(".clusterfuzzlite/project.yaml")
if cfl is not None and cfl.get("language") != "c":
    err(".clusterfuzzlite/project.yaml: language is not c")
for rel in ("oss-fuzz/Dockerfile", "oss-fuzz/build.sh", ".dockerignore"):
    if not os.path.isfile(os.path.join(root, rel)):
        err(f"{rel}: missing")
with open(os.path.join(root, "oss-fuzz/build.sh")) as f:
    if ".clusterfuzzlite/build.sh" not in f.read():
        err("oss-fuzz/build.sh does not reuse .clusterfuzzlite/build.sh")

for e in errors:
    print("cflite-workflows:", e)
if errors:
    sys.exit(1)
print("cflite-workflows: ok (3 workflows, oss-fuzz/project.yaml, Dockerfile, build.sh)")

#!/bin/bash -eu
# OSS-Fuzz build script: the same contract as ClusterFuzzLite, so it reuses that script.
cd "$SRC/hakmem"
exec bash .clusterfuzzlite/build.sh

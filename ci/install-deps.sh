#!/bin/sh
# Installs what building and testing hakmem needs, from Debian's packages, only if missing.
# Safe to run again; a no-op when everything is there.
set -eu
need=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in gcc g++ make cmake ninja-build clang lld libclang-rt-14-dev llvm-14 valgrind python3 git \
         librapidcheck-dev libgtest-dev afl++ zip unzip python3-yaml \
         libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 binutils strace gnuplot-nox pkgconf; do
  have_pkg "$p" || need="$need $p"
done
if [ -n "$need" ]; then
  echo "install-deps: installing$need"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi

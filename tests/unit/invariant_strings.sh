#!/bin/sh
# usage: invariant_strings.sh LIBRARY HAK_DEBUG
# Level 0 (release): no invariant message may be in the library. Level >= 2: they must be.
lib=$1 level=$2
n=$(strings "$lib" | grep -c -e 'invariant failed' -e 'used + free != capacity' -e 'cache: entry count disagrees')
echo "HAK_DEBUG=$level: $n invariant strings in $lib"
if [ "$level" -eq 0 ]; then [ "$n" -eq 0 ]; else [ "$n" -ge 3 ]; fi

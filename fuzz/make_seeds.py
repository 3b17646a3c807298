#!/usr/bin/env python3
"""Writes the hand-made seeds of corpus/<target>/ (seed-*.bin / seed-*.txt).

The binary targets read ops with the decoder of fuzz/fuzz_helpers.h (fuzz_next_op); the encoders
below mirror it byte for byte. Run from anywhere: python3 fuzz/make_seeds.py [corpus-dir]
Existing seed-* files are rewritten; other files (merged by `make fuzz`, regress/) are untouched.
"""
import os
import struct
import sys

# op kinds (enum fuzz_op_kind)
(MALLOC, CALLOC, REALLOC, REALLOCARRAY, POSIX_MEMALIGN, ALIGNED_ALLOC, MEMALIGN, VALLOC, PVALLOC,
 FREE, FREE_SIZED, FREE_RANGE, BURST, USABLE, PREWARM, EVICT, TRIM, MALLOC_TRIM, SET_LIMITS,
 ADVANCE_CLOCK, FLUSH, STATS, HUGE, XCHG, SWITCH, RACE, RESPAWN) = range(27)

CLASSES = [8, 16, 32, 48, 64, 80, 96, 112, 128]
for b in range(7, 15):
    for k in (5, 6, 7, 8):
        v = (1 << b) * k // 4
        if 128 < v <= 32768 and v not in CLASSES:
            CLASSES.append(v)


def size_cls(cls, delta=0):
    """fd_size: class `cls` size + delta (-2..2)."""
    return bytes([((delta + 2) << 4) | 0, cls])


def size(n):
    """fd_size: exactly n bytes (n <= 4 MiB)."""
    if n < 256:
        return bytes([3, n])
    if n <= 32768 + 64:
        return bytes([4]) + struct.pack('<H', n)
    return bytes([7]) + struct.pack('<I', n)


MID_CLASSES = [(5 + k % 4) << (13 + k // 4) for k in range(16)]   # 40 KiB .. 512 KiB


def size_mid(k, delta=0):
    """fd_size: medium class `k` size + delta (-2..2) (selector bit 3)."""
    return bytes([((delta + 2) << 4) | 8, k])


def page(k, delta=0):
    return bytes([((delta + 2) << 4) | 5, k])


def align(a):
    return bytes([a.bit_length() - 1])


def malloc(slot, sz): return bytes([MALLOC, slot]) + sz
def calloc(slot, n, sz): return bytes([CALLOC, slot, n]) + sz
def realloc(slot, sz): return bytes([REALLOC, slot]) + sz
def reallocarray(slot, n, sz): return bytes([REALLOCARRAY, slot, n]) + sz
def memalign_op(kind, slot, a, sz): return bytes([kind, slot]) + align(a) + sz
def free(slot): return bytes([FREE, slot])
def free_sized(slot): return bytes([FREE_SIZED, slot])
def free_range(slot, n, stride=1): return bytes([FREE_RANGE, slot, n - 1, stride - 1])
def burst(slot, n, sz): return bytes([BURST, slot, n - 1]) + sz
def prewarm(cls, n): return bytes([PREWARM, cls, n])
def limits(count_i, mb_i, ttl_i): return bytes([SET_LIMITS, count_i | (mb_i << 3), ttl_i])
def clock(sec): return bytes([ADVANCE_CLOCK, sec, 0, 0])
def huge(slot, v): return bytes([HUGE, slot, v])
def op(k): return bytes([k])
def xchg(slot, box): return bytes([XCHG, slot, box])
def switch(t): return bytes([SWITCH, t])
def respawn(t): return bytes([RESPAWN, t])
def race(ops_per_thread):  # list (one per thread) of op byte strings, each with the same count
    n = len(ops_per_thread[0])
    return bytes([RACE, n - 1]) + b''.join(b''.join(ops) for ops in ops_per_thread)


def fuzz_ops_seeds():
    s = {}
    # every class edge, -1 / exact / +1, freed with and without the size
    b = b''
    for c in range(len(CLASSES)):
        for i, d in enumerate((-1, 0, 1)):
            b += malloc((3 * c + i) % 256, size_cls(c, d))
    b += op(STATS)
    for i in range(0, 123):
        b += (free_sized if i % 2 else free)(i)
    s['class-edges'] = b
    # realloc across every tier: tiny -> class edges -> large (mremap) -> back
    b = malloc(1, size(1))
    for n in (8, 9, 16, 17, 1024, 1025, 32768, 32769, 65536, 2 << 20, (2 << 20) + 4096, 3 << 20,
              100000, 32768, 100, 0):
        b += realloc(1, size(n))
    b += realloc(2, size(5000)) + reallocarray(2, 7, size(1000)) + free_sized(2) + free(1)
    s['realloc-tiers'] = b
    # aligned families at every alignment, freed with free_aligned_sized where allowed
    b = b''
    for i, a in enumerate((8, 16, 32, 64, 128, 4096, 8192, 32768, 65536, 1 << 21)):
        b += memalign_op(ALIGNED_ALLOC, 10 + i, a, size(a // 2 + 1))
        b += memalign_op(POSIX_MEMALIGN, 30 + i, a, size_cls(i * 3, 1))
        b += memalign_op(MEMALIGN, 50 + i, a, size(3 * i))
    b += bytes([VALLOC, 70]) + size(100) + bytes([PVALLOC, 71]) + size(4097) + bytes([PVALLOC, 72]) + size(0)
    b += bytes([ALIGNED_ALLOC, 73, 250]) + size(16)   # alignment 24: EINVAL
    for i in range(10):
        b += free_sized(10 + i) + free(30 + i) + free(50 + i)
    s['aligned'] = b
    # calloc, overflow and impossible sizes
    b = calloc(0, 0, size(0)) + calloc(1, 40, size(100)) + calloc(2, 3, size(40000)) + calloc(3, 1, size(1 << 20))
    b += malloc(4, size(0)) + b''.join(huge(1, v) for v in range(6)) + free_sized(1) + free_sized(2)
    s['calloc-huge'] = b
    # one full SuperSlab of 32 KiB blocks, then holes, then empty slabs to the cache
    b = burst(0, 64, size_cls(40)) + burst(64, 64, size_cls(40)) + op(STATS)
    b += free_range(0, 64, 2) + op(STATS) + free_range(1, 64, 2) + free_range(64, 64) + op(FLUSH) + op(STATS)
    b += burst(128, 64, size_cls(0)) + free_range(128, 64) + op(TRIM) + op(STATS)
    s['superslab-fill'] = b
    # cache limits, TTL expiry, eviction and prewarm
    b = limits(2, 2, 2) + burst(0, 64, size(30000)) + burst(64, 64, size(20000)) + free_range(0, 64)
    b += free_range(64, 64) + op(FLUSH) + op(STATS) + clock(3) + op(EVICT) + op(STATS)
    b += prewarm(0, 3) + prewarm(7, 2) + prewarm(8, 1) + op(STATS) + clock(120) + op(EVICT)
    b += malloc(5, size(64)) + op(STATS) + limits(0, 0, 0) + op(STATS) + limits(6, 6, 4)
    b += prewarm(3, 2) + op(MALLOC_TRIM) + op(STATS) + free(5)
    s['cache-ttl-prewarm'] = b
    # zero limits: every emptied SuperSlab is unmapped at once
    b = limits(0, 0, 0) + burst(0, 40, size(16384)) + free_range(0, 40) + op(FLUSH) + burst(0, 20, page(3)) + op(TRIM)
    s['limits-zero'] = b
    # page and slab boundaries, large usable sizes
    b = b''
    for k in range(0, 18):
        b += malloc(k, page(k, -1)) + malloc(20 + k, page(k, 1)) + bytes([USABLE, k])
    s['pages'] = b
    # medium tier: every medium class edge -1 / exact / +1 and the small/medium/large borders,
    # freed with and without the size
    b = b''
    for k in range(16):
        for i, d in enumerate((-1, 0, 1)):
            b += malloc(3 * k + i, size_mid(k, d))
    for i, n in enumerate((32768, 32769, 524288, 524289)):
        b += malloc(48 + i, size(n))
    b += op(STATS)
    for i in range(52):
        b += (free_sized if i % 2 else free)(i)
    b += op(STATS) + op(TRIM) + op(STATS)
    s['medium-edges'] = b
    # realloc across small / medium / large: in place inside a medium class (new size in
    # (class/2, class]), out of it both ways, large shrinking back to medium and small
    b = malloc(1, size(100))
    for n in (32768, 32769, 40960, 30000, 20000, 524288, 524289, 300000, 100000, 60000, 57344,
              57343, 524288, 40961, 16, 0):
        b += realloc(1, size(n)) + bytes([USABLE, 1])
    b += realloc(2, size(200000)) + reallocarray(2, 5, size(50000)) + free_sized(2) + free_sized(1)
    b += op(STATS)
    s['medium-realloc'] = b
    # calloc and the aligned families in the medium range (alignment <= 4096: medium; above: large)
    b = calloc(0, 3, size(40000)) + calloc(1, 16, size(30000)) + calloc(2, 2, size(262144))
    b += memalign_op(ALIGNED_ALLOC, 3, 4096, size(100000)) + memalign_op(ALIGNED_ALLOC, 4, 8192, size(100000))
    b += memalign_op(POSIX_MEMALIGN, 5, 64, size(600000)) + memalign_op(POSIX_MEMALIGN, 6, 2048, size(32769))
    b += memalign_op(MEMALIGN, 7, 4096, size(524288)) + bytes([VALLOC, 8]) + size(200000)
    b += bytes([PVALLOC, 9]) + size(40961) + bytes([PVALLOC, 10]) + size(524287) + op(STATS)
    for i in range(11):
        b += (free_sized if i % 2 else free)(i)
    b += op(STATS)
    s['medium-calloc-aligned'] = b
    # fill medium SuperSlabs (4 blocks of 512 KiB, 51 of 40 KiB per 2 MiB), free every other,
    # refill the holes, empty them (each class keeps one SuperSlab), trim; then with zero limits
    b = burst(0, 9, size(524288)) + op(STATS) + free_range(0, 9, 2) + op(STATS) + burst(0, 9, size(500000))
    b += burst(20, 52, size_mid(0)) + burst(80, 60, size_mid(3, 1)) + op(STATS) + free_range(20, 52)
    b += op(STATS) + free_range(0, 9) + free_range(80, 60) + op(FLUSH) + op(STATS) + op(MALLOC_TRIM) + op(STATS)
    b += limits(0, 0, 0) + burst(0, 12, size_mid(15)) + free_range(0, 12) + op(STATS) + op(TRIM) + op(STATS)
    s['medium-fill'] = b
    return s


# FOP_HUGE's fault variants (fz_fault): kind 0 mmap, 1 mremap, 2 madvise, 3 mprotect, 4 getrandom,
# 5 any; the n-th next call fails, and `count` of them: 1, 4 or every one to the end of the input
FAULT_KINDS = ('mmap', 'mremap', 'madvise', 'mprotect', 'getrandom', 'any')


def fault(kind, n=1, count=1):
    c = {1: 0, 4: 0xC0, 'all': 0xFF}[count]
    return bytes([HUGE, 0, 0xF0 + FAULT_KINDS.index(kind), n - 1, c])


def fault_seeds():
    """fuzz_ops inputs that arm injected system-call failures (NULL + ENOMEM accepted)."""
    s = {}
    b = fault('mmap', 1, 'all') + malloc(1, size(64)) + malloc(2, bytes([6, 3])) + realloc(2, bytes([6, 5]))
    b += bytes([BURST, 10, 8, 5, 3]) + bytes([POSIX_MEMALIGN, 3, 0x10, 5, 4]) + bytes([VALLOC, 4, 5, 2])
    b += bytes([PVALLOC, 5, 5, 1]) + bytes([CALLOC, 6, 3, 5, 2]) + op(TRIM) + free(2)
    s['fault-mmap-every'] = b
    s['fault-mremap'] = (malloc(1, bytes([6, 3])) + fault('mremap') + realloc(1, bytes([6, 5])) + op(STATS)
                         + realloc(1, bytes([6, 5])) + free(1))
    s['fault-mprotect-reuse'] = (malloc(1, bytes([6, 3])) + free(1) + fault('mprotect') + malloc(2, bytes([6, 3]))
                                 + op(STATS) + fault('mprotect') + free(2) + op(STATS))
    b = fault('madvise', 1, 'all') + bytes([BURST, 0, 64, 5, 1]) + bytes([FREE_RANGE, 0, 64, 1]) + op(TRIM)
    b += bytes([BURST, 0, 64, 5, 1]) + bytes([CALLOC, 70, 2, 5, 1]) + malloc(100, bytes([6, 3])) + free(100)
    b += bytes([ADVANCE_CLOCK, 130, 0, 0]) + op(EVICT) + bytes([CALLOC, 101, 1, 6, 3]) + op(STATS)
    s['fault-madvise-purge'] = b
    b = fault('any', 3, 4) + malloc(1, size(64)) + malloc(2, bytes([0x0E, 5])) + malloc(3, bytes([6, 3]))
    b += bytes([POSIX_MEMALIGN, 4, 0x10, 5, 4]) + realloc(3, bytes([6, 5])) + prewarm(1, 3) + op(STATS)
    b += fault('any', 1, 'all') + bytes([BURST, 10, 64, 3, 200]) + op(TRIM)
    s['fault-any-window'] = b
    s['fault-strict-zero'] = (level('strict') + fault('mmap', 1, 'all') + malloc(1, size(0)) + malloc(2, size(0))
                              + bytes([ALIGNED_ALLOC, 3, 8, 3, 0]) + malloc(4, bytes([6, 3])) + free(1) + free(4))
    s['fault-prewarm'] = fault('mmap', 3, 4) + prewarm(1, 3) + prewarm(2, 3) + op(STATS) + op(EVICT) + op(TRIM)
    return s


def fork_seeds():
    """fuzz_ops inputs that fork with blocks of every tier live (fz_fork: the child checks them)."""
    b = malloc(1, size(64)) + malloc(2, bytes([6, 3])) + malloc(3, size(0)) + bytes([BURST, 10, 8, 5, 3])
    b += malloc(4, size_mid(2)) + op(STATS) + huge(0, 0xE8) + free(2) + free_range(10, 8)
    b += malloc(5, size(200)) + huge(0, 0xE9) + op(FLUSH) + op(TRIM) + op(STATS)
    return {'fork-%s' % lv: level(lv) + b for lv in LEVELS}


def fuzz_ops_mt_seeds():
    s = {}
    hdr2 = bytes([0, 0])      # 2 threads, nobody frees before exit
    # T0 allocates and hands blocks to T1, which frees them (remote frees); T0 drains on refill
    b = hdr2
    for i in range(8):
        b += malloc(i, size_cls(i * 5)) + xchg(i, i)
    b += switch(1)
    for i in range(8):
        b += xchg(i, i) + (free_sized if i % 2 else free)(i)
    b += switch(0) + burst(16, 32, size_cls(0)) + burst(16, 32, size_cls(5)) + op(STATS) + op(FLUSH)
    s['remote-free'] = b
    # a thread exits with blocks live elsewhere; the new thread and the main thread free them
    b = bytes([1, 0]) + burst(0, 30, size(48)) + xchg(0, 0) + xchg(1, 1) + respawn(0) + free_range(2, 20)
    b += switch(1) + xchg(0, 0) + realloc(0, size(5000)) + switch(2) + burst(0, 10, size(48)) + op(TRIM)
    s['respawn-adopt'] = b
    # races: all threads allocate, exchange and free at once
    b = bytes([2, 0x5])
    for r in range(4):
        per = []
        for t in range(4):
            per.append([malloc(t * 8 + r, size_cls(t + r)), xchg(t * 8 + r, (t + r) % 16),
                        free(t * 8 + ((r + 1) % 8)), malloc(t * 8 + 4, size(70000 + t))])
        b += race(per)
    b += op(STATS)
    s['races'] = b
    # exit with everything live: slabs abandoned; main's frees adopt them
    b = bytes([0, 0]) + burst(0, 64, size_cls(20)) + switch(1) + burst(0, 64, size_cls(20)) + op(FLUSH)
    s['exit-live'] = b
    # control ops from several threads
    b = bytes([1, 0x7]) + limits(1, 1, 1) + prewarm(2, 2) + switch(1) + burst(0, 40, size(20000)) + free_range(0, 40)
    b += op(FLUSH) + clock(10) + switch(2) + op(EVICT) + op(STATS) + op(TRIM)
    s['control'] = b
    # medium blocks freed by another thread (no owner: every thread frees through the class lock),
    # reallocated remotely, and raced for
    b = bytes([1, 0x2])
    for i in range(8):
        b += malloc(i, size_mid(i * 2, (i % 3) - 1)) + xchg(i, i)
    b += burst(8, 10, size(524288)) + xchg(8, 8) + xchg(9, 9) + switch(1)
    for i in range(8):
        b += xchg(i, i) + ((free_sized if i % 2 else free)(i) if i < 6 else realloc(i, size(30000 + i * 100000)))
    b += xchg(8, 8) + free(8) + switch(2) + xchg(9, 9) + realloc(9, size(300000)) + op(STATS)
    for r in range(3):
        per = []
        for t in range(3):
            per.append([malloc(t * 8 + r, size_mid(t * 5 + r)), xchg(t * 8 + r, 10 + t), free(t * 8 + ((r + 1) % 3)),
                        burst(t * 8 + 4, 3, size(40000 * (t + 1)))])
        b += race(per)
    b += op(STATS) + op(TRIM)
    s['medium-remote'] = b
    return s


LEVELS = ('off', 'fast', 'strict', 'paranoid')


def level(name):
    """fz_take_level: the first byte 0xF0 + level runs the input at that hardening level."""
    return bytes([0xF0 + LEVELS.index(name)])


def strict_seeds():
    """fuzz_ops inputs aimed at the strict levels' rules (mitigate.c)."""
    s = {}
    # every class edge -4 .. +1: the 4-byte size trailer pushes a request into the next class
    # (and 32765 .. 32768 into the large tier); usable size, free_sized and realloc of each
    b = b''
    for c in range(len(CLASSES)):
        for i, d in enumerate((-2, -1, 0, 1)):
            b += malloc((4 * c + i) % 256, size(max(CLASSES[c] + d - (2 if d == -2 else 0), 0)))
    for i, n in enumerate((0, 1, 4, 32763, 32764, 32765, 32767, 32768)):
        b += malloc(200 + i, size(n)) + bytes([USABLE, 200 + i])
    b += op(STATS)
    for i in range(0, 4 * len(CLASSES)):
        b += (free_sized if i % 2 else free)(i)
    for i in range(8):
        b += realloc(200 + i, size(32768 - i)) + free_sized(200 + i)
    s['trailer-edges'] = b
    # aligned requests: the class must hold request + trailer at the alignment
    b = b''
    for i, a in enumerate((16, 64, 256, 4096, 16384, 32768)):
        b += memalign_op(ALIGNED_ALLOC, i, a, size(a - 4)) + memalign_op(ALIGNED_ALLOC, 10 + i, a, size(a - 3))
        b += memalign_op(POSIX_MEMALIGN, 20 + i, a, size(a)) + bytes([VALLOC, 30 + i]) + size(4096 * i + 4093)
    for i in range(6):
        b += free_sized(i) + free_sized(10 + i) + free(20 + i) + free(30 + i)
    s['trailer-aligned'] = b
    # quarantine: more frees than its 64 (strict) and 1024 (paranoid) entries, so the oldest go
    # back to their slabs while later ones wait; blocks reused after it, slabs emptied through it
    # (one size, so the blocks the full ring gives back are the ones the next burst reuses)
    b = b''
    for r in range(18):
        b += burst(0, 64, size(100)) + free_range(0, 64)
    for r in range(4):
        b += burst(0, 64, size_cls(r)) + free_range(0, 64)
    b += burst(0, 64, size(100)) + free_range(0, 64, 2) + burst(100, 64, size(100)) + free_range(1, 64, 2)
    b += free_range(100, 64) + op(FLUSH) + op(STATS) + burst(0, 64, size(100)) + op(TRIM) + free_range(0, 64)
    s['quarantine'] = b
    return s


def with_levels(seeds, levels=('off', 'strict', 'paranoid')):
    """Each seed again at each level (the unprefixed one runs at the process's level, fast)."""
    out = dict(seeds)
    for name, data in seeds.items():
        for lv in levels:
            out['%s-%s' % (name, lv)] = level(lv) + data
    return out


def fuzz_env_seeds():
    return {
        'defaults': b'HAKMEM_SUPERSLAB_MAX_CACHED=256\nHAKMEM_SUPERSLAB_MAX_MEMORY_MB=512\nHAKMEM_SUPERSLAB_TTL_SEC=60\n',
        'prewarm': b'HAKMEM_PREWARM_SUPERSLABS=4\nHAKMEM_PREWARM_SUPERSLABS_C0=8\nHAKMEM_PREWARM_SUPERSLABS_C7= 2 \n',
        'bad-values': (b'HAKMEM_SUPERSLAB_MAX_CACHED=-1\nHAKMEM_SUPERSLAB_TTL_SEC=1e3\n'
                       b'HAKMEM_SUPERSLAB_MAX_MEMORY_MB=99999999999999999999999\nHAKMEM_PREWARM_SUPERSLABS=\n'
                       b'HAKMEM_PREWARM_SUPERSLABS_C3=4097\n'),
        'unknown': b'HAKMEM_FOO=1\nHAKMEM_PREWARM_SUPERSLABS_C8=1\nHAKMEM_=\nHAKMEM_X\nPATH=/bin\n',
        'bounds': (b'HAKMEM_SUPERSLAB_MAX_CACHED=1048576\nHAKMEM_SUPERSLAB_MAX_CACHED=1048577\n'
                   b'HAKMEM_SUPERSLAB_TTL_SEC=31536000\nHAKMEM_SUPERSLAB_TTL_SEC=0\n'
                   b'HAKMEM_SUPERSLAB_MAX_MEMORY_MB=\t0002097152\t\n'),
        'named': b'\x00 17\n\x01junk\n\x02\t5\n\x03 4096\n\x04\xff\n\x07 3\n\x0c1\n\x0d2\n',
        'overflow': b'HAKMEM_SUPERSLAB_TTL_SEC=18446744073709551615\nHAKMEM_SUPERSLAB_TTL_SEC=18446744073709551616\n',
    }


def fuzz_classes_seeds():
    s = {}
    # every class edge with every alignment
    b = b''
    for c in range(len(CLASSES)):
        b += bytes([3]) + size_cls(c, 1) + bytes([c % 16, c, 0, 0])
    s['edges'] = b
    b = b''
    for a in range(0, 23):
        b += bytes([2]) + struct.pack('<H', (1 << min(a, 15)) + 1) + bytes([a, a % 41]) + struct.pack('<H', 65535 - a)
    s['alignments'] = b
    s['large'] = bytes([3]) + size(40000) + bytes([12, 40]) + b'\xff\xff' + bytes([3]) + size(1 << 21) + bytes([21, 0, 0, 0])
    # every medium class edge, with alignments up to a page (medium) and above (large)
    b = b''
    for k in range(16):
        for d in (-1, 0, 1):
            b += bytes([3]) + size_mid(k, d) + bytes([(k + d + 1) % 16, k, 0, 0])
    for n in (32768, 32769, 524288, 524289):
        for a in (12, 13):
            b += bytes([3]) + size(n) + bytes([a, 40, 0, 0])
    s['medium'] = b
    return s


def fuzz_classes_strict_seeds():
    """fuzz_classes inputs at the trailer's edges: n = class - 12 (the largest request a class holds at
    strict and paranoid), class - 11 (the next class there), class - 8 and - 7 (the fast level's edges),
    with an alignment of 1 and of 64; 32756 / 32757 (the small tier's last request at strict / the
    large tier). At most 64 triples an input (LLVMFuzzerTestOneInput's loop)."""
    t = []
    for c in CLASSES:
        for d in (-12, -11, -8, -7):
            if c + d >= 0:
                t.append(bytes([3]) + size(c + d) + bytes([0 if d % 2 == 0 else 6, CLASSES.index(c), 0, 0]))
    for n in (32755, 32756, 32757, 32760, 32761):
        t.append(bytes([3]) + size(n) + bytes([4, 40, 0, 0]))
    return {'trailer-edges-%d' % (i // 64): b''.join(t[i:i + 64]) for i in range(0, len(t), 64)}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'corpus')
    ops = with_levels(fuzz_ops_seeds())
    ops.update(with_levels(strict_seeds(), ('strict', 'paranoid')))
    ops.update(fault_seeds())
    ops.update(fork_seeds())
    classes = with_levels(fuzz_classes_seeds())
    classes.update(with_levels(fuzz_classes_strict_seeds()))
    for target, seeds, ext in (('fuzz_ops', ops, 'bin'), ('fuzz_ops_mt', with_levels(fuzz_ops_mt_seeds()), 'bin'),
                               ('fuzz_env', fuzz_env_seeds(), 'txt'),
                               ('fuzz_classes', classes, 'bin')):
        d = os.path.join(root, target)
        os.makedirs(os.path.join(d, 'regress'), exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, 'seed-%s.%s' % (name, ext)), 'wb') as f:
                f.write(data)
        print('%s: %d seeds' % (target, len(seeds)))


if __name__ == '__main__':
    main()

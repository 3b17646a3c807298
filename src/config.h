/* Compile-time knobs and the relations between them. Everything here is a constant; the run-time
 * configuration (environment) lives in config.c. */
#ifndef HM_CONFIG_H
#define HM_CONFIG_H

#ifndef HAK_DEBUG
#define HAK_DEBUG 0          /* 0 release, 1 asserts, 2 invariants, 3 expensive walks */
#endif

#define HM_PAGE_SIZE        4096u
#define HM_SS_SHIFT         21                       /* SuperSlab: 2 MiB, 2 MiB aligned */
#define HM_SS_SIZE          ((size_t)1 << HM_SS_SHIFT)
#define HM_SLAB_SHIFT       16                       /* slab: 64 KiB, one size class at a time */
#define HM_SLAB_SIZE        ((size_t)1 << HM_SLAB_SHIFT)
#define HM_SLABS_PER_SS     (HM_SS_SIZE / HM_SLAB_SIZE)   /* 32 */
#define HM_MIN_BLOCK        8u
#define HM_MAX_BLOCKS       (HM_SLAB_SIZE / HM_MIN_BLOCK) /* 8192 blocks in an 8-byte slab */
#define HM_BITMAP_WORDS     (HM_MAX_BLOCKS / 64)          /* 128: 1 bit per 8-byte granule */
#define HM_SMALL_MAX        32768u                   /* the largest small block */
#define HM_CANARY           8u                       /* a keyed word at the end of every small and medium block */
#define HM_SMALL_REQ_MAX    (HM_SMALL_MAX - HM_CANARY) /* larger requests: the medium tier */
#define HM_MID_MAX          (512u << 10)             /* the largest medium block */
#define HM_MID_REQ_MAX      (HM_MID_MAX - HM_CANARY) /* larger requests: their own mapping */
#define HM_MID_CLASSES      16                       /* 40 KiB .. 512 KiB, four per power of two */
#define HM_CLASSES          41                       /* src/class_table.h */
#define HM_ADDR_BITS        47                       /* user address space the registry covers */

#ifndef HAK_HARDEN_DEFAULT_LEVEL
#define HAK_HARDEN_DEFAULT_LEVEL 1   /* fast; the build option HAK_HARDEN_DEFAULT sets it */
#endif

/* Slow-path tunables. */
#define HM_CARVE_BYTES      4096u   /* a refill carves about a page of fresh blocks */
#define HM_SCAN_SLABS       8u      /* owned slabs scanned for free blocks before claiming one */
#define HM_EVICT_BATCH      16u     /* SuperSlabs unmapped per lock hold */
#define HM_PURGE_BATCH      4u      /* cached mappings decommitted per pool or large-tier call */

/* Run-time configuration defaults and ranges (environment, see config.c). */
#define HM_DEF_MAX_CACHED        256u
#define HM_DEF_MAX_MEMORY_MB     512u
#define HM_DEF_TTL_SEC           60u
#define HM_DEF_PURGE_DELAY_MS    250u          /* 0: size_sweep 4x slower; 250 ~ 1000 */
#define HM_DEF_PURGE_RETAIN_MB   32u           /* churn: 16 held 0.28x glibc, 0.65x speed; 32: 0.71x, 0.88x */
#define HM_MAX_MAX_CACHED        1048576u      /* 2 TiB of SuperSlabs: anything above is absurd */
#define HM_MAX_MAX_MEMORY_MB     (1u << 21)    /* 2 TiB */
#define HM_MAX_TTL_SEC           31536000u     /* a year */
#define HM_MAX_PURGE_DELAY_MS    3600000u      /* an hour: past the TTL's default anyway */
#define HM_MAX_PURGE_RETAIN_MB   (1u << 21)    /* 2 TiB: no bound */
#define HM_MAX_PREWARM_PER_CLASS 4096u         /* 8 GiB of address space per class */

#define HM_STATIC_ASSERT(c) _Static_assert(c, #c)
HM_STATIC_ASSERT(HM_SLABS_PER_SS == 32);
HM_STATIC_ASSERT(HM_SMALL_MAX <= HM_SLAB_SIZE / 2);
HM_STATIC_ASSERT(HM_MAX_BLOCKS % 64 == 0);
HM_STATIC_ASSERT((HM_SS_SIZE & (HM_SS_SIZE - 1)) == 0);
HM_STATIC_ASSERT(HM_SMALL_MAX % 8 == 0);
HM_STATIC_ASSERT(HM_SMALL_MAX == 32768u && HM_MID_MAX == HM_SMALL_MAX << (HM_MID_CLASSES / 4));

#endif

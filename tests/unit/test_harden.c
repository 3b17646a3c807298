/* The hardening levels (harden.c): the mitigation bits and the quarantine length each level turns
 * on, as the README's Hardening table states them, and a level out of range falling back to fast.
 * Nothing is allocated while a level other than the starting one is in force. */
#include "hak_test.h"
#include "internal.h"

int main(void) {
  hm_ensure_init();
  const int start = hm_harden_level;
  static const struct { uint32_t mit, quarantine; } want[4] = {
      {0, 0},
      {HM_MIT_RANDOM, 0},
      {HM_MIT_RANDOM | HM_MIT_CANARY | HM_MIT_ZERO | HM_MIT_QUARANTINE, 64},
      {HM_MIT_RANDOM | HM_MIT_CANARY | HM_MIT_ZERO | HM_MIT_QUARANTINE | HM_MIT_REUSE_CHECK,
       HM_QUARANTINE_MAX},
  };
  for (int level = 0; level < 4; level++) {
    hm_harden_set_level(level);
    int got = hm_harden_level;
    uint32_t mit = hm_mit, quarantine = hm_quarantine_len;
    hm_harden_set_level(start);
    CHECK(got == level && mit == want[level].mit && quarantine == want[level].quarantine,
          "level %d: got level %d, bits %#x (want %#x), quarantine %u (want %u)", level, got, mit,
          want[level].mit, quarantine, want[level].quarantine);
  }
  const int bad[] = {-1, 4, 5, 1000};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    hm_harden_set_level(bad[i]);
    int got = hm_harden_level;
    uint32_t mit = hm_mit, quarantine = hm_quarantine_len;
    hm_harden_set_level(start);
    CHECK(got == 1 && mit == want[1].mit && quarantine == 0,
          "level %d: got level %d, bits %#x, quarantine %u (want fast's)", bad[i], got, mit, quarantine);
  }
  CHECK(hm_harden_level == start);
  printf("harden: ok\n");
  return 0;
}

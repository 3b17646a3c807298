/* The invariant checks bite in debug builds and do not exist in release builds: each planted
 * violation is named by hak_check() when HAK_DEBUG >= 1, and goes unseen at HAK_DEBUG 0, whose
 * hak_debug_level() reports 0. (invariant_strings.sh checks the binary itself.) */
#include "hak_test.h"
#include "internal.h"

static void expect(const char *what, const char *needle) {
#if HAK_DEBUG >= 1
  CHECK(what != NULL && strstr(what, needle) != NULL, "expected '%s', got '%s'", needle, what ? what : "(none)");
#else
  CHECK(what == NULL, "release build reported '%s'", what);
  (void)needle;
#endif
}

int main(void) {
  CHECK(hak_debug_level() == HAK_EXPECTED_DEBUG, "level %d", hak_debug_level());
  void *p = hak_malloc(64);
  CHECK(hak_check() == NULL, "%s", hak_check());
  uintptr_t e = hm_registry_lookup(p);
  hm_superslab *ss = (hm_superslab *)(e - HM_REG_SS);
  hm_slab *s = &ss->slabs[((uintptr_t)p >> HM_SLAB_SHIFT) & 31];

  s->used++;                                   /* slab counts */
  expect(hak_check(), "used count disagrees with the bitmap");
  s->used--;
  CHECK(hak_check() == NULL);

  hm_registry_clear(HM_UNHIDE(ss->base), HM_SS_SIZE);     /* registry consistency */
  expect(hak_check(), "registry");
  hm_registry_set(HM_UNHIDE(ss->base), HM_SS_SIZE, e);
  CHECK(hak_check() == NULL);

  atomic_fetch_add(&hm_prewarm_bypass, 1);     /* bypass flag outside prewarm */
  expect(hak_check(), "bypass flag set outside prewarm");
  atomic_fetch_sub(&hm_prewarm_bypass, 1);

  ss->active++;                                /* pool accounting */
  expect(hak_check(), "active slab count");
  ss->active--;

  uint8_t cls = s->cls;                        /* thread cache holds a slab of another class */
  s->cls = (uint8_t)(cls + 1);
  expect(hak_check(), "thread cache");
  s->cls = cls;

  CHECK(hak_check() == NULL, "%s", hak_check());
  hak_free(p);
  printf("invariants: HAK_DEBUG=%d, planted violations %s\n", hak_debug_level(),
         hak_debug_level() ? "caught" : "unseen (compiled out)");
  return 0;
}

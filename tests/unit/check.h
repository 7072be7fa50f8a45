/* A minimal assertion kit for the unit tests: each failed check prints where
 * and what. A case that cannot run here (it needs a privilege the machine
 * does not give) says so with CHECK_SKIP and is counted as skipped, never as
 * passed. Exit status (check_done): 1 when a check failed; 77 (CTest's
 * SKIP_RETURN_CODE) when every case run through CHECK_RUN was skipped; else 0. */
#ifndef PGEP_CHECK_H
#define PGEP_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_cases;   /* cases run through CHECK_RUN */
static int check_skipped; /* cases that ended in CHECK_SKIP */

/* Runs one case (a void function); counts it for the summary. */
#define CHECK_RUN(test_fn) (check_cases++, (test_fn)())

/* Inside a case: prints "CASE: skipped: REASON" and leaves the case. */
#define CHECK_SKIP(...)                                                                            \
    do {                                                                                           \
        fprintf(stderr, "%s: skipped: ", __func__);                                                \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        check_skipped++;                                                                           \
        return;                                                                                    \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,      \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                       \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_)) {                                                              \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,         \
                    h_ ? h_ : "(null)", n_);                                                       \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

static inline int check_done(const char *name)
{
    if (check_failures) {
        fprintf(stderr, "%s: FAILED (%d failed checks, %d skipped cases)\n", name, check_failures,
                check_skipped);
        return 1;
    }
    if (check_skipped > 0 && check_skipped >= check_cases) {
        fprintf(stderr, "%s: skipped (all %d cases)\n", name, check_skipped);
        return 77;
    }
    if (check_skipped > 0)
        fprintf(stderr, "%s: ok, %d of %d cases skipped\n", name, check_skipped, check_cases);
    else
        fprintf(stderr, "%s: ok\n", name);
    return 0;
}

#endif

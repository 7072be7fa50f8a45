/* words_split, the shell-like splitting of POSTGRES_INITDB_ARGS.
 *
 * Invariants: on success the vector is NULL-terminated, no word is longer
 * than the input, and the words survive a round trip: each word quoted the
 * way a shell would ('...' with '\'' for a quote), joined by spaces and
 * split again, gives the same words. Input without quotes, backslashes or
 * line breaks splits exactly at blanks; only quotes make an empty word (a
 * backslash-newline is removed, as by a shell). On failure there is a
 * reason. */
#include "fuzz.h"
#include "words.h"

#include <stdbool.h>
#include <string.h>

static char *shell_quote_join(const struct words *w)
{
    size_t cap = 1;
    for (size_t i = 0; i < w->n; i++)
        cap += 4 * strlen(w->v[i]) + 3;
    char *out = malloc(cap), *o = out;
    if (!out)
        abort();
    for (size_t i = 0; i < w->n; i++) {
        if (i)
            *o++ = ' ';
        *o++ = '\'';
        for (const char *p = w->v[i]; *p; p++) {
            if (*p == '\'') {
                memcpy(o, "'\\''", 4);
                o += 4;
            } else {
                *o++ = *p;
            }
        }
        *o++ = '\'';
    }
    *o = '\0';
    return out;
}

/* The words of a string that holds no quote, backslash or line break. */
static void check_plain(const char *s, const struct words *w)
{
    size_t i = 0;
    const char *p = s;

    for (;;) {
        p += strspn(p, " \t");
        if (!*p)
            break;
        size_t n = strcspn(p, " \t");
        FUZZ_CHECK(i < w->n && strlen(w->v[i]) == n && memcmp(w->v[i], p, n) == 0,
                   "plain word %zu of \"%s\"", i, s);
        i++;
        p += n;
    }
    FUZZ_CHECK(i == w->n, "\"%s\" has %zu plain words, split gave %zu", s, i, w->n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size), err[64];
    struct words w, again;

    err[0] = '\0';
    if (words_split(s, &w, err, sizeof(err)) < 0) {
        FUZZ_CHECK(err[0], "a failure without a reason for \"%s\"", s);
        FUZZ_CHECK(w.n == 0 && w.v == NULL, "a failed split leaves words");
        free(s);
        return 0;
    }
    FUZZ_CHECK(w.n == 0 || (w.v && w.v[w.n] == NULL), "vector not NULL-terminated");
    for (size_t i = 0; i < w.n; i++) {
        FUZZ_CHECK(w.v[i] && strlen(w.v[i]) <= strlen(s), "word %zu", i);
        /* Only '' or "" make an empty word; a backslash-newline is nothing. */
        FUZZ_CHECK(w.v[i][0] || strpbrk(s, "'\""), "an empty word %zu from \"%s\"", i, s);
    }
    if (!strpbrk(s, "'\"\\\n"))
        check_plain(s, &w);

    char *joined = shell_quote_join(&w);
    FUZZ_CHECK(words_split(joined, &again, err, sizeof(err)) == 0, "re-split of \"%s\": %s", joined,
               err);
    FUZZ_CHECK(again.n == w.n, "\"%s\": %zu words, re-split gave %zu", s, w.n, again.n);
    for (size_t i = 0; i < w.n; i++)
        FUZZ_CHECK(strcmp(again.v[i], w.v[i]) == 0, "word %zu: \"%s\" != \"%s\"", i, w.v[i],
                   again.v[i]);
    words_free(&again);
    words_free(&w);
    FUZZ_CHECK(w.v == NULL && w.n == 0, "words_free leaves words");
    free(joined);
    free(s);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

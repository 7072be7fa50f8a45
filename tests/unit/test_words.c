/* words.c: POSTGRES_INITDB_ARGS split like a shell would, without a shell. */
#include "check.h"
#include "words.h"

static void expect_words(const char *in, const char *const *want, size_t n)
{
    struct words w;
    char err[64];

    CHECK(words_split(in, &w, err, sizeof(err)) == 0);
    CHECK(w.n == n);
    for (size_t i = 0; i < n && i < w.n; i++)
        CHECK_STR(w.v[i], want[i]);
    CHECK(w.n == 0 || w.v[w.n] == NULL);
    words_free(&w);
}

static void expect_error(const char *in, const char *needle)
{
    struct words w;
    char err[64] = "";

    CHECK(words_split(in, &w, err, sizeof(err)) == -1);
    CHECK_CONTAINS(err, needle);
}

int main(void)
{
    expect_words("", NULL, 0);
    expect_words("   \t ", NULL, 0);
    const char *simple[] = {"--data-checksums", "-E", "UTF8"};
    expect_words("  --data-checksums  -E UTF8 ", simple, 3);
    const char *quoted[] = {"--locale=en US", "it's", "a\"b", "$HOME"};
    expect_words("--locale='en US' \"it's\" a\\\"b '$HOME'", quoted, 4);
    const char *dq[] = {"x\\y", "a\"b$c"};
    expect_words("\"x\\y\" \"a\\\"b\\$c\"", dq, 2);
    const char *empty[] = {"", "b"};
    expect_words("'' b", empty, 2);
    const char *joined[] = {"abc"};
    expect_words("a'b'\"c\"", joined, 1);
    expect_error("--locale='C", "unbalanced '");
    expect_error("\"abc", "unbalanced \"");
    expect_error("abc\\", "trailing backslash");
    return check_done("test_words");
}

/* The replay driver: runs a harness over files and directories of inputs
 * without libFuzzer, so that every build (gcc included) checks the checked-in
 * corpus under CTest. Directories are read in sorted order; an argument that
 * holds no input at all is an error (a test that replays nothing proves
 * nothing). Exits non-zero when an input breaks an invariant (the harness
 * aborts) or cannot be read. */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: could not open \"%s\": %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        fprintf(stderr, "replay: could not read \"%s\"\n", path);
        free(buf);
        return -1;
    }
    /* An exact-size copy, so that AddressSanitizer sees reads past the end. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static long replay_path(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "replay: \"%s\": %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path) < 0 ? -1 : 1;
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: could not open directory \"%s\": %s\n", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char **more = realloc(names, (n + 1) * sizeof(char *));
        if (!more)
            abort();
        names = more;
        if (asprintf(&names[n++], "%s/%s", path, de->d_name) < 0)
            abort();
    }
    closedir(d);
    qsort(names, n, sizeof(char *), by_name);
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        long c = count >= 0 ? replay_path(names[i]) : 0;
        count = c < 0 ? -1 : count + c;
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    long total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
        return 64;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        long n = replay_path(argv[i]);
        if (n < 0)
            return 1;
        if (n == 0) {
            fprintf(stderr, "replay: \"%s\" holds no input\n", argv[i]);
            return 1;
        }
        total += n;
    }
    printf("replayed %ld input(s) without a broken invariant\n", total);
    return 0;
}

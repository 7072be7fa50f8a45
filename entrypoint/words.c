#include "words.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int push(struct words *w, const char *buf, size_t len)
{
    char **v = realloc(w->v, (w->n + 2) * sizeof(char *));
    if (!v)
        return -1;
    w->v = v;
    if (!(w->v[w->n] = strndup(buf, len)))
        return -1;
    w->v[++w->n] = NULL;
    return 0;
}

int words_split(const char *s, struct words *out, char *err, size_t errlen)
{
    size_t cap = strlen(s) + 1, len = 0;
    char *buf = malloc(cap);
    bool in_word = false;
    char quote = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (!buf)
        return -1;
    for (const char *p = s;; p++) {
        char c = *p;
        if (c == '\0') {
            if (quote) {
                snprintf(err, errlen, "unbalanced %c quote", quote);
                rc = -1;
            } else if (in_word) {
                rc = push(out, buf, len);
            }
            break;
        }
        if (quote == '\'') {
            if (c == '\'')
                quote = 0;
            else
                buf[len++] = c;
        } else if (quote == '"') {
            if (c == '"')
                quote = 0;
            else if (c == '\\' && p[1] && strchr("\\\"$`", p[1]))
                buf[len++] = *++p;
            else
                buf[len++] = c;
        } else if (c == ' ' || c == '\t' || c == '\n') {
            if (in_word && push(out, buf, len) < 0) {
                rc = -1;
                break;
            }
            in_word = false;
            len = 0;
        } else if (c == '\\' && p[1] == '\n') {
            p++; /* a line continuation: nothing, not even an empty word */
        } else {
            in_word = true;
            if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '\\') {
                if (!p[1]) {
                    snprintf(err, errlen, "trailing backslash");
                    rc = -1;
                    break;
                }
                buf[len++] = p[1];
                p++;
            } else {
                buf[len++] = c;
            }
        }
    }
    free(buf);
    if (rc < 0)
        words_free(out);
    return rc;
}

void words_free(struct words *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i]);
    free(w->v);
    w->v = NULL;
    w->n = 0;
}

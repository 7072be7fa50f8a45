#include "hba.h"

#include <stdio.h>
#include <string.h>

static const char *const methods[] = {"trust", "reject", "scram-sha-256", "md5",  "password",
                                      "gss",   "sspi",   "ident",         "peer", "pam",
                                      "ldap",  "radius", "cert"};

bool hba_valid_method(const char *s)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(s, methods[i]) == 0)
            return true;
    return false;
}

#define FIELDS_MAX 8
#define FIELD_LEN 256

/* Splits a line into fields as PostgreSQL's tokenizer does for our purpose:
 * blanks separate, double quotes group, # outside quotes ends the line.
 * Returns the number of fields (at most FIELDS_MAX are kept), -1 on an
 * unterminated quote. */
static int split_fields(const char *line, size_t len, char f[FIELDS_MAX][FIELD_LEN])
{
    int n = 0;
    size_t i = 0;

    while (i < len) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i >= len || line[i] == '#')
            break;
        size_t o = 0;
        bool quoted = false;
        for (; i < len && (quoted || (line[i] != ' ' && line[i] != '\t' && line[i] != '#')); i++) {
            if (line[i] == '"') {
                quoted = !quoted;
                continue;
            }
            if (n < FIELDS_MAX && o + 1 < FIELD_LEN)
                f[n][o++] = line[i];
        }
        if (quoted)
            return -1;
        if (n < FIELDS_MAX)
            f[n][o] = '\0';
        n++;
    }
    return n;
}

/* An address followed by a netmask takes two fields (host ... 10.0.0.0
 * 255.0.0.0 md5): a mask is dotted digits or holds a colon. */
static bool is_netmask(const char *s)
{
    return strchr(s, ':') || (strspn(s, "0123456789.") == strlen(s) && strchr(s, '.'));
}

int hba_check_line(const char *line, size_t len, char *why, size_t whylen)
{
    static const char *const host_types[] = {"host",       "hostssl",      "hostnossl",
                                             "hostgssenc", "hostnogssenc", NULL};
    char f[FIELDS_MAX][FIELD_LEN];

    for (size_t i = 0; i < len; i++)
        if (((unsigned char)line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f) {
            snprintf(why, whylen, "it holds a control character");
            return -1;
        }
    int n = split_fields(line, len, f);
    if (n < 0) {
        snprintf(why, whylen, "a double quote is not closed");
        return -1;
    }
    if (n == 0)
        return 0;
    if (strcmp(f[0], "include") == 0 || strcmp(f[0], "include_if_exists") == 0 ||
        strcmp(f[0], "include_dir") == 0) {
        if (n == 2)
            return 1;
        snprintf(why, whylen, "%s takes one file name", f[0]);
        return -1;
    }
    int method = -1;
    if (strcmp(f[0], "local") == 0)
        method = 3;
    for (const char *const *t = host_types; *t; t++)
        if (strcmp(f[0], *t) == 0)
            method = n > 5 && is_netmask(f[4]) ? 5 : 4;
    if (method < 0) {
        snprintf(why, whylen,
                 "it starts with \"%.40s\", not local, host, hostssl, hostnossl, hostgssenc, "
                 "hostnogssenc or include",
                 f[0]);
        return -1;
    }
    if (n <= method) {
        snprintf(why, whylen, "a %s record needs %d fields (type, database, user, %smethod)", f[0],
                 method + 1, method == 3 ? "" : "address, ");
        return -1;
    }
    if (method >= FIELDS_MAX || !hba_valid_method(f[method])) {
        snprintf(why, whylen, "\"%.40s\" is not an authentication method",
                 method < FIELDS_MAX ? f[method] : "");
        return -1;
    }
    return 1;
}

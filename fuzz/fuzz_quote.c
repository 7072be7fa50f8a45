/* The quoting functions of pgconf.c, each for the syntax it writes: byte 0
 * picks the function, byte 1 the output buffer's size (an exact-size heap
 * buffer, so a write past it is caught), the rest is the string.
 *
 * Invariants: a result always fits its buffer, NUL included; it decodes
 * back to exactly the input under the rules of the reader (postgresql.conf,
 * libpq's connection strings, checked with libpq's own PQconninfoParse too,
 * .pgpass, SQL identifiers and literals, pg_hba.conf names), so it never
 * holds an unescaped delimiter; a line break (and for pg_hba a double quote
 * or control character) is always refused; anything else is refused only
 * when it does not fit. primary_conninfo, a connection string quoted again
 * as a setting, round-trips through both layers. */
#include "fuzz.h"
#include "pgconf.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <string.h>

enum syntax { SETTING, CONNINFO, PGPASS, IDENT, LITERAL, HBA, PRIMARY_CONNINFO, N_SYNTAX };

/* Decodes out written in syntax s into dec; false when it is malformed. */
static bool decode(enum syntax s, const char *out, char *dec)
{
    size_t n = strlen(out), d = 0;
    char delim = s == IDENT || s == HBA ? '"' : s == PGPASS ? 0 : '\'';

    if (delim) {
        if (n < 2 || out[0] != delim || out[n - 1] != delim)
            return false;
        out++;
        n -= 2;
    }
    for (size_t i = 0; i < n; i++) {
        char c = out[i];
        switch (s) {
        case SETTING: /* '' is a quote, \\ a backslash; nothing else may follow \ */
            if (c == '\'' || c == '\\') {
                if (i + 1 >= n || out[i + 1] != c)
                    return false;
                i++;
            }
            break;
        case CONNINFO:
        case PGPASS:
            if (c == '\\') {
                if (i + 1 >= n)
                    return false;
                c = out[++i];
            } else if (c == (s == PGPASS ? ':' : '\'')) {
                return false;
            }
            break;
        case IDENT:
        case LITERAL:
            if (c == delim) {
                if (i + 1 >= n || out[i + 1] != delim)
                    return false;
                i++;
            }
            break;
        case HBA:
            if (c == '"' || (unsigned char)c < 0x20)
                return false;
            break;
        default:
            return false;
        }
        dec[d++] = c;
    }
    dec[d] = '\0';
    return true;
}

static int quote(enum syntax s, const char *in, char *out, size_t outlen)
{
    switch (s) {
    case SETTING:
        return pgconf_quote_setting(in, out, outlen);
    case CONNINFO:
        return pgconf_quote_conninfo(in, out, outlen);
    case PGPASS:
        return pgconf_escape_pgpass(in, out, outlen);
    case IDENT:
        return pgconf_quote_ident(in, out, outlen);
    case LITERAL:
        return pgconf_quote_literal(in, out, outlen);
    case HBA:
        return pgconf_quote_hba_name(in, out, outlen);
    default:
        return -1;
    }
}

/* libpq's reading of "user=<quoted>" gives back the input. */
static void check_libpq(const char *in, const char *quoted)
{
    char *err = NULL, *conninfo;

    if (asprintf(&conninfo, "user=%s", quoted) < 0)
        abort();
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    FUZZ_CHECK(opts, "libpq refuses %s: %s", conninfo, err ? err : "out of memory");
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "user") == 0)
            FUZZ_CHECK(o->val && strcmp(o->val, in) == 0, "libpq reads \"%s\" from %s", o->val,
                       conninfo);
    PQconninfoFree(opts);
    PQfreemem(err);
    free(conninfo);
}

static void check_primary_conninfo(const char *in)
{
    char user[1024], conninfo[1100], setting[2300], dec[2300];

    if (pgconf_quote_conninfo(in, user, sizeof(user)) < 0)
        return;
    snprintf(conninfo, sizeof(conninfo), "user=%s", user);
    FUZZ_CHECK(pgconf_quote_setting(conninfo, setting, sizeof(setting)) == 0, "%s", conninfo);
    FUZZ_CHECK(decode(SETTING, setting, dec) && strcmp(dec, conninfo) == 0, "%s", setting);
    check_libpq(in, user);
}

static bool hba_forbidden(const char *in)
{
    for (; *in; in++)
        if (*in == '"' || (unsigned char)*in < 0x20)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    enum syntax s = (enum syntax)(data[0] % N_SYNTAX);
    char *in = fuzz_cstr(data + 2, size - 2);
    size_t len = strlen(in);
    if (s == PRIMARY_CONNINFO) {
        check_primary_conninfo(in);
        free(in);
        return 0;
    }
    /* byte 1: 0..254 an exact size, 255 always large enough */
    size_t outlen = data[1] == 255 ? 2 * len + 4 : data[1];
    char *out = malloc(outlen ? outlen : 1), *dec = malloc(len + 1);
    if (!out || !dec)
        abort();

    int rc = quote(s, in, out, outlen);
    bool forbidden = s == HBA ? hba_forbidden(in) : strpbrk(in, "\r\n") != NULL;
    if (forbidden)
        FUZZ_CHECK(rc < 0, "syntax %d accepted a forbidden character in \"%s\"", (int)s, in);
    else if (outlen >= 2 * len + 4)
        FUZZ_CHECK(rc == 0, "syntax %d refused \"%s\" with room to spare", (int)s, in);
    if (rc == 0) {
        FUZZ_CHECK(memchr(out, '\0', outlen) != NULL, "no NUL within %zu bytes", outlen);
        FUZZ_CHECK(decode(s, out, dec), "syntax %d: \"%s\" is malformed", (int)s, out);
        FUZZ_CHECK(strcmp(dec, in) == 0, "syntax %d: \"%s\" decodes to \"%s\", not \"%s\"", (int)s,
                   out, dec, in);
        if (s == CONNINFO)
            check_libpq(in, out);
    }
    free(out);
    free(dec);
    free(in);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* The step each thread is in (struct step): per thread, as a wipe runs in a
 * thread of its own while the main thread clones. */
static _Thread_local const char *current_step;

const char *log_step(const char *fallback)
{
    return current_step ? current_step : fallback;
}

/* The format is read from the environment on every line rather than kept in
 * a global: configuration validates the value, and an unknown value here
 * simply means text. */
static bool want_json(void)
{
    const char *f = getenv("POSTGRES_LOG_FORMAT");
    return f && strcmp(f, "json") == 0;
}

static const char *level_name(enum log_level level)
{
    switch (level) {
    case LOG_WARN:
        return "WARNING";
    case LOG_ERROR:
        return "ERROR";
    default:
        return "INFO";
    }
}

static void timestamp(char *buf, size_t len, bool iso)
{
    struct timeval tv;
    struct tm tm;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, len, iso ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, len - n, iso ? ".%03ldZ" : ".%03ld UTC", (long)(tv.tv_usec / 1000));
}

static void json_escape(char *out, size_t outlen, const char *in)
{
    size_t o = 0;

    for (; *in && o + 7 < outlen; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, outlen - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

static void emit(enum log_level level, const char *step, const char *msg, double duration)
{
    char ts[64], line[4096];

    if (want_json()) {
        char m[2048], s[128];
        char dur[48] = "";
        json_escape(m, sizeof(m), msg);
        json_escape(s, sizeof(s), step);
        if (duration >= 0)
            snprintf(dur, sizeof(dur), ",\"duration_s\":%.3f", duration);
        timestamp(ts, sizeof(ts), true);
        snprintf(line, sizeof(line),
                 "{\"time\":\"%s\",\"level\":\"%s\",\"source\":\"pg-entrypoint\","
                 "\"step\":\"%s\",\"message\":\"%s\"%s}\n",
                 ts, level_name(level), s, m, dur);
    } else {
        timestamp(ts, sizeof(ts), false);
        snprintf(line, sizeof(line), "%s [pg-entrypoint] %-7s %s: %s\n", ts, level_name(level),
                 step, msg);
    }
    /* One write per line so lines from concurrent children do not interleave. */
    ssize_t ignored = write(STDERR_FILENO, line, strlen(line));
    (void)ignored;
}

void log_msg(enum log_level level, const char *step, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(level, step, msg, -1);
}

double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void step_begin(struct step *s, const char *name, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    s->name = name;
    s->outer = current_step;
    current_step = name;
    clock_gettime(CLOCK_MONOTONIC, &s->started);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(LOG_INFO, name, msg, -1);
}

double step_elapsed(const struct step *s)
{
    double start = (double)s->started.tv_sec + (double)s->started.tv_nsec / 1e9;
    return mono_now() - start;
}

int step_end(struct step *s, int rc)
{
    double d = step_elapsed(s);
    char msg[64];

    snprintf(msg, sizeof(msg), "%s in %.2f s", rc == 0 ? "done" : "failed", d);
    emit(rc == 0 ? LOG_INFO : LOG_ERROR, s->name, msg, d);
    current_step = s->outer;
    return rc;
}

void step_detach(struct step *s)
{
    current_step = s->outer;
}

void step_attach(struct step *s)
{
    s->outer = current_step;
    current_step = s->name;
}

/* One line per event on stderr: timestamp, level, step, message (and the
 * duration when a step ends), as text or JSON (POSTGRES_LOG_FORMAT). Callers
 * never pass secrets: nothing here can tell a password from a host name. */
#ifndef PGEP_LOG_H
#define PGEP_LOG_H

#include <time.h>

enum log_level { LOG_INFO, LOG_WARN, LOG_ERROR };

void log_msg(enum log_level level, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_info(step, ...) log_msg(LOG_INFO, step, __VA_ARGS__)
#define log_warn(step, ...) log_msg(LOG_WARN, step, __VA_ARGS__)
#define log_error(step, ...) log_msg(LOG_ERROR, step, __VA_ARGS__)

/* A named step: step_begin logs its start, step_end its outcome and how long
 * it took ("initdb: done in 0.93 s"). Between the two it is this thread's
 * current step, and steps nest: step_end makes the outer one current again. */
struct step {
    const char *name;
    const char *outer; /* the step that was current when this one began */
    struct timespec started;
};

void step_begin(struct step *s, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Logs "done" when rc == 0, else "failed"; returns rc so callers can write
 * `return step_end(&s, rc);`. */
int step_end(struct step *s, int rc);
double step_elapsed(const struct step *s);

/* The step this thread is in, or fallback outside any. Library code logs
 * under it, so that its lines belong to the step that called it (a failed
 * atomic write during a clone is step "clone"); fallback names what the
 * library does, for a call made outside any step. */
const char *log_step(const char *fallback);

/* A step that another thread carries on (and ends): step_detach makes the
 * beginning thread's current step the outer one again, step_attach makes s
 * the current step of the thread that takes it over. */
void step_detach(struct step *s);
void step_attach(struct step *s);

/* Seconds on the monotonic clock. */
double mono_now(void);

#endif

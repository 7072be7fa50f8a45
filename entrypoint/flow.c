/* The list of steps of a flow: built once, printed by plan, run by a start. */
#include "flow.h"

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void flow_init(struct flow *f)
{
    memset(f, 0, sizeof(*f));
}

void flow_add(struct flow *f, const char *name, flow_fn run, const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;

    if (f->n == FLOW_MAX_STEPS) {
        f->failed = true;
        return;
    }
    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0) {
        f->failed = true;
        return;
    }
    f->steps[f->n++] = (struct flow_step){.name = name, .run = run, .text = text};
}

/* A list that lost a step must neither be shown nor run as if complete. */
static int check_complete(const struct flow *f)
{
    if (!f->failed)
        return 0;
    log_error("flow", "the list of steps is incomplete (out of memory, or more than %d steps)",
              FLOW_MAX_STEPS);
    return -1;
}

int flow_print(const struct flow *f)
{
    if (check_complete(f) < 0)
        return -1;
    for (size_t i = 0; i < f->n; i++)
        printf("  %zu. %s\n", i + 1, f->steps[i].text);
    return 0;
}

int flow_run(const struct flow *f, const struct flow_ctx *ctx)
{
    if (check_complete(f) < 0)
        return -1;
    for (size_t i = 0; i < f->n; i++)
        if (f->steps[i].run && f->steps[i].run(ctx) < 0)
            return -1;
    return 0;
}

void flow_free(struct flow *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->steps[i].text);
    f->n = 0;
}

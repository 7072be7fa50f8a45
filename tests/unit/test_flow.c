/* flow.c: steps run in order, a step without a function is skipped, the
 * first failure stops the run, and a list that lost a step runs nothing. */
#include "check.h"
#include "flow.h"

static char trace[16];
static int traced;

static int step_a(const struct flow_ctx *ctx)
{
    (void)ctx;
    trace[traced++] = 'a';
    return 0;
}

static int step_b(const struct flow_ctx *ctx)
{
    (void)ctx;
    trace[traced++] = 'b';
    return 0;
}

static int step_fail(const struct flow_ctx *ctx)
{
    (void)ctx;
    trace[traced++] = 'x';
    return -1;
}

static void reset(void)
{
    memset(trace, 0, sizeof(trace));
    traced = 0;
}

static void test_order(void)
{
    struct flow f;
    struct flow_ctx ctx = {0};

    reset();
    flow_init(&f);
    flow_add(&f, "one", step_a, "first, %d", 1);
    flow_add(&f, "one", NULL, "done by the first");
    flow_add(&f, "two", step_b, "second");
    CHECK(f.n == 3);
    CHECK_STR(f.steps[0].text, "first, 1");
    CHECK_STR(f.steps[1].name, "one");
    CHECK(flow_run(&f, &ctx) == 0);
    CHECK_STR(trace, "ab");
    flow_free(&f);
    CHECK(f.n == 0);
}

static void test_stops_at_failure(void)
{
    struct flow f;
    struct flow_ctx ctx = {0};

    reset();
    flow_init(&f);
    flow_add(&f, "one", step_a, "first");
    flow_add(&f, "bad", step_fail, "fails");
    flow_add(&f, "two", step_b, "never run");
    CHECK(flow_run(&f, &ctx) == -1);
    CHECK_STR(trace, "ax");
    flow_free(&f);
}

static void test_too_many(void)
{
    struct flow f;
    struct flow_ctx ctx = {0};

    reset();
    flow_init(&f);
    for (int i = 0; i <= FLOW_MAX_STEPS; i++)
        flow_add(&f, "many", step_a, "step %d", i);
    CHECK(f.failed);
    CHECK(f.n == FLOW_MAX_STEPS);
    CHECK(flow_run(&f, &ctx) == -1);
    CHECK(flow_print(&f) == -1);
    CHECK(traced == 0);
    flow_free(&f);
}

int main(void)
{
    test_order();
    test_stops_at_failure();
    test_too_many();
    return check_done("test_flow");
}

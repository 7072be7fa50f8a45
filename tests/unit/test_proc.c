/* proc.c: spawn, wait and poll for several children, stop with a deadline,
 * exit codes, an exec failure reported once, SIGHUP ignored and stop signals
 * forwarded, the environment handed to children, and the descriptors the
 * final exec leaves open (with close_range, and without it). */
#include "check.h"
#include "log.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the code under test logs (stderr), captured into a temporary file. */
static int saved_stderr = -1;
static char captured[8192];

static void capture_begin(void)
{
    char path[] = "/tmp/pgep-test-proc.XXXXXX";
    int fd = mkstemp(path);

    CHECK(fd >= 0);
    unlink(path);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

static const char *capture_end(void)
{
    ssize_t n = pread(STDERR_FILENO, captured, sizeof(captured) - 1, 0);

    captured[n > 0 ? n : 0] = '\0';
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    return captured;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static pid_t spawn_sh(const char *script)
{
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    pid_t pid = -1;

    CHECK(proc_spawn(argv, NULL, NULL, &pid) == 0);
    return pid;
}

static void test_exit_codes(void)
{
    int st = -1;
    pid_t p = spawn_sh("exit 0");
    CHECK(proc_wait(p, &st) == 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(proc_check_status("test", "sh", st) == 0);

    p = spawn_sh("exit 3");
    CHECK(proc_wait(p, &st) == 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
    capture_begin();
    CHECK(proc_check_status("test", "sh", st) == -1);
    CHECK_CONTAINS(capture_end(), "sh exited with status 3");

    char why[96];
    proc_describe_status(SIGKILL, why, sizeof(why)); /* a raw wait status */
    CHECK_CONTAINS(why, "terminated by signal 9");

    const char *argv[] = {"/bin/sh", "-c", "exit 4", NULL};
    capture_begin();
    CHECK(proc_run("test", argv, NULL, NULL) == -1);
    CHECK(count(capture_end(), "exited with status 4") == 1);

    CHECK(proc_exec_exit_code(ENOENT) == 127);
    CHECK(proc_exec_exit_code(ENOTDIR) == 127);
    CHECK(proc_exec_exit_code(EACCES) == 126);
    CHECK(proc_exec_exit_code(ENOEXEC) == 126);
}

/* One line, from the parent, for a child that could not be executed; no
 * child is left to wait for. */
static void test_exec_failure_once(void)
{
    const char *argv[] = {"/nonexistent/pgep-test", NULL};
    pid_t pid = -1;

    capture_begin();
    CHECK(proc_spawn(argv, NULL, NULL, &pid) == -1);
    CHECK(proc_run("test", argv, NULL, NULL) == -1);
    const char *out = capture_end();
    CHECK(count(out, "\n") == 2); /* one line each */
    CHECK(count(out, "could not execute \"/nonexistent/pgep-test\": No such file") == 2);
    CHECK(count(out, "exited with status") == 0);
    CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);

    setenv("POSTGRES_LOG_FORMAT", "json", 1);
    capture_begin();
    CHECK(proc_spawn(argv, NULL, NULL, &pid) == -1);
    out = capture_end();
    unsetenv("POSTGRES_LOG_FORMAT");
    CHECK(count(out, "\n") == 1);
    CHECK(strncmp(out, "{\"time\":", 8) == 0);
    CHECK_CONTAINS(out, "\"level\":\"ERROR\"");
}

/* Three at once, waited for in another order than they end; a child reaped
 * while waiting for another keeps its status. */
static void test_several_children(void)
{
    pid_t p[3] = {spawn_sh("exit 5"), spawn_sh("sleep 0.2; exit 6"), spawn_sh("sleep 0.1; exit 7")};
    int st[3] = {-1, -1, -1};

    CHECK(proc_wait(p[1], &st[1]) == 0); /* p[0] and p[2] end (and are reaped) meanwhile */
    CHECK(WIFEXITED(st[1]) && WEXITSTATUS(st[1]) == 6);
    pid_t rest[2] = {p[2], p[0]};
    int rst[2] = {-1, -1};
    CHECK(proc_wait_all(rest, rst, 2) == 0);
    CHECK(WIFEXITED(rst[0]) && WEXITSTATUS(rst[0]) == 7);
    CHECK(WIFEXITED(rst[1]) && WEXITSTATUS(rst[1]) == 5);

    /* collected: not ours any more */
    capture_begin();
    CHECK(proc_wait(p[0], &st[0]) == -1);
    CHECK_CONTAINS(capture_end(), "not a child of ours");
    CHECK(proc_poll(p[0], NULL) == -1);
}

static void test_poll(void)
{
    int st = -1;
    pid_t p = spawn_sh("sleep 0.5; exit 2");

    CHECK(proc_poll(p, &st) == 0);
    for (int i = 0; i < 3000 && proc_poll(p, &st) == 0; i++)
        proc_sleep_ms(10);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CHECK(proc_poll(p, &st) == -1);
}

static void test_stop_with_deadline(void)
{
    pid_t p = spawn_sh("exec sleep 30");
    double t0 = mono_now();
    CHECK(proc_stop(p, SIGTERM, 10000) == 0);
    CHECK(mono_now() - t0 < 5);
    CHECK(proc_poll(p, NULL) == -1);

    /* A child that ignores the signal: the deadline ends the wait. */
    char ready[] = "/tmp/pgep-test-proc-ready.XXXXXX", script[128];
    int fd = mkstemp(ready);
    CHECK(fd >= 0);
    close(fd);
    unlink(ready);
    snprintf(script, sizeof(script), "trap '' TERM; : >%s; exec sleep 30", ready);
    p = spawn_sh(script);
    /* until the trap is set (a synchronisation, not a guess) */
    for (int i = 0; i < 3000 && access(ready, F_OK) != 0; i++)
        proc_sleep_ms(10);
    CHECK(access(ready, F_OK) == 0);
    unlink(ready);
    t0 = mono_now();
    CHECK(proc_stop(p, SIGTERM, 300) == -1);
    double waited = mono_now() - t0;
    CHECK(waited >= 0.3 && waited < 5);
    CHECK(proc_poll(p, NULL) == 0);
    CHECK(proc_stop(p, SIGKILL, 10000) == 0);
}

static void test_table_full(void)
{
    pid_t p[9];
    int n = 0;

    for (; n < 8; n++)
        p[n] = spawn_sh("exec sleep 30");
    const char *argv[] = {"/bin/true", NULL};
    capture_begin();
    CHECK(proc_spawn(argv, NULL, NULL, &p[8]) == -1);
    CHECK_CONTAINS(capture_end(), "8 children run already");
    for (int i = 0; i < n; i++)
        CHECK(proc_stop(p[i], SIGKILL, 10000) == 0);
    CHECK(proc_run("test", argv, NULL, NULL) == 0);
}

static void test_clean_env(void)
{
    char *envp[] = {"PATH=/bin", "HOME=/root", "POSTGRES_PASSWORD=secret", "PGDATA=/old", NULL};
    const char *extra[] = {"HOME=/var/lib/postgresql", "PGDATA=/new", NULL};
    char **out = proc_clean_env(envp, extra);

    CHECK(out != NULL);
    if (!out)
        return;
    size_t n = 0;
    while (out[n])
        n++;
    CHECK(n == 3);
    CHECK_STR(out[0], "PATH=/bin");
    CHECK_STR(out[1], "HOME=/var/lib/postgresql");
    CHECK_STR(out[2], "PGDATA=/new");
    free(out);
}

/* In the child of a fork: close_range fails with ENOSYS from now on, as
 * under an old kernel or a container runtime's seccomp profile. */
static int forbid_close_range(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_close_range, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        return -1;
    return syscall(__NR_close_range, 3, 3, 0) < 0 && errno == ENOSYS ? 0 : -1;
}

/* The final exec keeps stdio and keep_fd (opened close-on-exec, like the
 * PGDATA lock) and nothing else: what the exec'd shell has open is listed. */
static void expect_exec_fds(bool without_close_range)
{
    char path[] = "/tmp/pgep-test-proc-fds.XXXXXX", got[256] = "";
    int out = mkstemp(path);
    CHECK(out >= 0);
    pid_t p = fork();
    if (p == 0) {
        dup2(out, STDOUT_FILENO);
        int stray = open("/dev/null", O_RDONLY); /* not close-on-exec */
        dup2(stray, 17);
        dup2(stray, 200);
        int keep = fcntl(stray, F_DUPFD_CLOEXEC, 9);
        if (keep != 9 || (without_close_range && forbid_close_range() < 0))
            _exit(99);
        const char *argv[] = {
            "/bin/sh", "-c",
            "for f in /proc/$$/fd/*; do [ -e \"$f\" ] && printf '%s ' \"${f##*/}\"; done; echo",
            NULL};
        _exit(proc_exec(argv, NULL, keep));
    }
    int st = -1;
    CHECK(waitpid(p, &st, 0) == p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ssize_t n = pread(out, got, sizeof(got) - 1, 0);
    got[n > 0 ? n : 0] = '\0';
    CHECK_STR(got, "0 1 2 9 \n"); /* (the glob's own descriptor is gone) */
    close(out);
    unlink(path);
}

/* Last: a stop signal stays recorded for the rest of the process. */
static void test_signals(void)
{
    int st = -1;

    proc_signals_install();
    capture_begin();
    pid_t p = spawn_sh("sleep 0.3");
    kill(getpid(), SIGHUP);
    kill(getpid(), SIGHUP);
    CHECK(proc_wait(p, &st) == 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0); /* not ended by SIGHUP */
    CHECK(proc_stop_signal() == 0);
    CHECK(count(capture_end(), "SIGHUP ignored until postgres runs") == 1);

    pid_t q[2] = {spawn_sh("exec sleep 30"), spawn_sh("exec sleep 30")};
    int qst[2] = {-1, -1};
    kill(getpid(), SIGTERM); /* forwarded to both */
    CHECK(proc_wait_all(q, qst, 2) == 0);
    CHECK(proc_stop_signal() == SIGTERM);
    for (int i = 0; i < 2; i++)
        CHECK(WIFSIGNALED(qst[i]) && WTERMSIG(qst[i]) == SIGTERM);
    CHECK(proc_sleep_ms(1000) == -1);
}

int main(void)
{
    test_exit_codes();
    test_exec_failure_once();
    test_several_children();
    test_poll();
    test_stop_with_deadline();
    test_table_full();
    test_clean_env();
    expect_exec_fds(false);
    expect_exec_fds(true);
    test_signals();
    return check_done("test_proc");
}

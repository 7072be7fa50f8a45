#include "proc.h"

#include "env.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

/* The children we spawned and have not yet collected: a small fixed table
 * (the most that run at once is three: the temporary server, and a
 * decompressor piping into psql). live[i] is read by the signal handler: the
 * pid to forward stop signals to, 0 once the child has ended. */
#define MAX_CHILDREN 8
static volatile sig_atomic_t live[MAX_CHILDREN];
static pid_t tracked[MAX_CHILDREN];
static int child_status[MAX_CHILDREN];
static bool ended[MAX_CHILDREN];
/* A SIGHUP arrived (set by the handler) / was reported in the log. */
static volatile sig_atomic_t hup_seen;
static bool hup_logged;

static const int handled_signals[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP};
#define N_HANDLED (sizeof(handled_signals) / sizeof(handled_signals[0]))

/* The signal mask and the dispositions of handled_signals that we were
 * started with: every exec (children and the final one) gets them back, as
 * tini and catatonit do. Zero (empty mask, SIG_DFL) until installed. */
static sigset_t start_mask;
static struct sigaction start_actions[N_HANDLED];

/* Forward a stop signal to the process group of every running child
 * (initdb, pg_basebackup and its WAL streamer, ...) so it stops cleanly, and
 * remember the first stop request: every loop checks it. SIGHUP means
 * "reload", never "stop": before postgres runs there is nothing to reload,
 * and initdb or pg_basebackup would end on it, so it is only noted. */
static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP) {
        hup_seen = 1;
        return;
    }
    if (!stop_signal)
        stop_signal = sig;
    for (size_t i = 0; i < MAX_CHILDREN; i++) {
        pid_t c = (pid_t)live[i];
        if (c > 0)
            kill(-c, sig);
    }
    errno = saved;
}

/* The slot of a child we spawned and have not collected, or -1. */
static int slot_of(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (pid > 0 && tracked[i] == pid)
            return i;
    return -1;
}

static void release(int i)
{
    live[i] = 0;
    tracked[i] = 0;
    ended[i] = false;
}

/* Keeps the wait status of a child of ours that has been reaped; anything
 * else is an orphan reparented to us (PID 1), now gone. */
static void record(pid_t pid, int status)
{
    int i = slot_of(pid);
    if (i >= 0 && !ended[i]) {
        live[i] = 0;
        ended[i] = true;
        child_status[i] = status;
    }
}

/* Says once, from outside the handler, that a SIGHUP was ignored. */
static void note_hup(void)
{
    if (hup_seen && !hup_logged) {
        hup_logged = true;
        log_info("signal", "SIGHUP ignored until postgres runs (it means reload; there is nothing "
                           "to reload yet)");
    }
}

void proc_signals_install(void)
{
    struct sigaction sa;

    sigprocmask(SIG_SETMASK, NULL, &start_mask);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigfillset(&sa.sa_mask);
    for (size_t i = 0; i < N_HANDLED; i++)
        sigaction(handled_signals[i], &sa, &start_actions[i]);
}

int proc_stop_signal(void)
{
    return stop_signal;
}

/* Just before an exec, with every signal blocked: the dispositions, then
 * the mask, we were started with. */
static void restore_start_signals(void)
{
    for (size_t i = 0; i < N_HANDLED; i++)
        sigaction(handled_signals[i], &start_actions[i], NULL);
    sigprocmask(SIG_SETMASK, &start_mask, NULL);
}

/* Closes the descriptors lo..hi; where close_range is missing (ENOSYS,
 * before Linux 5.9 or under a seccomp filter) or refuses (EINVAL), one by
 * one up to the limit on open descriptors. */
static void close_fds(unsigned lo, unsigned hi)
{
    struct rlimit rl;

    if (lo > hi || close_range(lo, hi, 0) == 0)
        return;
    unsigned top = 1U << 20; /* the kernel's default nr_open */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < top)
        top = (unsigned)rl.rlim_cur;
    for (unsigned fd = lo; fd <= hi && fd < top; fd++)
        close((int)fd);
}

int proc_exec_exit_code(int err)
{
    return err == ENOENT || err == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
}

static void log_exec_error(const char *what, int err)
{
    log_error("exec", "could not execute \"%s\": %s; hint: %s", what, strerror(err),
              proc_exec_exit_code(err) == EXIT_NOT_FOUND
                  ? "check that it is installed and in PATH"
                  : "check that it is an executable file the user may run");
}

/* The errno a child sent before exiting on a failed exec, or 0 when the
 * pipe closed empty (exec succeeded). */
static int exec_error(int fd)
{
    int err = 0;
    ssize_t r;

    while ((r = read(fd, &err, sizeof(err))) < 0 && errno == EINTR)
        ;
    return r == (ssize_t)sizeof(err) ? err : 0;
}

static void redirect(int from, int to)
{
    if (from >= 0 && from != to)
        dup2(from, to);
}

int proc_spawn(const char *const argv[], char *const envp[], const struct spawn_io *io, pid_t *pid)
{
    sigset_t all, old;

    /* Blocked across fork: the child must not run our handler, and the parent
     * must record the pid before a signal can be forwarded to it. */
    int slot = -1;
    for (int i = 0; i < MAX_CHILDREN && slot < 0; i++)
        if (tracked[i] == 0)
            slot = i;
    if (slot < 0) {
        log_error("spawn", "could not start \"%s\": %d children run already", argv[0],
                  MAX_CHILDREN);
        return -1;
    }
    /* The child reports a failed exec through this pipe, which exec closes. */
    int failed[2];
    if (pipe2(failed, O_CLOEXEC) < 0) {
        log_error("spawn", "could not create a pipe for \"%s\": %s", argv[0], strerror(errno));
        return -1;
    }
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid_t p = fork();
    if (p < 0) {
        int saved = errno;
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(failed[0]);
        close(failed[1]);
        log_error("spawn", "could not fork for \"%s\": %s", argv[0], strerror(saved));
        return -1;
    }
    if (p == 0) {
        setpgid(0, 0);
        restore_start_signals();
        if (io) {
            redirect(io->stdin_fd, STDIN_FILENO);
            redirect(io->stdout_fd, STDOUT_FILENO);
            redirect(io->stderr_fd, STDERR_FILENO);
            if (io->keep_fd >= 0)
                fcntl(io->keep_fd, F_SETFD, 0);
        }
        execvpe(argv[0], (char *const *)argv, envp);
        /* Not logged here: the parent does, once, in the normal format. */
        int err = errno;
        ssize_t ignored = write(failed[1], &err, sizeof(err));
        (void)ignored;
        _exit(proc_exec_exit_code(err));
    }
    /* Set on both sides of the fork so that it holds whichever runs first. */
    setpgid(p, p);
    tracked[slot] = p;
    live[slot] = p;
    sigprocmask(SIG_SETMASK, &old, NULL);
    /* A stop request that came before the child existed. */
    if (stop_signal)
        kill(-p, stop_signal);
    close(failed[1]);
    int err = exec_error(failed[0]);
    close(failed[0]);
    if (err) {
        int st;
        while (waitpid(p, &st, 0) < 0 && errno == EINTR)
            ;
        release(slot);
        log_exec_error(argv[0], err);
        return -1;
    }
    *pid = p;
    return 0;
}

int proc_wait_all(const pid_t *pids, int *statuses, size_t n)
{
    for (;;) {
        note_hup();
        size_t left = 0;
        for (size_t i = 0; i < n; i++) {
            int k = slot_of(pids[i]);
            if (k < 0) {
                log_error("wait", "could not wait for process %d: not a child of ours",
                          (int)pids[i]);
                return -1;
            }
            left += !ended[k];
        }
        if (left == 0)
            break;
        int st;
        pid_t r = waitpid(-1, &st, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            log_error("wait", "could not wait for process %d: %s", (int)pids[0], strerror(errno));
            return -1;
        }
        record(r, st);
    }
    /* (the same pid may be listed twice) */
    for (size_t i = 0; i < n; i++)
        statuses[i] = child_status[slot_of(pids[i])];
    for (size_t i = 0; i < n; i++) {
        int k = slot_of(pids[i]);
        if (k >= 0)
            release(k);
    }
    return 0;
}

int proc_poll(pid_t pid, int *status)
{
    int k = slot_of(pid);

    if (k < 0)
        return -1;
    proc_reap_exited();
    if (!ended[k])
        return 0;
    if (status)
        *status = child_status[k];
    release(k);
    return 1;
}

int proc_stop(pid_t pid, int sig, unsigned timeout_ms)
{
    int k = slot_of(pid);
    double deadline = mono_now() + timeout_ms / 1000.0;

    kill(pid, sig);
    /* Not cut short by a stop request: this is how the stop is carried out. */
    while (mono_now() < deadline) {
        proc_reap_exited();
        if (k >= 0 ? ended[k] : kill(pid, 0) < 0 && errno == ESRCH) {
            if (k >= 0)
                release(k);
            return 0;
        }
        nanosleep(&(struct timespec){.tv_nsec = 10000000L}, NULL);
    }
    return -1;
}

int proc_wait(pid_t pid, int *status)
{
    return proc_wait_all(&pid, status, 1);
}

int proc_check_status(const char *step, const char *what, int status)
{
    char why[96];

    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    proc_describe_status(status, why, sizeof(why));
    /* After a stop request this is the expected outcome, not an error. */
    log_msg(stop_signal ? LOG_INFO : LOG_ERROR, step, "%s %s%s", what, why,
            stop_signal ? " (stop requested)" : "");
    return -1;
}

void proc_describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "was terminated by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "ended with wait status %d", status);
}

int proc_run(const char *step, const char *const argv[], char *const envp[],
             const struct spawn_io *io)
{
    pid_t pid;
    int status;

    if (proc_spawn(argv, envp, io, &pid) < 0 || proc_wait(pid, &status) < 0)
        return -1;
    return proc_check_status(step, argv[0], status);
}

int proc_wait_readable(int fd, int timeout_ms, bool for_write)
{
    struct pollfd p = {.fd = fd, .events = for_write ? POLLOUT : POLLIN};
    double deadline = mono_now() + timeout_ms / 1000.0;

    for (;;) {
        note_hup();
        if (stop_signal)
            return -1;
        /* Slices of 100 ms bound how long a signal that arrives just before
         * poll() can go unnoticed. */
        int left = (int)((deadline - mono_now()) * 1000);
        if (left <= 0)
            return 0;
        int r = poll(&p, 1, left < 100 ? left : 100);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return 0;
    }
}

int proc_sleep_ms(unsigned ms)
{
    return proc_wait_readable(-1, (int)ms, false) < 0 ? -1 : 0;
}

void proc_reap_exited(void)
{
    int st;
    pid_t r;

    while ((r = waitpid(-1, &st, WNOHANG)) > 0)
        record(r, st);
}

/* True when one of extra sets the variable of entry ("NAME=..."). */
static bool overridden(const char *entry, const char *const extra[])
{
    size_t len = strcspn(entry, "=");

    for (size_t i = 0; extra && extra[i]; i++)
        if (strncmp(entry, extra[i], len) == 0 && extra[i][len] == '=')
            return true;
    return false;
}

char **proc_clean_env(char *const envp[], const char *const extra[])
{
    size_t n = 0, e = 0;

    while (envp && envp[n])
        n++;
    while (extra && extra[e])
        e++;
    char **out = calloc(n + e + 1, sizeof(char *));
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (!env_is_secret(envp[i]) && !overridden(envp[i], extra))
            out[o++] = envp[i];
    for (size_t i = 0; i < e; i++)
        out[o++] = (char *)extra[i];
    return out;
}

int proc_exec(const char *const argv[], char *const envp[], int keep_fd)
{
    sigset_t all;

    proc_reap_exited();
    note_hup();
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    /* A stop signal that is pending now would be lost once the handlers are
     * gone (PID 1 ignores default-action signals): honour it here. */
    sigset_t pending;
    sigpending(&pending);
    for (size_t i = 0; i < N_HANDLED && !stop_signal; i++)
        if (handled_signals[i] != SIGHUP && sigismember(&pending, handled_signals[i]))
            stop_signal = handled_signals[i];
    if (stop_signal) {
        log_info("exec", "not starting %s: stopped by signal %d", argv[0], (int)stop_signal);
        exit(128 + stop_signal);
    }
    if (keep_fd > 3)
        close_fds(3, (unsigned)keep_fd - 1);
    close_fds(keep_fd >= 3 ? (unsigned)keep_fd + 1 : 3, ~0U);
    /* Opened close-on-exec (the PGDATA lock, so that helpers do not hold
     * it); postgres keeps it. */
    if (keep_fd >= 0)
        fcntl(keep_fd, F_SETFD, 0);
    restore_start_signals();
    execvpe(argv[0], (char *const *)argv, envp);
    int saved = errno;
    log_exec_error(argv[0], saved);
    return proc_exec_exit_code(saved);
}

/* Everything about processes: PID-1 signal handling, spawning children with
 * an argv (never a shell string), waiting while forwarding signals and
 * reaping orphans, stopping with a deadline, and the final exec. The only
 * global state of the program lives here: which stop signal arrived, and the
 * table of running children (up to 8) it is forwarded to. */
#ifndef PGEP_PROC_H
#define PGEP_PROC_H

#include <stdbool.h>
#include <sys/types.h>

/* Exit codes: 0 only through exec; 1 for a runtime failure; 64 for a wrong
 * command line; 78 (EX_CONFIG) for a configuration error; 126 when the
 * command could not be executed, 127 when it was not found (as shells and
 * tini do); 128+N after signal N. */
enum {
    EXIT_RUNTIME = 1,
    EXIT_USAGE = 64,
    EXIT_CONFIG = 78,
    EXIT_CANNOT_EXEC = 126,
    EXIT_NOT_FOUND = 127
};

/* The exit code for an exec that failed with err: 127 or 126. */
int proc_exec_exit_code(int err);

/* Installs the handlers for SIGTERM, SIGINT, SIGQUIT and SIGHUP (ignored,
 * and said so once, until exec), and records the signal mask and the
 * dispositions found, which every exec (children, final) gets back. Call
 * first: as PID 1, a signal with the default action is silently dropped. */
void proc_signals_install(void);

/* The stop signal received so far (SIGTERM, SIGINT or SIGQUIT), or 0. */
int proc_stop_signal(void);

/* File descriptors for a child: -1 keeps ours. keep_fd stays open in the
 * child (for a password passed as /proc/self/fd/N), -1 for none. */
struct spawn_io {
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    int keep_fd;
};

/* Starts argv[0] (searched in PATH) with envp, in its own process group,
 * with the signal mask and dispositions found at start. Stop signals received while
 * it runs are forwarded to it. Returns only once the exec happened: when it
 * fails, the child exits (126 or 127), and this logs one line and returns -1. */
int proc_spawn(const char *const argv[], char *const envp[], const struct spawn_io *io, pid_t *pid);

/* Waits for pid (a child from proc_spawn), reaping any other child on the
 * way (orphans reparented to PID 1; the statuses of our other children are
 * kept for their own wait). Returns 0 and the wait status. */
int proc_wait(pid_t pid, int *status);

/* Waits until every one of pids has ended (statuses in the same order),
 * reaping orphans on the way. */
int proc_wait_all(const pid_t *pids, int *statuses, size_t n);

/* 0 when status is a clean exit; else logs "<what> exited with status N"
 * (or the signal) under step, and returns -1. */
int proc_check_status(const char *step, const char *what, int status);

/* spawn + wait; returns 0 only when the child exited 0. Logs a failure under
 * step, once. */
int proc_run(const char *step, const char *const argv[], char *const envp[],
             const struct spawn_io *io);

/* Describes a wait status ("exited with status 1", "was terminated by signal 9"). */
void proc_describe_status(int status, char *buf, size_t len);

/* Sleeps, but returns -1 early when a stop signal arrives. */
int proc_sleep_ms(unsigned ms);

/* Waits until fd is readable, for at most timeout_ms; -1 on a stop signal,
 * 0 on timeout, 1 when readable. */
int proc_wait_readable(int fd, int timeout_ms, bool for_write);

/* Reaps every exited child without blocking (keeping the statuses of ours). */
void proc_reap_exited(void);

/* Without blocking: 1 when pid (a child from proc_spawn) has ended, with
 * its status (status may be NULL), 0 while it runs, -1 when it is not a
 * child of ours (any more). */
int proc_poll(pid_t pid, int *status);

/* Sends sig to pid (a child of ours or any other process, e.g. a server an
 * init script started) and waits until it is gone, reaping on the way, for
 * at most timeout_ms; a stop request does not cut the wait short. 0 when it
 * ended, -1 on timeout. */
int proc_stop(pid_t pid, int sig, unsigned timeout_ms);

/* The final exec: reaps, restores the signal mask and dispositions found at
 * start, closes every descriptor above stderr except keep_fd (which loses
 * close-on-exec), and execs argv with envp.
 * Returns only on failure, logged once: the exit code to use (126 or 127). */
int proc_exec(const char *const argv[], char *const envp[], int keep_fd);

/* A copy of envp without secrets (config.h: env_is_secret), plus extra
 * entries ("NAME=value", NULL-terminated, may be NULL), which replace the
 * entries of envp for the same names. The strings are not
 * copied; the array is the caller's to free. */
char **proc_clean_env(char *const envp[], const char *const extra[]);

#endif

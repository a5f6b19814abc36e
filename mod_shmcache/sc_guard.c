/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sc_guard.c - the parent's guard against SIGBUS, the only signal handling
 * of the module.
 *
 * Whoever can write the segment file (a user it was given to with user= or
 * group=, a process holding a descriptor on it) can truncate it while the
 * root parent has it mapped. The parent's next touch of a page past the new
 * end raises SIGBUS, which would kill httpd. So every segment access of the
 * parent (sc_cache_prepare: create, attach, stats, the mode and owner fix;
 * the close at the end of a generation) runs through sc_guard_run, which
 * catches SIGBUS for its duration and jumps back: the cache fails cleanly
 * and the parent lives. The handle that was in use is then abandoned, never
 * touched again (not even closed: closing touches the mapping).
 *
 * Parent only: the parent runs these single-threaded (post_config, pool
 * cleanups), and one handler and one jump buffer serve the process.
 * Children are not guarded: a child killed by SIGBUS is replaced by the
 * MPM, and the parent's next graceful restart finds the damage.
 */
#include "sc_private.h"

#include <signal.h>
#include <string.h>
#if !defined(WIN32) && defined(SIGBUS)
#include <setjmp.h>
#define SC_HAVE_GUARD 1
#endif

#ifdef SC_HAVE_GUARD
static sigjmp_buf guard_jump;
static volatile sig_atomic_t guard_armed;

static void on_sigbus(int sig)
{
    if (guard_armed) {
        guard_armed = 0;
        siglongjmp(guard_jump, 1);
    }
    signal(sig, SIG_DFL);       /* outside a guarded call: die as before */
    raise(sig);
}

int sc_guard_run(sc_guard_fn *fn, void *baton)
{
    struct sigaction sa, old;
    volatile int faulted = 0;

    if (guard_armed) {          /* nested: the outer guard covers it */
        fn(baton);
        return 0;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old);
    if (sigsetjmp(guard_jump, 1) == 0) {
        guard_armed = 1;
        fn(baton);
        guard_armed = 0;
    }
    else
        faulted = 1;
    sigaction(SIGBUS, &old, NULL);
    return faulted;
}
#else
int sc_guard_run(sc_guard_fn *fn, void *baton)
{
    fn(baton);
    return 0;
}
#endif

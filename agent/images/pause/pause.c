/*
 * pause - the sandbox holder of a dockyard pod.
 *
 * Every pod starts with one container running this program.  It owns the
 * pod's network and IPC namespaces and its hostname; the app containers join
 * them.  So it must do nothing, cost nothing, and never exit on its own.
 *
 * It is often PID 1 of its PID namespace, which has two consequences:
 *  - the kernel drops signals for which PID 1 has no handler, so SIGTERM and
 *    SIGINT need explicit handlers or `docker stop` would wait for SIGKILL;
 *  - orphaned processes are re-parented to it, so it reaps them on SIGCHLD
 *    instead of letting zombies pile up.
 *
 * Built statically (gcc -static -Os) so it runs in a FROM-scratch image.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
    (void)sig;
    _exit(0);  /* async-signal-safe; nothing to flush or clean up */
}

static void reap(int sig) {
    (void)sig;
    int saved = errno;  /* a handler must not clobber errno seen by main */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

int main(void) {
    struct sigaction on_stop = {.sa_handler = stop};
    struct sigaction on_child = {.sa_handler = reap,
                                 .sa_flags = SA_NOCLDSTOP | SA_RESTART};
    sigemptyset(&on_stop.sa_mask);
    sigemptyset(&on_child.sa_mask);
    if (sigaction(SIGINT, &on_stop, NULL) || sigaction(SIGTERM, &on_stop, NULL) ||
        sigaction(SIGCHLD, &on_child, NULL)) {
        perror("pause: sigaction");
        return 1;
    }
    for (;;)
        pause();  /* returns after each handled signal; go back to sleep */
}

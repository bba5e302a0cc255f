#!/bin/sh
# Container entrypoint: busybox httpd in the foreground on port 80.
#
# httpd installs no SIGTERM handler, and the kernel drops unhandled signals
# sent to PID 1, so run as PID 1 it would ignore `docker stop` and die only by
# SIGKILL after the grace period.  This shell is PID 1 instead: it traps
# SIGTERM/SIGINT and exits 0 at once; the kernel then kills httpd with the rest
# of the PID namespace.  If httpd dies on its own, its exit status becomes the
# container's, so a crash stays visible.
trap 'kill -TERM "$httpd" 2>/dev/null; exit 0' TERM INT
httpd -f -p 80 -h /www &
httpd=$!
wait "$httpd"

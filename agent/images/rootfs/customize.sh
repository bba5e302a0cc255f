#!/bin/sh
# Runs once, chrooted into the freshly debootstrapped Debian rootfs, before it
# is packed into the cached tarball that nginx:latest and alicek106/ubuntu:curl
# are imported from.  The recipe files sit next to this script in $RECIPE.
set -eu
RECIPE=${RECIPE:-/tmp/dockyard-rootfs}

# Like the official nginx image: logs go to the container's stdout/stderr so
# `docker logs` / `kubectl logs` show them.  nginx opens them in its root
# master process, before the workers drop privileges.
ln -sf /dev/stdout /var/log/nginx/access.log
ln -sf /dev/stderr /var/log/nginx/error.log

# Like the official image's layout: the default server lives in conf.d and
# serves /usr/share/nginx/html, so manifests that mount pages or config there
# behave as they would with the real nginx image.  Debian's own default site
# also listens on [::]:80, which fails where IPv6 is off; drop it.
rm -f /etc/nginx/sites-enabled/default
install -m 0644 "$RECIPE/default.conf" /etc/nginx/conf.d/default.conf
mkdir -p /usr/share/nginx/html
install -m 0644 "$RECIPE/index.html" /usr/share/nginx/html/index.html
install -m 0644 "$RECIPE/50x.html" /usr/share/nginx/html/50x.html

# Docker provides these per container; do not bake the build host's in.
rm -f /etc/hostname
: > /etc/resolv.conf

# Smaller image, as Debian's official images do: no package lists or caches
# (run `apt-get update` before installing), no man pages or docs.
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
       /usr/share/doc/* /usr/share/man/* /usr/share/info/* /var/log/*.log

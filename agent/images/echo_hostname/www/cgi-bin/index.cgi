#!/bin/sh
# GET / : busybox httpd runs /cgi-bin/index.cgi when a directory has no
# index.html.  The page mirrors alicek106/rr-test:echo-hostname, whose users
# grep for the "<p>Hello, POD-NAME</p>" line to see load balancing at work.
printf 'Content-Type: text/html; charset=utf-8\r\n\r\n'
cat <<PAGE
<!DOCTYPE html>
<meta charset="utf-8" />
<div class="form-layout">
  <blockquote>
    <p>Hello, $(hostname)</p>
  </blockquote>
</div>
PAGE

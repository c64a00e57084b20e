#!/usr/bin/env bash
# Debian packages the project needs beyond Python: a CJK font (receipt previews, the tablet app, the web
# console), Mesa EGL/GL for Kivy's offscreen window, the PostgreSQL client, Chromium's headless shell for
# the browser tests and nginx for the deployment smoke test (deploy/). Installs only what is missing; needs root and apt-get, otherwise says what is missing and goes on
# (the tests that need a missing piece then skip and say why).
set -u
PKGS="fonts-wqy-microhei libegl1 libgl1 libgl1-mesa-dri libgles2 libmtdev1 postgresql-client chromium-headless-shell nginx"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing Debian packages:$missing (run as root: apt-get install$missing)" >&2
  exit 0
fi
echo "system-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || echo "system-deps: apt-get update failed" >&2
# Older or unpatched Debian (and Ubuntu) lack the headless shell: the whole chromium then (the browser tests
# take either), rather than one unknown name making apt-get install nothing at all.
case " $missing " in
  *" chromium-headless-shell "*)
    apt-cache show chromium-headless-shell >/dev/null 2>&1 || missing="${missing/chromium-headless-shell/chromium}" ;;
esac
apt-get install -y -qq --no-install-recommends $missing >/dev/null || echo "system-deps: apt-get failed for:$missing" >&2
exit 0

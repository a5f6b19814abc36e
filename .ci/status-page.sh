#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CI lane "status-page": mod_shmcache's HTML status page in a
# real httpd, loaded by headless Chromium (Debian: chromium).
#   1. builds mod_shmcache (own build dir) and starts Debian's apache2 with
#      a private configuration (own ServerRoot, Listen 127.0.0.1:free port,
#      absolute LoadModule paths, as tests/httpd_fixture.c does) declaring two
#      caches;
#   2. makes traffic through the HTTP key API: hits, misses, and enough
#      stores into the small cache to evict;
#   3. fetches ?json, then has Chromium load the HTML page (--dump-dom)
#      and checks every figure shown (data-k / data-v attributes and the
#      text displayed) against ?json, that the page has the tiles (fill,
#      hit ratio, evictions, lock recoveries, rates, uptime, largest free
#      block) with inline SVG charts, rates per second (each process
#      shows rates from its second view on: the page is viewed first, then
#      traffic made, then loaded again), a viewport meta, and no script or
#      external asset;
#   4. saves screenshots (phone 412 px wide and desktop 1280 px) and the
#      DOM in $SHMCACHE_ARTIFACTS (default build/artifacts/).
# Needs apache2 + apache2-dev, chromium, curl, python3. Skips (exit 0) with
# a message when chromium or apache2 is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${SHMCACHE_STATUS_BUILD:-/tmp/build-pkg-status}
art=${SHMCACHE_ARTIFACTS:-$src/build/artifacts}
jobs=${SHMCACHE_JOBS:-2}
t0=$(date +%s)
step() { echo "--- status-page: $* ($(( $(date +%s) - t0 ))s)"; }
fail() { echo "status-page: FAILED: $*" >&2; exit 1; }

chrome=$(command -v chromium || command -v chromium-browser || true)
httpd=$(command -v apache2 || echo /usr/sbin/apache2)
if [ -z "$chrome" ] || [ ! -x "$httpd" ]; then
  echo "status-page: chromium or apache2 missing (Debian: apt-get install chromium apache2 apache2-dev); skipped" >&2
  exit 0
fi
modules=$(apxs -q LIBEXECDIR)

work=$(mktemp -d /tmp/shmcache-status.XXXXXX)
seg=$(mktemp -d /dev/shm/shmcache-status.XXXXXX)
chmod 755 "$work" "$seg"
httpd_pid=
cleanup() {
  local rc=$?
  set +e
  if [ -n "$httpd_pid" ]; then
    kill -TERM "$httpd_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$httpd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$httpd_pid" 2>/dev/null
  fi
  [ "$rc" = 0 ] || { echo "--- error log:"; tail -30 "$work/error.log" 2>/dev/null; }
  rm -rf "$work" "$seg"
  exit $rc
}
trap cleanup EXIT

step "build mod_shmcache ($build)"
# a build directory left by another checkout would build (or keep) that
# checkout's module, not this tree's
if [ -f "$build/CMakeCache.txt" ] \
   && ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$src" "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  timeout 300 cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSHMCACHE_BUILD_TESTS=OFF -DSHMCACHE_BUILD_BENCH=OFF >"$work/configure.log" \
    || { cat "$work/configure.log"; fail configure; }
fi
timeout 600 cmake --build "$build" -j"$jobs" --target mod_shmcache >"$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log"; fail build; }
module=$build/mod_shmcache/mod_shmcache.so

step "start apache2"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/run" "$work/htdocs"
user_lines=
[ "$(id -u)" -eq 0 ] && user_lines=$'User nobody\nGroup nogroup'
cat > "$work/httpd.conf" <<CONF
ServerRoot $work
DefaultRuntimeDir $work/run
PidFile $work/run/httpd.pid
ErrorLog $work/error.log
LogLevel warn
Listen 127.0.0.1:$port
ServerName 127.0.0.1
DocumentRoot $work/htdocs
$user_lines
LoadModule mpm_prefork_module $modules/mod_mpm_prefork.so
StartServers 2
MinSpareServers 2
MaxSpareServers 4
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule shmcache_module $module
ShmcacheCache sessions $seg/sessions.cache size=4M ttl=30m
ShmcacheCache pages $seg/pages.cache size=512K max-value=64K
<Location /status>
  SetHandler shmcache-status
</Location>
<Location /kv/s>
  SetHandler shmcache-api
  ShmcacheAPICache sessions
</Location>
<Location /kv/p>
  SetHandler shmcache-api
  ShmcacheAPICache pages
</Location>
CONF
setsid timeout 300 "$httpd" -f "$work/httpd.conf" -DFOREGROUND >"$work/stdout.log" 2>&1 &
httpd_pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -s -o /dev/null "$base/status?auto" && break; sleep 0.1; done
curl -sf -o /dev/null "$base/status?auto" || { cat "$work/stdout.log"; fail "httpd does not answer"; }

step "first views of the page (rates are since a process's last view)"
for _ in $(seq 8); do curl -sf -o /dev/null "$base/status"; done

step "traffic through the key API"
python3 - "$base" <<'PY'
import sys, urllib.request, urllib.error
base = sys.argv[1]
def req(method, path, data=None):
    r = urllib.request.Request(base + path, data=data, method=method)
    try:
        with urllib.request.urlopen(r, timeout=10) as f:
            return f.status
    except urllib.error.HTTPError as e:
        return e.code
codes = []
for i in range(40):                       # sessions: 40 stores
    codes.append(req("PUT", "/kv/s/k%d" % i, b"v" * 100))
for i in range(60):                       # 40 hits, 20 misses
    codes.append(req("GET", "/kv/s/k%d" % i))
for i in range(48):                       # pages: 48 x 30K into 512K: evicts
    codes.append(req("PUT", "/kv/p/page%d" % i, b"x" * 30000))
for i in range(48):
    codes.append(req("GET", "/kv/p/page%d" % i))
bad = [c for c in codes if c not in (200, 201, 204, 404)]
if bad:
    sys.exit("unexpected HTTP statuses from the key API: %s" % sorted(set(bad)))
PY

step "?json and the page in headless Chromium"
curl -sf "$base/status?json" > "$work/status.json"
chrome_flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
  --disable-component-update --disable-sync --no-first-run --disable-extensions
  --hide-scrollbars --user-data-dir="$work/chrome")
mkdir -p "$art"
# a view by a process that showed the page before has rates; a process
# the MPM started since has none yet: load again (bounded)
for _ in $(seq 6); do
  timeout 90 "$chrome" "${chrome_flags[@]}" --dump-dom "$base/status" \
    >"$work/dom.html" 2>"$work/chrome.log" || { tail -20 "$work/chrome.log"; fail "chromium --dump-dom"; }
  grep -qE 'Rates</div><div class="big">([1-9][0-9]*|0\.[1-9])[0-9.]*/s<' "$work/dom.html" && break
done
cp "$work/dom.html" "$art/status-page.html"
cp "$work/status.json" "$art/status-page.json"
python3 - "$work/status.json" "$work/dom.html" <<'PY'
import json, sys, re
from html.parser import HTMLParser
js = json.load(open(sys.argv[1]))
dom = open(sys.argv[2]).read()
caches = {c["name"]: c for c in js["caches"]}

class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.cache = None; self.cur = None; self.found = []
        self.tags = set(); self.svgs = 0; self.viewport = False; self.external = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs); self.tags.add(tag)
        if tag == "section" and "data-cache" in a: self.cache = a["data-cache"]
        if tag == "svg": self.svgs += 1
        if tag == "meta" and a.get("name") == "viewport": self.viewport = True
        for k in ("src", "href"):
            if k in a and re.match(r"(https?:)?//", a[k] or ""): self.external.append(a[k])
        if tag == "link": self.external.append(str(a))
        if "data-k" in a:
            self.cur = [self.cache, a["data-k"], a["data-v"], ""]
            self.found.append(self.cur)
    def handle_endtag(self, tag):
        if tag == "span": self.cur = None
    def handle_data(self, d):
        if self.cur is not None: self.cur[3] += d
p = P(); p.feed(dom)
errors = []
if "script" in p.tags: errors.append("the page has a <script>")
if p.external: errors.append("external assets: %s" % p.external)
if not p.viewport: errors.append("no viewport meta")
for want in ("Fill", "Hit ratio", "Evictions", "Lock recoveries", "Rates", "Uptime",
             "Largest free block"):
    if want not in dom: errors.append("no tile " + want)
shown_caches = {f[0] for f in p.found}
if shown_caches != set(caches): errors.append("caches shown %s, ?json has %s" % (shown_caches, set(caches)))
if p.svgs < 4 * len(caches): errors.append("only %d SVG charts" % p.svgs)
units = {"B": 1, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}
checked = 0
for cache, key, v, text in p.found:
    want = caches[cache].get(key)
    if want is None: errors.append("%s: %s not in ?json" % (cache, key)); continue
    if isinstance(want, float) or key in ("fill", "hit_ratio", "fragmentation"):
        if abs(float(v) - float(want)) > 1e-4: errors.append("%s.%s: page %s, json %s" % (cache, key, v, want))
        pcttext = float(text.rstrip("%"))
        if abs(pcttext - float(want) * 100) > 0.051: errors.append("%s.%s shows %s for %s" % (cache, key, text, want))
    elif text.strip() == "none":          # a pid figure: 0 reads "none"
        if int(v) != 0 or int(want) != 0: errors.append("%s.%s: 'none' for %s" % (cache, key, want))
    elif key == "created":                # a date; data-v has the seconds
        if int(v) != int(want): errors.append("%s.%s: page %s, json %s" % (cache, key, v, want))
    else:
        if int(v) != int(want): errors.append("%s.%s: page %s, json %s" % (cache, key, v, want))
        m = re.fullmatch(r"([\d.]+) (B|KiB|MiB|GiB)", text)
        if m:
            if abs(float(m.group(1)) * units[m.group(2)] - int(want)) > 0.05 * units[m.group(2)] + 1:
                errors.append("%s.%s shows %s for %s bytes" % (cache, key, text, want))
        elif text.strip() != str(want):
            errors.append("%s.%s shows %r, json %s" % (cache, key, text, want))
    checked += 1
for name, c in caches.items():
    print("  %-9s fill %.1f%%  hit ratio %.1f%%  evictions %d  lock recoveries %d  largest free %d" %
          (name, c["fill"] * 100, c["hit_ratio"] * 100, c["evictions"], c["lock_recoveries"], c["largest_free"]))
rates = re.findall(r'<td class="rate">([\d.]+)/s</td>', dom)
if not re.search(r'Rates</div><div class="big">[\d.]+/s<', dom) or not rates:
    errors.append("no rates per second on the page")
elif not any(float(x) > 0 for x in rates):
    errors.append("every rate is 0 after the traffic")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("  %d figures on the page match ?json" % checked)
PY

step "screenshots -> $art"
# every process views the page, then some gets and stores, so the shots
# (whichever process answers) show rates
for _ in $(seq 8); do curl -sf -o /dev/null "$base/status"; done
for i in $(seq 30); do
  curl -s -o /dev/null "$base/kv/s/k$i"
  curl -s -o /dev/null -X PUT --data-binary "v$i" "$base/kv/s/n$i"
done
sleep 1
timeout 90 "$chrome" "${chrome_flags[@]}" --window-size=412,2300 \
  --screenshot="$art/status-page-phone.png" "$base/status" >>"$work/chrome.log" 2>&1 \
  || { tail -20 "$work/chrome.log"; fail "chromium --screenshot (phone)"; }
timeout 90 "$chrome" "${chrome_flags[@]}" --window-size=1280,1100 \
  --screenshot="$art/status-page-desktop.png" "$base/status" >>"$work/chrome.log" 2>&1 \
  || { tail -20 "$work/chrome.log"; fail "chromium --screenshot (desktop)"; }
for f in status-page-phone.png status-page-desktop.png; do
  [ -s "$art/$f" ] || fail "no $art/$f"
done
ls -la "$art"
step "passed"

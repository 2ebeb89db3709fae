#!/usr/bin/env bash
# Build the Docker image and run it end to end, as an operator would, against a fake Slack:
#
#   tools/docker-check.sh        # the whole check; installs and starts what it needs
#   tools/docker-check.sh --ci   # the same, but only when it is cheap here: with no Docker
#                                # engine, or no base image or cached stand-in for it, it
#                                # says why it is skipped and exits 0
#
# Steps: start a Docker engine (when none answers), make sure the Dockerfile's base image is
# there (building a local stand-in when no registry can be reached), `docker build`, start
# the fake Slack Web API (tests/support/fake_slack.py) on this host, then with
# --network=host containers: GET /healthz answers 200; the process is not root; an unsigned
# request is refused; a signed /appreciate is acknowledged and its appreciation posted
# (chat.postMessage reaches the fake Slack); a new container on the same /data volume still
# has it; `advocate check` and `advocate migrate` work as one-off containers; the image's
# HEALTHCHECK turns healthy. Any failure stops it with a message and a non-zero exit.
#
# The base image. No image registry is reachable on the machines this project is built on,
# so when the image named in the Dockerfile's FROM (python:X.Y-slim) is not in the engine,
# a stand-in for it is built and tagged with that name: Debian's debootstrap (minbase, this
# machine's Debian release) plus this machine's own CPython X.Y, copied into /usr/local as
# the official image has it. The output says so. The stand-in is kept as a tarball in
# ADVOCATE_DOCKER_CACHE, so a later run (or an engine with an emptied store) loads it in
# seconds instead of building it again.
#
# Settings (environment): ADVOCATE_DOCKER_CACHE (default /var/cache/advocate-docker-check),
# ADVOCATE_STANDIN_PYTHON (the CPython prefix to copy; default: found under pyenv),
# ADVOCATE_DOCKER_KEEP_ENGINE=1 (leave running an engine this script started),
# ENGINE_TIMEOUT (seconds to wait for the engine to answer, default 60),
# PYTHON (runs the fake Slack; default .venv/bin/python).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

CI_MODE=0
case "${1:-}" in
  --ci) CI_MODE=1 ;;
  "") ;;
  *) echo "usage: tools/docker-check.sh [--ci]" >&2; exit 2 ;;
esac

CACHE=${ADVOCATE_DOCKER_CACHE:-/var/cache/advocate-docker-check}
ENGINE_TIMEOUT=${ENGINE_TIMEOUT:-60}
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
IMAGE=advocate:docker-check
RUN_ID="advocate-check-$$"
SIGNING_SECRET="docker-check-signing-secret"
BOT_TOKEN="xoxb-docker-check"
# The giver and the recipient: people the fake Slack knows.
GIVER=U10000
RECIPIENT=U222
# Bump when the stand-in's recipe changes, so a cached one is not reused.
STANDIN_RECIPE=1
STANDIN_PACKAGES=ca-certificates,netbase,tzdata,libbz2-1.0,libcrypt1,libexpat1,libffi8,liblzma5,libncursesw6,libnsl2,libreadline8,libsqlite3-0,libssl3,libtirpc3,libuuid1,zlib1g
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

STARTED=$(date +%s)
STEP=0
STEPS=11
WORK=$(mktemp -d /tmp/advocate-docker-check.XXXXXX)
ENGINE_PID=""
FAKE_PID=""

say() { printf '%s\n' "$*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
seconds_since() { local ms=$(($(now_ms) - $1)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
step() {
  STEP=$((STEP + 1))
  STEP_STARTED=$(now_ms)
  say ""
  say "[$STEP/$STEPS] $*"
}
ok() { say "      ok: $* ($(seconds_since "$STEP_STARTED") s)"; }
note() { say "      $*"; }
indent() { sed 's/^/      | /'; }

fail() {
  say ""
  say "docker-check: FAILED at step $STEP/$STEPS: $*"
  for container in $(docker ps -aq --filter "label=org.advocate.docker-check=$RUN_ID" 2>/dev/null); do
    say "--- last lines of container $(docker inspect -f '{{.Name}}' "$container" 2>/dev/null):"
    docker logs --tail 30 "$container" 2>&1 | indent || true
  done
  exit 1
}

skip() {
  say "docker-check: SKIPPED: $*"
  exit 0
}

# Not ready here: in --ci, a reason to skip; otherwise a failure.
not_ready() {
  if [ "$CI_MODE" = 1 ]; then skip "$*"; fi
  fail "$*"
}

cleanup() {
  local status=$?
  trap - ERR
  set +e
  if [ -n "$FAKE_PID" ]; then kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; fi
  if docker version >/dev/null 2>&1; then
    local containers
    containers=$(docker ps -aq --filter "label=org.advocate.docker-check=$RUN_ID")
    [ -n "$containers" ] && docker rm -f $containers >/dev/null
    docker volume rm "$RUN_ID-data" "$RUN_ID-fresh" >/dev/null 2>&1
  fi
  if [ -n "$ENGINE_PID" ] && [ "${ADVOCATE_DOCKER_KEEP_ENGINE:-0}" != 1 ]; then
    say "docker-check: stopping the Docker engine it started (pid $ENGINE_PID)"
    kill "$ENGINE_PID" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$ENGINE_PID" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'say "docker-check: FAILED at step $STEP/$STEPS: unexpected error (line $LINENO): $BASH_COMMAND"' ERR

elapsed() { echo $(($(date +%s) - STARTED)); }

# ------------------------------------------------------------------------------- the engine

engine_answers() { docker version --format '{{.Server.Version}}' 2>/dev/null; }

start_engine() {
  step "Docker engine"
  if ! command -v docker >/dev/null; then
    not_ready "no docker client on PATH (Debian's package docker.io provides one)"
  fi
  local version
  if version=$(engine_answers); then
    ok "an engine already answers: Docker $version"
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    not_ready "no Docker engine answers, and starting one needs root"
  fi
  if ! command -v dockerd >/dev/null; then
    if [ "$CI_MODE" = 1 ]; then
      skip "the Docker engine is not installed here (Debian's docker.io); run tools/docker-check.sh once to install it and build the cached base image"
    fi
    command -v apt-get >/dev/null || fail "dockerd is not installed and there is no apt-get to install it"
    note "installing Debian's docker.io (dockerd) with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io \
      >"$WORK/apt.log" 2>&1 || { indent <"$WORK/apt.log" | tail -20; fail "apt-get install docker.io failed"; }
  fi
  # overlay2 where the kernel and file system allow it, else vfs (slow, but works anywhere).
  local driver
  for driver in overlay2 vfs; do
    note "starting dockerd --storage-driver=$driver --iptables=false --bridge=none (log: /var/log/advocate-dockerd.log)"
    dockerd --storage-driver="$driver" --iptables=false --bridge=none \
      >>/var/log/advocate-dockerd.log 2>&1 9>&- &
    ENGINE_PID=$!
    local deadline=$(($(date +%s) + ENGINE_TIMEOUT))
    while [ "$(date +%s)" -lt "$deadline" ] && kill -0 "$ENGINE_PID" 2>/dev/null; do
      if version=$(engine_answers); then
        ok "started Docker $version (storage driver $driver, pid $ENGINE_PID)"
        return
      fi
      sleep 0.5
    done
    kill "$ENGINE_PID" 2>/dev/null || true
    wait "$ENGINE_PID" 2>/dev/null || true
    ENGINE_PID=""
    note "dockerd with $driver did not answer within ${ENGINE_TIMEOUT} s:"
    tail -5 /var/log/advocate-dockerd.log | indent
  done
  not_ready "the Docker engine did not start within ${ENGINE_TIMEOUT} s (see /var/log/advocate-dockerd.log)"
}

# ------------------------------------------------------------------------- the base image

# The CPython prefix for version $1 (3.12): ADVOCATE_STANDIN_PYTHON, else the newest pyenv
# build, else a python$1 on PATH installed in a prefix of its own (not Debian's /usr).
find_python() {
  local want=$1 candidate
  for candidate in "${ADVOCATE_STANDIN_PYTHON:-}" \
    $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$want".* 2>/dev/null | sort -V -r); do
    if [ -n "$candidate" ] && [ -x "$candidate/bin/python$want" ] && [ "$candidate" != /usr ]; then
      echo "$candidate"
      return 0
    fi
  done
  if command -v "python$want" >/dev/null; then
    candidate=$("python$want" -c 'import sys; print(sys.base_prefix)' 2>/dev/null) || return 1
    if [ "$candidate" != /usr ] && [ -x "$candidate/bin/python$want" ]; then
      echo "$candidate"
      return 0
    fi
  fi
  return 1
}

# The local trust anchors this machine adds to Debian's (a network that re-signs TLS needs
# them for pip inside `docker build` to reach PyPI).
local_cas() { ls /usr/local/share/ca-certificates/*.crt 2>/dev/null || true; }

build_standin() {
  local tarball=$1 rootfs="$WORK/rootfs"
  command -v debootstrap >/dev/null || {
    note "installing Debian's debootstrap with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap \
      >"$WORK/apt.log" 2>&1 || fail "apt-get install debootstrap failed"
  }
  mkdir -p "$CACHE/debs"
  note "debootstrap --variant=minbase $SUITE from $DEBIAN_MIRROR (log: $CACHE/debootstrap.log)"
  debootstrap --variant=minbase --cache-dir="$CACHE/debs" --include="$STANDIN_PACKAGES" \
    "$SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -20 "$CACHE/debootstrap.log" | indent; fail "debootstrap failed"; }

  note "copying CPython $PY_FULL from $PY_PREFIX to /usr/local (no test suites, and of site-packages only pip)"
  local lib="lib/python$PY_WANT"
  # What the official image leaves out too: test suites, byte code, the static library.
  tar -C "$PY_PREFIX" --exclude=test --exclude=tests --exclude=idle_test --exclude=__pycache__ \
    --exclude="./$lib/site-packages" --exclude='libpython*.a' -cf - . |
    tar -C "$rootfs/usr/local" -xf -
  mkdir -p "$rootfs/usr/local/$lib/site-packages"
  (cd "$PY_PREFIX/$lib/site-packages" && cp -a README.txt pip pip-*.dist-info "$rootfs/usr/local/$lib/site-packages/")
  # Scripts and build settings name the old prefix: point them at /usr/local.
  grep -rlI --null "$PY_PREFIX" "$rootfs/usr/local/bin" "$rootfs/usr/local/$lib"/_sysconfigdata_*.py \
    2>/dev/null | xargs -0 -r sed -i "s#$PY_PREFIX#/usr/local#g"
  chroot "$rootfs" /sbin/ldconfig

  local cas
  cas=$(local_cas)
  if [ -n "$cas" ]; then
    note "adding this machine's local CA certificates ($(echo $cas | xargs -n1 basename | paste -sd' ')) and pointing pip at the system bundle"
    cp $cas "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || fail "update-ca-certificates failed in the stand-in"
    printf '[global]\n# Stand-in only: trust the local CAs this machine adds.\ncert = /etc/ssl/certs/ca-certificates.crt\n' \
      >"$rootfs/etc/pip.conf"
  fi

  chroot "$rootfs" /usr/local/bin/python3 -c \
    'import bz2, ctypes, decimal, hashlib, lzma, readline, sqlite3, ssl, uuid, zlib' ||
    fail "the stand-in's CPython lacks a module it needs"
  chroot "$rootfs" /usr/local/bin/pip --version >/dev/null || fail "the stand-in's pip does not run"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/*
  tar --numeric-owner -C "$rootfs" -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  rm -rf "$rootfs"
}

ensure_base_image() {
  step "Base image"
  FROM_IMAGE=$(awk 'toupper($1) == "FROM" { print $2; exit }' Dockerfile)
  [ -n "$FROM_IMAGE" ] || fail "the Dockerfile names no FROM image"
  local label
  if docker image inspect "$FROM_IMAGE" >/dev/null 2>&1; then
    label=$(docker image inspect -f '{{index .Config.Labels "org.advocate.stand-in"}}' "$FROM_IMAGE")
    if [ -n "$label" ]; then
      ok "base image $FROM_IMAGE is a local stand-in built from $label, already in the engine; it is not the official image"
    else
      ok "base image $FROM_IMAGE is present in the engine"
    fi
    return
  fi
  PY_WANT=$(echo "$FROM_IMAGE" | sed -n 's/^python:\([0-9]*\.[0-9]*\)[.0-9]*-slim.*/\1/p')
  [ -n "$PY_WANT" ] || not_ready "$FROM_IMAGE is not in the engine, no registry is reachable, and this script only knows how to stand in for python:X.Y-slim"
  PY_PREFIX=$(find_python "$PY_WANT") ||
    not_ready "$FROM_IMAGE is not in the engine and this machine has no CPython $PY_WANT of its own to build a stand-in from (set ADVOCATE_STANDIN_PYTHON)"
  PY_FULL=$("$PY_PREFIX/bin/python$PY_WANT" -c 'import platform; print(platform.python_version())')
  SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$SUITE" ] || not_ready "cannot tell this machine's Debian release for debootstrap"
  label="debootstrap (Debian $SUITE, minbase) + this machine's CPython $PY_FULL ($PY_PREFIX)"
  [ -n "$(local_cas)" ] && label="$label + this machine's local CA certificates"
  local key
  key=$(printf '%s\n' "$STANDIN_RECIPE" "$FROM_IMAGE" "$SUITE" "$STANDIN_PACKAGES" "$PY_PREFIX" \
    "$("$PY_PREFIX/bin/python$PY_WANT" -c 'import sys; print(sys.version)')" \
    "$(local_cas | xargs -r sha256sum)" | sha256sum | cut -c1-16)
  local tarball="$CACHE/standin-${FROM_IMAGE//[:\/]/-}-$key.tar"
  if [ ! -f "$tarball" ]; then
    if [ "$CI_MODE" = 1 ]; then
      skip "base image $FROM_IMAGE is not in the engine and no stand-in for it is cached in $CACHE; run tools/docker-check.sh once to build it (about two minutes)"
    fi
    [ "$(id -u)" = 0 ] || fail "building a stand-in base image needs root (debootstrap, chroot)"
    note "$FROM_IMAGE is not in the engine and no image registry is reachable here: building a local stand-in"
    mkdir -p "$CACHE"
    build_standin "$tarball"
    note "cached the stand-in as $tarball ($(du -h "$tarball" | cut -f1))"
  else
    note "loading the stand-in cached as $tarball"
  fi
  docker import \
    --change "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV LANG=C.UTF-8" \
    --change "ENV PYTHON_VERSION=$PY_FULL" \
    --change "LABEL org.advocate.stand-in=\"$label\"" \
    --change 'CMD ["python3"]' \
    "$tarball" "$FROM_IMAGE" >/dev/null || fail "docker import of the stand-in failed"
  ok "base image $FROM_IMAGE is a local stand-in built from $label; it is not the official image"
}

# ------------------------------------------------------------------------------ the checks

build_image() {
  step "docker build --network=host -t $IMAGE ."
  # The label marks the images of this check, so that the ones a new build leaves untagged
  # can be removed without touching anyone else's.
  if ! DOCKER_BUILDKIT=0 docker build --network=host --label org.advocate.docker-check=1 \
    -t "$IMAGE" . >"$WORK/build.log" 2>&1; then
    tail -30 "$WORK/build.log" | indent
    fail "docker build failed"
  fi
  docker image prune -f --filter label=org.advocate.docker-check=1 >/dev/null
  grep -E '^Step [0-9]+/[0-9]+ :' "$WORK/build.log" | cut -c1-110 | indent
  local cached
  cached=$(grep -c 'Using cache' "$WORK/build.log" || true)
  ok "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }'), $cached steps from the layer cache)"
}

start_fake_slack() {
  step "Fake Slack Web API on this host (tests/support/fake_slack.py)"
  [ -x "$PYTHON" ] || not_ready "no $PYTHON to run the fake Slack (create .venv: pip install -e '.[dev]')"
  # bench/fakeslack.py's fake, which counts the calls it receives (GET /bench/stats), granting
  # every scope the app asks for.
  PYTHONPATH="$REPO" "$PYTHON" -c '
import signal, sys, threading
from bench.fakeslack import MeasuredFakeSlack
from bot.slack.scopes import BOT_SCOPES

fake = MeasuredFakeSlack()
fake.scopes = list(BOT_SCOPES)
for user_id in sys.argv[1:]:
    fake.add_user(user_id, tz="Europe/Paris")
fake.start()
print(fake.url, flush=True)
stopped = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stopped.set())
stopped.wait()
fake.stop()
' "$GIVER" "$RECIPIENT" >"$WORK/fakeslack.out" 2>"$WORK/fakeslack.log" 9>&- &
  FAKE_PID=$!
  for _ in $(seq 1 100); do
    FAKE_URL=$(head -n1 "$WORK/fakeslack.out" 2>/dev/null || true)
    [ -n "$FAKE_URL" ] && break
    kill -0 "$FAKE_PID" 2>/dev/null || { indent <"$WORK/fakeslack.log"; fail "the fake Slack did not start"; }
    sleep 0.1
  done
  [ -n "$FAKE_URL" ] || fail "the fake Slack did not print its URL"
  FAKE_BASE=${FAKE_URL%api/}
  FAKE_BASE=${FAKE_BASE%/}
  cat >"$WORK/env" <<EOF
SLACK_BOT_TOKEN=$BOT_TOKEN
SLACK_SIGNING_SECRET=$SIGNING_SECRET
SLACK_API_URL=$FAKE_URL
LOG_LEVEL=INFO
EOF
  ok "serving at $FAKE_URL"
}

posted_messages() {
  curl -fsS "$FAKE_BASE/bench/stats" | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["counts"].get("chat.postMessage", 0))'
}

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# docker run with what every container of this check shares.
run_container() {
  docker run --network=host --env-file "$WORK/env" --label "org.advocate.docker-check=$RUN_ID" "$@"
}

# Waits for GET /healthz to answer 200 (its body in HEALTHZ_BODY) while container $2 runs.
wait_for_healthz() {
  local port=$1 name=$2
  for _ in $(seq 1 120); do
    if HEALTHZ_BODY=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/healthz" 2>/dev/null); then
      return 0
    fi
    [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ] ||
      fail "container $name stopped before /healthz answered"
    sleep 0.5
  done
  fail "GET http://127.0.0.1:$port/healthz did not answer 200 within 60 s"
}

# `advocate run` (the image's CMD) in container $1, on the volume, at a free port of the host.
start_bot() {
  local name=$1
  PORT=$(free_port)
  note "docker run -d --network=host -e PORT=$PORT -v $RUN_ID-data:/data --name $name $IMAGE"
  BOT_STARTED=$(date +%s)
  run_container -d --name "$name" -e "PORT=$PORT" -v "$RUN_ID-data:/data" "$IMAGE" >/dev/null ||
    fail "docker run failed"
  wait_for_healthz "$PORT" "$name"
  note "GET http://127.0.0.1:$PORT/healthz: 200 $HEALTHZ_BODY"
}

check_not_root() {
  step "The process is not root"
  local uid pid1 owner
  uid=$(docker exec "$1" id -u) || fail "docker exec id -u failed"
  pid1=$(docker exec "$1" awk '/^Uid:/ { print $2 }' /proc/1/status)
  owner=$(docker exec "$1" stat -c %u /data/advocate.db) || fail "no /data/advocate.db in the container"
  [ "$uid" != 0 ] || fail "docker exec id -u says 0: the image runs as root"
  [ "$pid1" != 0 ] || fail "PID 1 (advocate run) runs as root"
  ok "docker exec id -u: $uid; PID 1 (advocate run) runs as UID $pid1; /data/advocate.db belongs to UID $owner"
}

# POSTs the form body $1 to /slack/events and prints the HTTP status. Signed as Slack signs
# (and tests/support/slack_requests.py): HMAC-SHA256 of "v0:timestamp:body" with the signing
# secret; with $2 = wrong, a wrong signature.
post_command() {
  local body=$1 mode=${2:-signed} ts signature
  ts=$(date +%s)
  signature=$(printf 'v0:%s:%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$SIGNING_SECRET" -r | cut -d' ' -f1)
  [ "$mode" = wrong ] && signature=0000
  curl -sS -o "$WORK/response" -w '%{http_code}' --max-time 5 \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    -H "X-Slack-Request-Timestamp: $ts" -H "X-Slack-Signature: v0=$signature" \
    --data-binary "$body" "http://127.0.0.1:$PORT/slack/events"
}

appreciate() {
  step "A signed /appreciate is acknowledged and its appreciation posted"
  REASON="for the docker check $RUN_ID"
  # Slack's form body for the command, from the captured payload the tests use.
  local body status before started
  body=$(PYTHONPATH="$REPO" "$PYTHON" -c '
import sys
from tests.support.slack_requests import slash_command_body
giver, recipient, reason, response_url = sys.argv[1:]
body = slash_command_body(
    command="/appreciate", text=f"<@{recipient}> {reason}", user_id=giver, response_url=response_url
)
sys.stdout.write(body.decode())
' "$GIVER" "$RECIPIENT" "$REASON" "$FAKE_BASE/response/docker-check")
  status=$(post_command "$body" wrong)
  [ "$status" = 401 ] || fail "a request with a wrong signature got HTTP $status, not 401"
  note "a request with a wrong signature: HTTP 401"
  before=$(posted_messages)
  started=$(now_ms)
  status=$(post_command "$body")
  [ "$status" = 200 ] || fail "the signed /appreciate got HTTP $status: $(cat "$WORK/response")"
  note "signed /appreciate acknowledged: HTTP 200 in $(($(now_ms) - started)) ms"
  for _ in $(seq 1 60); do
    [ "$(posted_messages)" -gt "$before" ] && break
    sleep 0.5
  done
  [ "$(posted_messages)" -gt "$before" ] || fail "no chat.postMessage reached the fake Slack within 30 s"
  ok "the fake Slack received chat.postMessage ($(posted_messages) in all)"
}

check_data_survives() {
  local old=$1 new=$2 status
  step "The data survives a new container on the same volume"
  docker stop -t 20 "$old" >/dev/null || fail "docker stop $old failed"
  status=$(docker inspect -f '{{.State.ExitCode}}' "$old")
  note "docker stop $old: exit status $status after SIGTERM; removed"
  docker rm "$old" >/dev/null
  start_bot "$new"
  docker exec "$new" advocate export --format json >"$WORK/export.json" ||
    fail "advocate export in the new container failed"
  grep -q "$REASON" "$WORK/export.json" ||
    fail "the new container's export does not have the appreciation \"$REASON\""
  ok "docker exec $new advocate export: the appreciation \"$REASON\" is there"
}

one_off() {
  # A container that runs one subcommand and is removed, on the volume $1.
  local volume=$1
  shift
  run_container --rm --no-healthcheck -v "$volume:/data" "$IMAGE" "$@"
}

check_one_offs() {
  local fresh="$RUN_ID-fresh" output
  step "docker run --rm $IMAGE check, on a new volume"
  output=$(one_off "$fresh" check 2>&1) || { echo "$output" | indent; fail "advocate check failed on a new volume"; }
  echo "$output" | indent
  echo "$output" | grep -q 'does not exist yet; the first `advocate run` creates it' ||
    fail "advocate check on a new volume does not say that \`advocate run\` creates the database"
  ok "exit status 0"

  step "docker run --rm $IMAGE migrate, then check, on that volume"
  output=$(one_off "$fresh" migrate 2>&1) || { echo "$output" | indent; fail "advocate migrate failed"; }
  [ -n "$output" ] && echo "$output" | tail -3 | indent
  output=$(one_off "$fresh" check 2>&1) || { echo "$output" | indent; fail "advocate check failed after advocate migrate"; }
  echo "$output" | indent
  echo "$output" | grep -q 'schema up to date' || fail "advocate check does not find the schema up to date after migrate"
  ok "migrate and check exit 0"
}

wait_healthy() {
  local name=$1 status="" log
  step "The image's HEALTHCHECK turns healthy ($name)"
  for _ in $(seq 1 120); do
    status=$(docker inspect -f '{{.State.Health.Status}}' "$name")
    [ "$status" = healthy ] && break
    [ "$status" = unhealthy ] && break
    sleep 1
  done
  log=$(docker inspect -f '{{range .State.Health.Log}}exit {{.ExitCode}} at {{.End}}{{"\n"}}{{end}}' "$name")
  [ "$status" = healthy ] || { echo "$log" | indent; fail "health status is \"$status\", not healthy"; }
  ok "docker inspect: health status healthy after $(echo "$log" | grep -c .) check(s), $(($(date +%s) - BOT_STARTED)) s after the container started"
}

# -------------------------------------------------------------------------------- the run

# One run at a time on a machine: a session's run and CI's share the engine.
mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
LOCK_WAIT=$([ "$CI_MODE" = 1 ] && echo 120 || echo 600)
flock -w "$LOCK_WAIT" 9 || not_ready "another tools/docker-check.sh has held $CACHE/lock for $LOCK_WAIT s"

say "docker-check: the Advocate image, built and run end to end ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
start_engine
ensure_base_image
build_image
start_fake_slack
step "docker run $IMAGE (advocate run), volume $RUN_ID-data on /data"
start_bot "$RUN_ID-first"
ok "answering"
check_not_root "$RUN_ID-first"
appreciate
check_data_survives "$RUN_ID-first" "$RUN_ID-second"
check_one_offs
wait_healthy "$RUN_ID-second"
say ""
say "docker-check: PASSED, all $STEPS steps, in $(elapsed) s"

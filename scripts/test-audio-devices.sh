#!/usr/bin/env bash
# Virtual sound devices for tests and CI on a headless machine (no sound card).
#
# Runs a private PulseAudio daemon with:
#   sink   "speaker"   null sink, the default sink: what the assistant plays into;
#                      tests record its monitor source "speaker.monitor".
#   sink   "mic_feed"  null sink that tests play into (pacat/paplay --device=mic_feed).
#   source "mic"       remap of "mic_feed.monitor", the default source: the assistant's microphone.
# The app reaches them exactly as on a user's machine: sounddevice -> PortAudio -> ALSA "default"/"pulse"
# PCM -> the ALSA pulse plugin (libasound2-plugins) -> this daemon, selected by PULSE_SERVER.
#
# Usage:
#   eval "$(scripts/test-audio-devices.sh start)"   # start (or reuse) and export the client environment
#   eval "$(scripts/test-audio-devices.sh env)"     # only export the environment of a running daemon
#   scripts/test-audio-devices.sh status            # exit 0 if running; lists sinks and sources
#   scripts/test-audio-devices.sh stop              # kill the daemon and helpers, remove the folder
#
# Nothing is written to $HOME or /etc: the daemon's runtime dir, state, cookie, config and log live in
# $VA_PULSE_DIR (default ${XDG_RUNTIME_DIR:-/tmp}/va-pulse-$UID). Works as root (CI) and as a normal user.
# Needs (Debian): pulseaudio pulseaudio-utils libasound2-plugins libportaudio2.
set -euo pipefail

dir="${VA_PULSE_DIR:-${XDG_RUNTIME_DIR:-/tmp}/va-pulse-$(id -u)}"
socket="$dir/native"
cookie="$dir/cookie"
pidfile="$dir/pulseaudio.pid"
helpers_pidfile="$dir/helpers.pid"
log="$dir/pulseaudio.log"
startup_script="$dir/default.pa"
client_conf="$dir/client.conf"
daemon_conf="$dir/daemon.conf"

# Sample spec of the virtual hardware: what a typical desktop runs at. Clients (16 kHz mic, 24 kHz speaker)
# are resampled by PulseAudio exactly as on a user's machine.
rate=48000
# Latency the keep-alive readers ask for. A null sink with no low-latency reader renders in 2 s blocks, so a
# newly connected stream stalls up to 2 s; a permanent 10 ms reader on each monitor keeps the sinks ticking
# every ~10 ms. Cost: ~2 % of one core for the daemon and both readers (measured idle).
# VA_PULSE_KEEPALIVE_MSEC=0 turns them off (only to demonstrate the stall).
keepalive_msec="${VA_PULSE_KEEPALIVE_MSEC:-10}"

log_msg() { echo "test-audio-devices: $*" >&2; }

# This script deletes $dir on start/stop: refuse anything that is not clearly its own folder.
case "$dir" in
  ""|/|/tmp|/tmp/|"${HOME:-/}"|"${HOME:-/}/") log_msg "refusing VA_PULSE_DIR='$dir'"; exit 2 ;;
esac
if [ -e "$dir" ] && [ ! -f "$dir/default.pa" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
  log_msg "$dir exists and is not ours (no default.pa); refusing to touch it"; exit 2
fi

# The environment a client (the app, pactl, pacat, tests) needs, as shell `export` lines.
print_env() {
  echo "export PULSE_SERVER='unix:$socket'"     # where libpulse (and the ALSA pulse plugin) connects
  echo "export PULSE_COOKIE='$cookie'"          # else libpulse creates ~/.config/pulse/cookie
  echo "export PULSE_CLIENTCONFIG='$client_conf'"  # autospawn = no: never start a daemon in $HOME
  echo "export PULSE_RUNTIME_PATH='$dir/run'"   # keeps libpulse's runtime-dir lookups out of $HOME
  echo "export VA_PULSE_DIR='$dir'"             # where this script keeps its state
}

# Run a PulseAudio client tool against our daemon only (never a user's session daemon).
client_env=(PULSE_SERVER="unix:$socket" PULSE_COOKIE="$cookie" PULSE_CLIENTCONFIG="$client_conf"
            PULSE_RUNTIME_PATH="$dir/run")
pa() { env "${client_env[@]}" "$@"; }

# True if $1 is a live (non-zombie) process. A PID whose process died may be a zombie when PID 1 does not reap.
alive() {
  local state
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)
  [ "$state" != Z ] && [ "$state" != X ]
}

running() {
  [ -f "$pidfile" ] && ours "$(cat "$pidfile")" && pa pactl info >/dev/null 2>&1
}

write_config() {
  # Client config: no autospawn, so a client that misses our server fails instead of starting another daemon.
  cat >"$client_conf" <<EOF
autospawn = no
default-server = unix:$socket
EOF
  # Daemon config (PULSE_CONFIG points here, so no system or user daemon.conf is read).
  cat >"$daemon_conf" <<EOF
default-sample-format = float32le
default-sample-rate = $rate
alternate-sample-rate = $rate
default-sample-channels = 2
exit-idle-time = -1
realtime-scheduling = no
high-priority = no
EOF
  # Startup script (-n: no system default.pa; -F: only this). Every module is explicit.
  cat >"$startup_script" <<EOF
.fail
load-module module-native-protocol-unix socket=$socket auth-cookie=$cookie auth-anonymous=1
load-module module-null-sink sink_name=speaker rate=$rate channels=2 sink_properties=device.description=Speaker
load-module module-null-sink sink_name=mic_feed rate=$rate channels=1 sink_properties=device.description=Mic_feed
load-module module-remap-source master=mic_feed.monitor source_name=mic rate=$rate channels=1 source_properties=device.description=Mic
set-default-sink speaker
set-default-source mic
EOF
}

start_daemon() {
  local pid
  rm -rf "$dir"
  mkdir -p "$dir/run" "$dir/state" "$dir/config"
  chmod 700 "$dir"
  write_config
  # The daemon gets its own HOME/XDG dirs inside $dir so nothing lands in the real $HOME.
  # No DISPLAY / session bus: stay off the user's D-Bus session (it only logs a warning without one).
  # As root, --system=false only logs a warning ("not intended to be run as root"); realtime and
  # high-priority off (no rtkit in CI).
  # setsid + redirected stdio: detached, so `eval "$(... start)"` returns at once.
  env -u DISPLAY -u DBUS_SESSION_BUS_ADDRESS -u PULSE_SERVER \
    HOME="$dir" XDG_CONFIG_HOME="$dir/config" XDG_RUNTIME_DIR="$dir/run" \
    PULSE_RUNTIME_PATH="$dir/run" PULSE_STATE_PATH="$dir/state" PULSE_CONFIG="$daemon_conf" \
    setsid pulseaudio -n -F "$startup_script" --daemonize=no --system=false --exit-idle-time=-1 \
      --use-pid-file=no --realtime=no --high-priority=no --disallow-module-loading=no \
      --log-target=stderr --log-level=notice \
      </dev/null >"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$pidfile"
  for _ in $(seq 100); do                         # up to 10 s for the socket to answer
    if pa pactl info >/dev/null 2>&1; then break; fi
    if ! alive "$pid"; then log_msg "pulseaudio exited; log:"; cat "$log" >&2; return 1; fi
    sleep 0.1
  done
  if ! pa pactl info >/dev/null 2>&1; then log_msg "pulseaudio did not answer on $socket"; return 1; fi
  start_keepalive
}

start_keepalive() {
  local source pid
  : >"$helpers_pidfile"
  if [ "$keepalive_msec" = 0 ]; then return 0; fi
  # Read at the sinks' own spec (no resampling) and throw the data away.
  for source in speaker.monitor mic_feed.monitor; do
    # A plain background command (not a function), so $! is the process that becomes parec.
    env "${client_env[@]}" setsid parec --device="$source" --latency-msec="$keepalive_msec" --raw --format=float32le \
      --rate="$rate" --channels=1 --client-name="va-keepalive" --stream-name="keepalive $source" \
      </dev/null >/dev/null 2>>"$dir/keepalive.log" &
    pid=$!
    echo "$pid" >>"$helpers_pidfile"
  done
  sleep 0.2
  while read -r pid; do
    if ! ours "$pid"; then log_msg "keep-alive reader $pid failed:"; cat "$dir/keepalive.log" >&2; return 1; fi
  done <"$helpers_pidfile"
  # A null sink renders its first block (up to 2 s) before it sees the readers' latency: wait for that block
  # to end, i.e. until a reader gets data from each monitor, so the first test does not stall either.
  for source in speaker.monitor mic_feed.monitor; do
    env "${client_env[@]}" timeout 5 parec --device="$source" --latency-msec="$keepalive_msec" --raw \
      --format=s16le --rate=8000 --channels=1 2>/dev/null | head -c 2 >/dev/null || true
  done
}

# True if $1 is a live process started by this script (guards against a recycled PID).
ours() {
  alive "$1" && case "$(cat "/proc/$1/comm" 2>/dev/null)" in pulseaudio|parec) true ;; *) false ;; esac
}

kill_pids() {  # kill_pids PID... : TERM, wait up to 2 s, then KILL
  local pid left
  for pid in "$@"; do
    if ours "$pid"; then kill "$pid" 2>/dev/null || true; fi
  done
  for _ in $(seq 20); do
    left=0
    for pid in "$@"; do
      if ours "$pid"; then left=1; fi
    done
    if [ "$left" = 0 ]; then return 0; fi
    sleep 0.1
  done
  for pid in "$@"; do
    if ours "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
}

cmd_start() {
  if running; then
    echo "# test-audio-devices: already running (pid $(cat "$pidfile"))"
  else
    if [ -d "$dir" ]; then cmd_stop >/dev/null; fi   # leftovers of a dead daemon
    trap 'cmd_stop >/dev/null 2>&1' EXIT              # a failed start leaves nothing running
    start_daemon
    trap - EXIT
    echo "# test-audio-devices: started (pid $(cat "$pidfile"))"
  fi
  print_env
}

cmd_stop() {
  local pids=()
  if [ -f "$helpers_pidfile" ]; then mapfile -t pids <"$helpers_pidfile"; fi
  if [ -f "$pidfile" ]; then pids+=("$(cat "$pidfile")"); fi
  if [ "${#pids[@]}" -gt 0 ]; then kill_pids "${pids[@]}"; fi
  rm -rf "$dir"
  echo "test-audio-devices: stopped"
}

cmd_status() {
  if running; then
    echo "running: pid $(cat "$pidfile"), server unix:$socket"
    echo "sinks:";   pa pactl list short sinks
    echo "sources:"; pa pactl list short sources
    echo "defaults: sink $(pa pactl get-default-sink), source $(pa pactl get-default-source)"
  else
    echo "not running"
    return 1
  fi
}

case "${1:-}" in
  start)  cmd_start ;;
  stop)   cmd_stop ;;
  status) cmd_status ;;
  env)    if running; then print_env; else log_msg "not running"; exit 1; fi ;;
  *)      echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac

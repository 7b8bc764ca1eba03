#!/usr/bin/env bash
# The system packages the tests need, installed when missing: PortAudio (sounddevice), PulseAudio with its
# utilities and the ALSA pulse plugin (the virtual test devices), tmux (the TUI smoke test). espeak-ng and
# libsndfile come inside the Python wheels. Debian/Ubuntu: apt-get, through sudo when not root. Elsewhere: one
# line naming what is missing, exit 1. Nothing is done when everything is already there.
set -euo pipefail

# Each Debian package, and how to tell it is there without dpkg (so a machine that has them another way passes).
has_lib() { { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q "$1"; }
has_alsa_pulse() { compgen -G "/usr/lib*/alsa-lib/libasound_module_pcm_pulse.so" >/dev/null \
                   || compgen -G "/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so" >/dev/null; }
missing=()
has_lib libportaudio.so || missing+=(libportaudio2)
command -v pulseaudio >/dev/null || missing+=(pulseaudio)
{ command -v pactl && command -v pacat && command -v parec; } >/dev/null || missing+=(pulseaudio-utils)
has_alsa_pulse || missing+=(libasound2-plugins)
command -v tmux >/dev/null || missing+=(tmux)

[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "setup-system: missing ${missing[*]} (Debian package names); install them with your package manager" \
       "(macOS: brew install portaudio tmux; the device tests need PulseAudio)" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "setup-system: missing ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi
echo "setup-system: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

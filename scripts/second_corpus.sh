#!/usr/bin/env bash
# Build the second, independent test corpus: a fixed set of English HTML
# chapters/sections of "The Debian Administrator's Handbook" (Debian package
# `debian-handbook`), copied into a flat folder.
#
# Usage: bash scripts/second_corpus.sh [--dev] [TARGET_DIR]
#   TARGET_DIR defaults to .citeqa-corpora/debian (with --dev:
#   .citeqa-corpora/debian-dev) under the repo root (the parent of this
#   script's folder). Safe to run any number of times.
#
# Questions written against this corpus: seeds/debian_qa.jsonl, never tuned on
# ("sources" there are the file names below, exactly as copied).
# --dev copies 10 other sections of the same book instead, for the development
# set seeds/debian_dev_qa.jsonl (tuning on it is allowed: other documents, other
# questions).
set -euo pipefail

DEV=0
ARGS=()
for arg in "$@"; do
  if [ "$arg" = "--dev" ]; then DEV=1; else ARGS+=("$arg"); fi
done
set -- "${ARGS[@]+"${ARGS[@]}"}"

PKG=debian-handbook
SRC_DIR=/usr/share/doc/debian-handbook/html/en-US

# Fixed list: real prose chapters/sections (no index pages, no tables of
# contents). ~0.5 MB of HTML in total.
FILES=(
  the-debian-project.html                    # 1.1 What is Debian? (history, SPI)
  sect.foundation-documents.html             # 1.2 Social contract, DFSG, codenames
  sect.debian-internals.html                 # 1.3 Developers, DPL, BTS, teams
  sect.release-lifecycle.html                # 1.6 Experimental/Unstable/Testing/Stable, LTS
  sect.manipulating-packages-with-dpkg.html  # 5.4 dpkg
  apt.html                                   # 6.1 sources.list
  sect.apt-get.html                          # 6.2 apt/apt-get/aptitude, pinning
  sect.network-config.html                   # 8.2 Configuring the network
  sect.user-group-databases.html             # 8.4 /etc/passwd, /etc/shadow, /etc/group
  unix-services.html                         # 9.1 System boot (systemd, System V init)
  sect.remote-login.html                     # 9.2 SSH, VNC
  sect.backup.html                           # 9.10 Backup (rsync, dirvish)
  advanced-administration.html               # 12.1 RAID and LVM
  sect.firewall-packet-filtering.html        # 14.2 Firewall (nftables)
)

# --dev: sections that no file above holds, for seeds/debian_dev_qa.jsonl
DEV_FILES=(
  sect.kernel-compilation.html               # 8.10 Compiling a kernel
  sect.http-web-server.html                  # 11.2 Web server (Apache)
  sect.ldap-directory.html                   # 11.7 LDAP directory
  sect.installation-steps.html               # 4.2 Installing, step by step
  sect.building-first-package.html           # 15.2 Building your first package
  sect.selinux.html                          # 14.5 SELinux
  sect.monitoring.html                       # 12.4 Monitoring (Munin, Nagios)
  sect.virtual-private-network.html          # 10.2 VPN (OpenVPN, IPsec)
  sect.automated-installation.html           # 12.3 Automated installation (FAI, preseed)
  sect.task-scheduling-cron-atd.html         # 9.7 cron and atd
)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "$DEV" = 1 ]; then
  FILES=("${DEV_FILES[@]}")
  TARGET="${1:-$ROOT/.citeqa-corpora/debian-dev}"
else
  TARGET="${1:-$ROOT/.citeqa-corpora/debian}"
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

if ! is_installed "$PKG"; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$PKG" >/dev/null
fi

# Some minimal images exclude /usr/share/doc from installs (dpkg path-exclude);
# in that case unpack the .deb ourselves into a cache folder.
if [ ! -f "$SRC_DIR/${FILES[0]}" ]; then
  CACHE="$ROOT/.citeqa-corpora/.debian-handbook-deb"
  if [ ! -f "$CACHE$SRC_DIR/${FILES[0]}" ]; then
    mkdir -p "$CACHE"
    tmp="$(mktemp -d)"
    (cd "$tmp" && apt-get download -qq "$PKG")
    dpkg-deb -x "$tmp"/${PKG}_*.deb "$CACHE"
    rm -rf "$tmp"
  fi
  SRC_DIR="$CACHE$SRC_DIR"
fi

mkdir -p "$TARGET"
for f in "${FILES[@]}"; do
  if [ ! -f "$SRC_DIR/$f" ]; then
    echo "second_corpus.sh: missing $SRC_DIR/$f" >&2
    exit 1
  fi
  install -m 0644 "$SRC_DIR/$f" "$TARGET/$f"
done

TARGET="$(cd "$TARGET" && pwd)"
total=$(cd "$TARGET" && cat "${FILES[@]}" | wc -c)
echo "copied ${#FILES[@]} files ($total bytes) from $PKG" >&2
echo "$TARGET"

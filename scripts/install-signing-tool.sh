#!/usr/bin/env bash
# Install the DCC Boxed signing tool for the opt-in test tests/test_duis_signing_tool.py.
#
# The tool (SmartDCCInnovation/dccboxed-signing-tool, GPL-3.0) comes as the jar bundled by
# the npm package @smartdcc/duis-sign-wrap; it runs on Java 11+ (Debian: openjdk-17-jre-headless).
# It is an external program for the tests only: installed into a cache directory outside
# the repository, never shipped.
#
#   ${GBCS_TOOLS_DIR:-${XDG_CACHE_HOME:-~/.cache}/gbcs-emulator}/duis-sign-wrap
#
# Idempotent: when the pinned version is already there (jar checksum checked) it says so
# and exits 0 without touching the network.
#
# Usage: scripts/install-signing-tool.sh [--offline]
#   --offline   only check; exit 3 when the tool is not installed (no npm, no network)
# Prints the jar's path as the only line on stdout; messages go to stderr.
# Exit codes: 0 ready, 1 cannot install or use it, 2 usage, 3 not installed (--offline).
set -euo pipefail

PACKAGE="@smartdcc/duis-sign-wrap"
VERSION="0.1.2"
# sha256 of dist/tool.jar in duis-sign-wrap 0.1.2 (the only published version).
JAR_SHA256="e71061bd5f6fb641354caf71c4013a44d4ffc5d88ed055b3787ee51a00587ddd"
JAVA_MIN=11

TOOL=install-signing-tool
HELP_LINES=2,17
# shellcheck source=scripts/lib/npm-tools.sh
. "$(dirname "$0")/lib/npm-tools.sh"
parse_offline_option "$@"
tools_dir duis-sign-wrap
jar="$dir/node_modules/$PACKAGE/dist/tool.jar"
require_java

installed_version() {
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$dir/node_modules/$PACKAGE/package.json" 2>/dev/null \
    | head -n 1
}

jar_ok() {
  [ -f "$jar" ] && [ "$(installed_version)" = "$VERSION" ] \
    && [ "$(sha256sum "$jar" | cut -d' ' -f1)" = "$JAR_SHA256" ]
}

if jar_ok; then
  say "$PACKAGE@$VERSION already installed in $dir (Java $java_version)"
  echo "$jar"
  exit 0
fi
if [ "$offline" = 1 ]; then
  say "$PACKAGE@$VERSION is not installed in $dir (run scripts/install-signing-tool.sh)"
  exit 3
fi
if ! command -v npm >/dev/null 2>&1; then
  say "no npm on PATH: cannot install $PACKAGE (Debian: apt-get install npm)"
  exit 1
fi
say "installing $PACKAGE@$VERSION into $dir"
mkdir -p "$dir"
if ! timeout 300 npm install --prefix "$dir" --no-audit --no-fund --save-exact \
  "$PACKAGE@$VERSION" >&2; then
  say "npm install of $PACKAGE@$VERSION failed"
  exit 1
fi
if ! jar_ok; then
  got=$([ -f "$jar" ] && sha256sum "$jar" | cut -d' ' -f1 || echo "no jar")
  say "$jar is not the expected $PACKAGE@$VERSION jar (sha256 $got, want $JAR_SHA256)"
  exit 1
fi
say "installed $PACKAGE@$VERSION (Java $java_version)"
echo "$jar"

#!/usr/bin/env bash
# Install the open DCC Boxed client packages for the opt-in test tests/test_duis_open_client.py.
#
# Four unchanged npm packages of SmartDCCInnovation (all GPL-3.0-or-later), the parts the
# DCC Boxed Node-RED client is built from:
#   @smartdcc/duis-templates   the RTDS DUIS request templates, loaded as JSON
#   @smartdcc/duis-parser      DUIS XML <-> JSON (parseDuis / constructDuis)
#   @smartdcc/duis-sign-wrap   the DCC Boxed signing tool (jar; needs Java 11+)
#   @smartdcc/dccboxed-keystore  the SMKI client (certificatesearch / retrievecertificate)
# They are external programs for the tests only: installed into a cache directory outside
# the repository, never shipped.
#
#   ${GBCS_TOOLS_DIR:-${XDG_CACHE_HOME:-~/.cache}/gbcs-emulator}/open-client
#
# Idempotent: when the pinned versions are already there (registry integrity of each
# package and the jar's checksum checked) it says so and exits 0 without the network.
#
# Usage: scripts/install-open-client.sh [--offline]
#   --offline   only check; exit 3 when the packages are not installed (no npm, no network)
# Prints the install directory as the only line on stdout; messages go to stderr.
# Exit codes: 0 ready, 1 cannot install or use them, 2 usage, 3 not installed (--offline).
set -euo pipefail

# name@version and the registry's dist.integrity of that tarball. duis-templates 0.7.0
# needs duis-parser ^0.7.0, which the registry does not have, so 0.5.0 (parser ^0.6.0).
PACKAGES=(
  "@smartdcc/duis-templates@0.5.0 sha512-pADua7kOwW02/SdLQ0OfAcDVxt5xrtnRIebW6QyujWZz8rB/hUq4QXdogJoHgt0apuV08ls/ItTj1LR2ADEPRw=="
  "@smartdcc/duis-parser@0.6.0 sha512-Nn21EIj18mtG/JtX69N8UbotQ88AOHqbOXW8ve9FH2hSOG14IzpxXt22zjfeB7pG2jwiOj1ct4GcDbRnfmimjQ=="
  "@smartdcc/duis-sign-wrap@0.1.2 sha512-75KX971ymBkNyL2e761c4HYQ4OinTCFfqW+SoCRtFC9cWm4CirKQ5CfSUp0zCFH8LcSyHhDwRL0cVtOj5NeIHg=="
  "@smartdcc/dccboxed-keystore@0.4.2 sha512-uBHBDhyUbq6TQcd4LX+1Iw82pxigYXvZvD7VSRGmtHG/FuNsWUIQTR8IqkOUqVHp9yz2muXSOGtdgFGLMwcjjA=="
)
# sha256 of dist/tool.jar in duis-sign-wrap 0.1.2 (as scripts/install-signing-tool.sh).
JAR_SHA256="e71061bd5f6fb641354caf71c4013a44d4ffc5d88ed055b3787ee51a00587ddd"
JAVA_MIN=11
NODE_MIN=18

TOOL=install-open-client
HELP_LINES=2,21
# shellcheck source=scripts/lib/npm-tools.sh
. "$(dirname "$0")/lib/npm-tools.sh"
parse_offline_option "$@"
tools_dir open-client
jar="$dir/node_modules/@smartdcc/duis-sign-wrap/dist/tool.jar"

node_bin=${NODE:-node}
if ! command -v "$node_bin" >/dev/null 2>&1; then
  say "no '$node_bin' on PATH: install Node.js $NODE_MIN+ (Debian: apt-get install nodejs npm)"
  exit 1
fi
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ! [ "$node_major" -ge "$NODE_MIN" ] 2>/dev/null; then
  say "'$node_bin' is Node.js $node_major: the client needs Node.js $NODE_MIN or newer (global fetch)"
  exit 1
fi
require_java

# What npm recorded for an installed package: "<version> <integrity>" (empty if absent).
recorded() {
  "$node_bin" -e '
    const fs = require("fs");
    try {
      const p = JSON.parse(fs.readFileSync(process.argv[1] + "/node_modules/.package-lock.json"));
      const e = p.packages["node_modules/" + process.argv[2]] || {};
      if (e.version && e.integrity) console.log(e.version + " " + e.integrity);
    } catch (e) {}' "$dir" "$1"
}

# Prints the first mismatch (nothing when every package and the jar are as pinned).
mismatch() {
  local spec name version integrity got
  for spec in "${PACKAGES[@]}"; do
    read -r name integrity <<<"$spec"
    version=${name##*@}
    name=${name%@*}
    got=$(recorded "$name")
    if [ "$got" != "$version $integrity" ]; then
      echo "$name: installed '${got:-nothing}', want '$version $integrity'"
      return
    fi
  done
  got=$([ -f "$jar" ] && sha256sum "$jar" | cut -d' ' -f1 || echo "no jar")
  [ "$got" = "$JAR_SHA256" ] || echo "$jar: sha256 $got, want $JAR_SHA256"
}

problem=$(mismatch)
if [ -z "$problem" ]; then
  say "open client packages already installed in $dir (Node.js $node_major, Java $java_version)"
  echo "$dir"
  exit 0
fi
if [ "$offline" = 1 ]; then
  [ -d "$dir/node_modules" ] || problem="nothing there"
  say "open client packages are not installed in $dir ($problem; run scripts/install-open-client.sh)"
  exit 3
fi
if ! command -v npm >/dev/null 2>&1; then
  say "no npm on PATH: cannot install the open client packages (Debian: apt-get install npm)"
  exit 1
fi
specs=()
for spec in "${PACKAGES[@]}"; do specs+=("${spec%% *}"); done
say "installing ${specs[*]} into $dir"
mkdir -p "$dir"
# npm leaves a damaged or other version's tree as it is ("up to date"): start afresh.
rm -rf "$dir/node_modules" "$dir/package-lock.json"
if ! timeout 300 npm install --prefix "$dir" --no-audit --no-fund --save-exact "${specs[@]}" >&2; then
  say "npm install of the open client packages failed"
  exit 1
fi
problem=$(mismatch)
if [ -n "$problem" ]; then
  say "not the pinned package: $problem"
  exit 1
fi
say "installed ${specs[*]} (Node.js $node_major, Java $java_version)"
echo "$dir"

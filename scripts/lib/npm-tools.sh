# Shared by the install scripts of the opt-in tests' external programs
# (scripts/install-signing-tool.sh, scripts/install-open-client.sh); sourced, not run.
# The sourcing script sets TOOL (its name in messages) and HELP_LINES (the sed range of
# its usage header) first.

say() { echo "$TOOL: $*" >&2; }

# Sets offline=1 for --offline; prints the usage header for -h/--help; exit 2 otherwise.
parse_offline_option() {
  offline=0
  case "${1:-}" in
    "") ;;
    --offline) offline=1 ;;
    -h | --help) sed -n "${HELP_LINES}p" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--offline]" >&2; exit 2 ;;
  esac
}

# Sets dir to the cache directory <GBCS_TOOLS_DIR>/$1 (default
# ${XDG_CACHE_HOME:-~/.cache}/gbcs-emulator/$1); refuses one inside the repository.
tools_dir() {
  local repo base
  repo=$(cd "$(dirname "$0")/.." && pwd -P)
  base=${GBCS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gbcs-emulator}
  dir=$(realpath -m "$base/$1")
  case "$dir/" in
    "$repo"/*) say "refusing to install inside the repository ($dir): set GBCS_TOOLS_DIR elsewhere"; exit 1 ;;
  esac
}

# Sets java_bin and java_version; exits 1 unless $JAVA (default java) is Java $JAVA_MIN+.
require_java() {
  local major
  java_bin=${JAVA:-java}
  if ! command -v "$java_bin" >/dev/null 2>&1; then
    say "no '$java_bin' on PATH: install a Java $JAVA_MIN+ runtime (Debian: apt-get install openjdk-17-jre-headless)"
    exit 1
  fi
  # 'openjdk version "17.0.15" 2025-04-15' -> 17; '"1.8.0_392"' -> 8.
  java_version=$("$java_bin" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)
  major=${java_version%%.*}
  [ "$major" = 1 ] && major=$(echo "$java_version" | cut -d. -f2)
  if ! [ "$major" -ge "$JAVA_MIN" ] 2>/dev/null; then
    say "'$java_bin' is Java '${java_version:-unknown}': the signing tool needs Java $JAVA_MIN or newer"
    exit 1
  fi
}

#!/usr/bin/env bash
# Drive an emulated site through its control API from the shell: mosquitto_pub and
# mosquitto_sub carry the JSON requests, replies and alerts; `gbcs-emu decode` verifies
# what the devices sign or MAC; `gbcs-emu send` is the head-end for the GBCS commands
# (it builds, signs and MACs them with fresh counters, and verifies the answer).
#
# Usage: scripts/control-demo.sh [WORK_DIR]
#   WORK_DIR (default: a new temporary directory) gets the state directory and logs.
#   GBCS_EMU   the gbcs-emu command (default: .venv/bin/gbcs-emu, else gbcs-emu on PATH)
#   BROKER_HOST/BROKER_PORT  an MQTT broker to use (default: a mosquitto started here
#              on a free port, else the emulator's embedded broker)
#   TIMEOUT    seconds to wait for each reply or alert (default 20)
#
# Steps: set a register (the import MPAN) and read it back over GBCS (ECS40); cut the
# power, receive the CHF's AD1 record and, on restoration, the ESME's ECS80 alert; inject
# an alert and verify it; hold a firmware image, activate it with CS06, read the running
# version (ECS52). Exit 0 when every step checked out; otherwise one line saying which
# step failed, and a non-zero exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${GBCS_EMU:-}" ]; then
  if [ -x "$ROOT/.venv/bin/gbcs-emu" ]; then GBCS_EMU="$ROOT/.venv/bin/gbcs-emu"; else GBCS_EMU=gbcs-emu; fi
fi
TIMEOUT=${TIMEOUT:-20}
SITE=site-0
ESME=00DB1234567890A0
CHF=00DB1234567890A2
MPAN=1234567890123
IMAGE_VERSION=0A0B0C0D  # 4 octets
PIDS=()

fail() { echo "control-demo: FAILED: $*" >&2; exit 1; }
step() { echo "== $*"; }
for tool in mosquitto_pub mosquitto_sub; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (apt-get install mosquitto-clients)"
done
command -v "$GBCS_EMU" >/dev/null 2>&1 || [ -x "$GBCS_EMU" ] || fail "$GBCS_EMU not found (set GBCS_EMU)"

WORK=${1:-$(mktemp -d -t gbcs-control-demo.XXXXXX)}
mkdir -p "$WORK"
STATE=$WORK/state
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# The site: no extra AD1 latency. The emulator runs 60 times faster than real time, so
# the 3-minute outage AD1 needs takes 3 s.
cat >"$WORK/site.toml" <<EOF
[site]
id = "$SITE"
[chf]
ad1_latency_seconds = 0
EOF

run_args=(run --control --config "$WORK/site.toml" --state "$STATE" --clock x60 --quiet)
if [ -n "${BROKER_PORT:-}" ]; then
  HOST=${BROKER_HOST:-127.0.0.1}; PORT=$BROKER_PORT
elif command -v mosquitto >/dev/null 2>&1; then
  HOST=127.0.0.1
  PORT=$("$ROOT/.venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$PORT" >"$WORK/mosquitto.conf"
  mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
  PIDS+=($!)
else
  HOST=  # the embedded broker: its address is in run.json once the emulator runs
fi
if [ -n "$HOST" ]; then run_args+=(--broker "mqtt://$HOST:$PORT"); fi

step "starting gbcs-emu run --control (state $STATE)"
"$GBCS_EMU" "${run_args[@]}" >"$WORK/run.log" 2>&1 &
EMU=$!
PIDS+=("$EMU")
for _ in $(seq 1 "$((TIMEOUT * 10))"); do
  [ -f "$STATE/stats-0.json" ] && break
  kill -0 "$EMU" 2>/dev/null || fail "gbcs-emu run stopped: $(tail -n 3 "$WORK/run.log")"
  sleep 0.1
done
[ -f "$STATE/stats-0.json" ] || fail "gbcs-emu run did not start within $TIMEOUT s"
if [ -z "$HOST" ]; then
  url=$(grep -o '"broker": *"mqtt://[^"]*"' "$STATE/run.json" | grep -o 'mqtt://[^"]*')
  hostport=${url#mqtt://}
  HOST=${hostport%:*}; PORT=${hostport##*:}
fi
MQ=(-h "$HOST" -p "$PORT" -q 1)

# One subscriber for the replies (JSON text, one per line), one for the alerts (topic
# and payload in hex: GBCS frames are binary).
mosquitto_sub "${MQ[@]}" -t "gbcs/$SITE/+/control/reply" -F '%p' >"$WORK/replies.log" &
PIDS+=($!)
mosquitto_sub "${MQ[@]}" -t "gbcs/$SITE/+/alert" -F '%t %x' >"$WORK/alerts.log" &
PIDS+=($!)

wait_for() {  # wait_for FILE PATTERN WHAT: the first line of FILE matching PATTERN
  local line
  for _ in $(seq 1 "$((TIMEOUT * 10))"); do
    line=$(grep -m 1 -E -- "$2" "$1" 2>/dev/null || true)
    if [ -n "$line" ]; then echo "$line"; return 0; fi
    sleep 0.1
  done
  fail "no $3 within $TIMEOUT s"
}

# Both subscribers are live once they see what is published after them.
for i in $(seq 1 50); do
  mosquitto_pub "${MQ[@]}" -t "gbcs/$SITE/$ESME/control" -m "{\"id\":\"probe-$i\",\"op\":\"no_such_op\"}"
  mosquitto_pub "${MQ[@]}" -t "gbcs/$SITE/0000000000000000/alert" -m "probe-$i"
  sleep 0.2
  grep -q "\"id\":\"probe-" "$WORK/replies.log" && grep -q "0000000000000000/alert" "$WORK/alerts.log" && break
done
wait_for "$WORK/replies.log" '"id":"probe-' "reply from the control API" >/dev/null

N=0
ctl() {  # ctl EUI 'JSON fields': one request; prints its reply; fails unless ok
  N=$((N + 1))
  local id="req-$N" reply
  mosquitto_pub "${MQ[@]}" -t "gbcs/$SITE/$1/control" -m "{\"id\":\"$id\",$2}"
  reply=$(wait_for "$WORK/replies.log" "\"id\":\"$id\"" "reply to {$2}")
  echo "   reply: $reply"
  case $reply in *'"ok":true'*) ;; *) fail "control request {$2} refused: $reply" ;; esac
}

alert_after() {  # alert_after LINE TOPIC_EUI: the first alert of that EUI after line LINE
  local line
  for _ in $(seq 1 "$((TIMEOUT * 10))"); do
    line=$(tail -n +"$(($1 + 1))" "$WORK/alerts.log" | grep -m 1 "^gbcs/$SITE/$2/alert " || true)
    if [ -n "$line" ]; then echo "${line#* }"; return 0; fi
    sleep 0.1
  done
  fail "no alert from $2 within $TIMEOUT s"
}

verify() {  # verify HEX WHAT: gbcs-emu decode with the PKI and the devices' public keys
  local out verdicts
  out=$("$GBCS_EMU" decode --keys "$STATE/pki" --keys "$STATE/device-keys" "$1") \
    || fail "$2 does not decode"
  verdicts=$(echo "$out" | grep -E '^(MAC|Signature): ' || true)
  echo "$verdicts" | sed 's/^/   /'
  echo "$verdicts" | grep -qE ': valid' || fail "$2 does not verify"
  if echo "$verdicts" | grep -qvE ': (valid|absent)'; then fail "$2: a verdict is not valid"; fi
}

hex_text() { printf '%b' "$(printf '%s' "$1" | sed 's/../\\x&/g')"; }

send() {  # send ARGS...: gbcs-emu send --json to the running emulator
  "$GBCS_EMU" send --state "$STATE" --timeout "$TIMEOUT" --json "$@" || fail "gbcs-emu send $*"
}

step "1. set the import MPAN with set_cosem, read it back over GBCS (ECS40)"
mpan_hex=$(printf '%s' "$MPAN" | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
ctl "$ESME" "\"op\":\"set_cosem\",\"class_id\":1,\"obis\":\"0-0:94.44.34.11\",\"attribute\":2,\"value\":{\"type\":\"octet-string\",\"value\":\"$mpan_hex\"}"
read_back=$(send --to "$ESME" ECS40)
echo "   ECS40: $read_back"
echo "$read_back" | grep -q "\"$MPAN\"" || fail "ECS40 did not read back MPAN $MPAN"

step "2. cut the power: the CHF's AD1 record; restore it: the ESME's ECS80 alert"
mark=$(wc -l <"$WORK/alerts.log")
ctl "$ESME" '"op":"power","state":"off"'
ad1_hex=$(alert_after "$mark" "$CHF")
ad1=$(hex_text "$ad1_hex")
echo "   AD1: $ad1"
case $ad1 in '{'*) ;; *) fail "the CHF's alert is not the AD1 JSON record: $ad1_hex" ;; esac
mark=$(wc -l <"$WORK/alerts.log")
ctl "$ESME" '"op":"power","state":"on"'
ecs80=$(alert_after "$mark" "$ESME")
verify "$ecs80" "the ECS80 alert"
"$GBCS_EMU" decode --json "$ecs80" | grep -qE '"message_code": "0x0067"' || fail "the ESME's alert is not ECS80 (0x0067)"

step "3. inject alert 0x8F3F (tamper detect) on the ESME and verify it"
mark=$(wc -l <"$WORK/alerts.log")
ctl "$ESME" '"op":"inject_alert","code":"0x8F3F"'
injected=$(alert_after "$mark" "$ESME")
verify "$injected" "the injected alert"
"$GBCS_EMU" decode --json "$injected" | grep -qiE "8F3F" || fail "the injected alert does not carry 0x8F3F"
echo "   alert 0x8F3F received and verified"

step "4. hold a firmware image, activate it with CS06, read the running version (ECS52)"
image_hash=$(printf 'gbcs-emulator control demo image' | sha256sum | cut -c1-64 | tr a-f A-F)
ctl "$ESME" "\"op\":\"hold_firmware\",\"hash\":\"$image_hash\",\"version\":\"$IMAGE_VERSION\""
activation=$(send --to "$ESME" CS06 "image_hash=$image_hash")
echo "   CS06: $activation"
version=$(send --to "$ESME" ECS52)
echo "   ECS52: $version"
echo "$version" | grep -qi "$IMAGE_VERSION" || fail "ECS52 does not show version $IMAGE_VERSION"

echo "control-demo: all steps passed (logs in $WORK)"

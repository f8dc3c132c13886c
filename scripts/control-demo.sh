#!/usr/bin/env bash
# Drive an emulated site from the shell the way a test bench in any language would
# (Java/Cucumber, Node-RED, shell): every message on the broker goes through
# mosquitto_pub / mosquitto_sub, and gbcs-emu is used only as two offline tools:
#
#   * `gbcs-emu usecase build` makes each GBCS command frame from a JSON object this
#     script writes (use case, named arguments, header). It is needed because a device
#     accepts a command only with the ACB's MAC (a key agreed from the ACB's and the
#     device's KA keys) and, for a critical command such as CS06, the supplier's ECDSA
#     signature, both over a header carrying a fresh originator counter the device checks
#     against replays. A bench generates its frames the same way: from the use case and
#     its arguments, with the parties' keys.
#   * `gbcs-emu decode --json --keys ...` verifies every response and alert (MAC or
#     signature) and is where the script reads the values from.
#
# Topics (fixed by the emulator): gbcs/<site>/<eui>/control and .../control/reply (JSON
# text), gbcs/<site>/<eui>/in (commands), .../out (responses), .../alert (alerts; the
# CHF's AD1 record is JSON text). GBCS frames travel as binary payloads: the script
# publishes them with `mosquitto_pub -f FILE` and receives them as hex (`mosquitto_sub
# -F '%t %x'`).
#
# The head-end parties come from the state's PKI, as `gbcs-emu send` finds them: the
# lowest EUI whose organisation certificate names the role (subject OU=02 supplier,
# OU=04 ACB) and whose DS and KA private keys are there. Originator counters start at
# max(now in seconds, the state's head-end counter store + 1), the rule `gbcs-emu send`
# follows, so counters rise across this script, earlier runs and `gbcs-emu send`.
#
# Usage: scripts/control-demo.sh [WORK_DIR]
#   WORK_DIR (default: a new temporary directory) gets the state directory, the command
#            objects and frames (cmd-*.json, *.bin), the decoded responses and the logs.
#   GBCS_EMU   the gbcs-emu command (default: .venv/bin/gbcs-emu, else gbcs-emu on PATH)
#   BROKER_HOST/BROKER_PORT  an MQTT broker to use (default: a mosquitto started here
#              on a free port, else the emulator's embedded broker)
#   TIMEOUT    seconds to wait for each reply, response or alert (default 20)
# Needs mosquitto_pub/mosquitto_sub (mosquitto-clients), jq and openssl.
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
for tool in jq openssl; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (apt-get install $tool)"
done
command -v "$GBCS_EMU" >/dev/null 2>&1 || [ -x "$GBCS_EMU" ] || fail "$GBCS_EMU not found (set GBCS_EMU)"

WORK=${1:-$(mktemp -d -t gbcs-control-demo.XXXXXX)}
mkdir -p "$WORK"
STATE=$WORK/state
PKI=$STATE/pki
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
  url=$(jq -r '.broker // empty' "$STATE/run.json")
  hostport=${url#mqtt://}
  HOST=${hostport%:*}; PORT=${hostport##*:}
fi
MQ=(-h "$HOST" -p "$PORT" -q 1)

party() {  # party OU ROLE: the lowest EUI in the PKI with that role and both private keys
  local pem eui subject
  for pem in "$PKI"/*-ds.pem; do
    [ -f "$pem" ] || continue
    eui=$(basename "$pem" -ds.pem)
    case $eui in *[!0-9a-fA-F]*) continue ;; esac
    [ -f "$PKI/$eui-ds.key" ] && [ -f "$PKI/$eui-ka.key" ] || continue
    subject=$(openssl x509 -in "$pem" -noout -subject -nameopt RFC2253 2>/dev/null || true)
    if [[ $subject =~ (^|[=,])OU=$1(,|$) ]]; then
      echo "$eui" | tr a-f A-F
      return 0
    fi
  done
  fail "no $2 in $PKI: expected <eui>-ds.pem with subject OU=$1 beside <eui>-ds.key and <eui>-ka.key"
}
SUPPLIER=$(party 02 supplier)
ACB=$(party 04 "access-control broker")
KEYS=(--keys "$PKI" --keys "$STATE/device-keys" --acb "$ACB")
COUNTER=$(date +%s)
store=$STATE/headend-counters.sqlite
if [ -f "$store" ] && command -v sqlite3 >/dev/null 2>&1; then
  used=$(sqlite3 -readonly "$store" "SELECT max(reserved) FROM counters WHERE upper(originator) = '$SUPPLIER'" 2>/dev/null || true)
  if [[ $used =~ ^[0-9]+$ ]] && [ "$used" -ge "$COUNTER" ]; then COUNTER=$((used + 1)); fi
fi
echo "   supplier $SUPPLIER, ACB $ACB, first counter $COUNTER"

# One subscriber for the control replies (JSON text, one per line), one for the GBCS
# responses and alerts (topic, then the payload in hex: GBCS frames are binary).
mosquitto_sub "${MQ[@]}" -t "gbcs/$SITE/+/control/reply" -F '%p' >"$WORK/replies.log" &
PIDS+=($!)
mosquitto_sub "${MQ[@]}" -t "gbcs/$SITE/+/out" -t "gbcs/$SITE/+/alert" -F '%t %x' >"$WORK/frames.log" &
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
  grep -q "\"id\":\"probe-" "$WORK/replies.log" && grep -q "0000000000000000/alert" "$WORK/frames.log" && break
done
wait_for "$WORK/replies.log" '"id":"probe-' "reply from the control API" >/dev/null
wait_for "$WORK/frames.log" '0000000000000000/alert' "probe on the alert topic" >/dev/null

N=0
ctl() {  # ctl EUI 'JSON fields': one request; prints its reply; fails unless ok
  N=$((N + 1))
  local id="req-$N" reply
  mosquitto_pub "${MQ[@]}" -t "gbcs/$SITE/$1/control" -m "{\"id\":\"$id\",$2}"
  reply=$(wait_for "$WORK/replies.log" "\"id\":\"$id\"" "reply to {$2}")
  echo "   reply: $reply"
  case $reply in *'"ok":true'*) ;; *) fail "control request {$2} refused: $reply" ;; esac
}

hex_text() { printf '%b' "$(printf '%s' "$1" | sed 's/../\\x&/g')"; }  # hex -> octets

value_of() {  # value_of DECODED.json NAME: the value of the first field NAME in the tree
  jq -r --arg n "$2" '[.. | objects | select(.name? == $n) | .value] | first // empty' "$1"
}

decode() {  # decode HEX OUT.json WHAT: gbcs-emu decode --json, MAC/signature verified
  local mac sig v
  "$GBCS_EMU" decode --json "${KEYS[@]}" "$1" >"$2" 2>"$WORK/decode.err" \
    || fail "$3 does not decode: $(tail -n 1 "$WORK/decode.err")"
  mac=$(jq -r '.mac.verdict' "$2")
  sig=$(jq -r '.signature.verdict' "$2")
  echo "   $3: MAC $mac, signature $sig"
  [ "$mac" = valid ] || [ "$sig" = valid ] \
    || fail "$3 carries no verified MAC or signature (MAC $mac, signature $sig)"
  for v in "$mac" "$sig"; do
    case $v in valid | absent | null) ;; *) fail "$3 does not verify (MAC $mac, signature $sig)" ;; esac
  done
}

frame_after() {  # frame_after LINE TOPIC_EUI KIND: the first KIND (out|alert) frame after line LINE
  local line
  for _ in $(seq 1 "$((TIMEOUT * 10))"); do
    line=$(tail -n +"$(($1 + 1))" "$WORK/frames.log" | grep -m 1 "^gbcs/$SITE/$2/$3 " || true)
    if [ -n "$line" ]; then echo "${line#* }"; return 0; fi
    sleep 0.1
  done
  fail "no $3 from $2 within $TIMEOUT s"
}

gbcs() {  # gbcs USE_CASE 'NAMED JSON': one command to the ESME; RESPONSE = its decoded response
  local uc=$1 counter=$COUNTER base built hex mark seen line got alerted
  COUNTER=$((COUNTER + 1))
  base="$WORK/cmd-$counter-$uc"
  printf '{"id": "%s", "use_case": "%s", "named": %s, "header": {"originator": "%s", "recipient": "%s", "counter": %s, "date_time": null}}\n' \
    "$uc-$counter" "$uc" "$2" "$SUPPLIER" "$ESME" "$counter" >"$base.json"
  if ! built=$("$GBCS_EMU" usecase build --file "$base.json" "${KEYS[@]}" 2>"$WORK/build.err"); then
    [ -n "$built" ] || built=$(tail -n 1 "$WORK/build.err")
    fail "gbcs-emu usecase build $base.json: ${built#*$'\t'}"
  fi
  hex=$(printf '%s' "$built" | cut -f2)
  hex_text "$hex" >"$base.bin"
  mark=$(wc -l <"$WORK/frames.log")
  mosquitto_pub "${MQ[@]}" -t "gbcs/$SITE/$ESME/in" -f "$base.bin"
  echo "   $uc sent: counter $counter, $(wc -c <"$base.bin") octets on gbcs/$SITE/$ESME/in"
  # The response echoes the command's counter; anything else on .../out is not ours. A
  # refused command gets no response, but often an alert (e.g. 0x8F53): say which.
  seen=$mark
  alerted=""
  for _ in $(seq 1 "$((TIMEOUT * 10))"); do
    while IFS= read -r line; do
      seen=$((seen + 1))
      case $line in
        "gbcs/$SITE/$ESME/out "*) ;;
        "gbcs/$SITE/$ESME/alert "*)
          if "$GBCS_EMU" decode --json --lenient "${line#* }" >"$WORK/probe.json" 2>/dev/null; then
            alerted+=" $(value_of "$WORK/probe.json" "Alert Code")"
          fi
          continue ;;
        *) continue ;;
      esac
      "$GBCS_EMU" decode --json --lenient "${line#* }" >"$WORK/probe.json" 2>/dev/null || continue
      got=$(jq -r '.header.originator_counter // empty' "$WORK/probe.json")
      if [ "$got" = "$counter" ]; then
        RESPONSE="$base.response.json"
        decode "${line#* }" "$RESPONSE" "$uc response (counter $counter)"
        got=$(jq -r '.use_case // empty' "$RESPONSE")
        [ "$got" = "$uc" ] || fail "the response to $uc (counter $counter) is a ${got:-unknown use case}"
        return 0
      fi
    done < <(tail -n +"$((seen + 1))" "$WORK/frames.log")
    sleep 0.1
  done
  fail "no response from $ESME to $uc (counter $counter) within $TIMEOUT s${alerted:+; the ESME alerted$alerted meanwhile}"
}

step "1. set the import MPAN with set_cosem, read it back over GBCS (ECS40)"
mpan_hex=$(printf '%s' "$MPAN" | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
ctl "$ESME" "\"op\":\"set_cosem\",\"class_id\":1,\"obis\":\"0-0:94.44.34.11\",\"attribute\":2,\"value\":{\"type\":\"octet-string\",\"value\":\"$mpan_hex\"}"
gbcs ECS40 '{}'
import_mpan=$(value_of "$RESPONSE" "[0] Octet String")
echo "   ECS40 import MPAN: $import_mpan"
case $import_mpan in "$mpan_hex "*) ;; *) fail "ECS40 did not read back MPAN $MPAN (hex $mpan_hex): $import_mpan" ;; esac

step "2. cut the power: the CHF's AD1 record; restore it: the ESME's ECS80 alert"
mark=$(wc -l <"$WORK/frames.log")
ctl "$ESME" '"op":"power","state":"off"'
ad1=$(hex_text "$(frame_after "$mark" "$CHF" alert)")
echo "   AD1: $ad1"
[ "$(printf '%s' "$ad1" | jq -r '.alert' 2>/dev/null)" = AD1 ] \
  || fail "the CHF's alert is not the AD1 JSON record: $ad1"
mark=$(wc -l <"$WORK/frames.log")
ctl "$ESME" '"op":"power","state":"on"'
decode "$(frame_after "$mark" "$ESME" alert)" "$WORK/alert-ecs80.json" "the ECS80 alert"
code=$(jq -r '.header.message_code' "$WORK/alert-ecs80.json")
echo "   alert message code: $code ($(jq -r '.header.message_code_name' "$WORK/alert-ecs80.json"))"
[ "$code" = 0x0067 ] || fail "the ESME's alert is not ECS80 (0x0067): $code"

step "3. inject alert 0x8F3F (tamper detect) on the ESME and verify it"
mark=$(wc -l <"$WORK/frames.log")
ctl "$ESME" '"op":"inject_alert","code":"0x8F3F"'
decode "$(frame_after "$mark" "$ESME" alert)" "$WORK/alert-injected.json" "the injected alert"
alert_code=$(value_of "$WORK/alert-injected.json" "Alert Code")
echo "   alert code: $alert_code"
case $alert_code in *8F3F*) ;; *) fail "the injected alert does not carry 0x8F3F: ${alert_code:-no Alert Code field}" ;; esac

step "4. hold a firmware image, activate it with CS06, read the running version (ECS52)"
image_hash=$(printf 'gbcs-emulator control demo image' | sha256sum | cut -c1-64 | tr a-f A-F)
ctl "$ESME" "\"op\":\"hold_firmware\",\"hash\":\"$image_hash\",\"version\":\"$IMAGE_VERSION\""
gbcs CS06 "{\"image_hash\": \"$image_hash\"}"
outcome=$(value_of "$RESPONSE" "Response Code")
echo "   CS06 response code: $outcome, firmware version: $(value_of "$RESPONSE" "Firmware Version")"
[ "$outcome" = Success ] || fail "CS06 did not activate the held image: response code ${outcome:-absent}"
gbcs ECS52 '{}'
version=$(value_of "$RESPONSE" "[0] Octet String")
echo "   ECS52 running version: $version"
case $version in "$IMAGE_VERSION "* | "$IMAGE_VERSION") ;; *) fail "ECS52 does not show version $IMAGE_VERSION: $version" ;; esac

echo "control-demo: all steps passed (logs in $WORK)"

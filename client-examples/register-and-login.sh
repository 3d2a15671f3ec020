#!/usr/bin/env sh
# Registers a phone, logs in with an SMS code and asks who is logged in,
# against a local server. Codes are read from the local SMS outbox.
# Usage: register-and-login.sh [phone]
set -eu

URL="${YYQ_URL:-http://127.0.0.1:8080}/graphql"
YYQ="${YYQ_BIN:-cargo run --release --quiet --}"
PHONE="${1:-13800000000}"
PASSWORD="${PASSWORD:-Zq8#wLm2!x}"

# gql JSON [TOKEN]: POST a GraphQL request, print the response.
gql() {
  if [ -n "${2:-}" ]; then
    curl -sS -X POST "$URL" -H 'content-type: application/json' -H "authorization: Bearer $2" -d "$1"
  else
    curl -sS -X POST "$URL" -H 'content-type: application/json' -d "$1"
  fi
}

# field NAME JSON: the first string or number value of NAME in JSON.
field() {
  printf '%s' "$2" | sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}

latest_code() {
  $YYQ outbox --phone "$PHONE" --limit 1 | sed -n 's/.*验证码：\([0-9]\{6\}\).*/\1/p'
}

echo "1. send a registration code to $PHONE"
sent=$(gql '{"query":"mutation($p:String!){sendSmsCode(phone:$p,purpose:REGISTER){sentTo retryAfterSeconds}}","variables":{"p":"'"$PHONE"'"}}')
echo "   $sent"
wait_secs=$(field retryAfterSeconds "$sent")
code=$(latest_code)

echo "2. register"
registered=$(gql '{"query":"mutation($p:String!,$pw:String!,$c:String!){register(phone:$p,password:$pw,smsCode:$c,acceptAgreements:true){token user{id phone}}}","variables":{"p":"'"$PHONE"'","pw":"'"$PASSWORD"'","c":"'"$code"'"}}')
[ -n "$(field token "$registered")" ] || { echo "registration failed: $registered" >&2; exit 1; }
echo "   registered"

echo "3. log in with an SMS code (waiting ${wait_secs}s before the next code)"
sleep "$wait_secs"
gql '{"query":"mutation($p:String!){sendSmsCode(phone:$p,purpose:LOGIN){sentTo}}","variables":{"p":"'"$PHONE"'"}}' > /dev/null
code=$(latest_code)
login=$(gql '{"query":"mutation($p:String!,$c:String!){loginWithSms(phone:$p,smsCode:$c){token}}","variables":{"p":"'"$PHONE"'","c":"'"$code"'"}}')
token=$(field token "$login")
[ -n "$token" ] || { echo "login failed: $login" >&2; exit 1; }

echo "4. who am I"
me=$(gql '{"query":"{ me { id phone realNameStatus } }"}' "$token")
echo "   $me"
[ "$(field phone "$me")" = "$PHONE" ] || { echo "unexpected me: $me" >&2; exit 1; }
echo "done"

#!/bin/sh
# alloy-journal-loki-doctor: one line per check, --json, a non-zero exit
# when a check fails, and Loki's /ready checked against a real HTTP server
# on 127.0.0.1 (started and stopped by PID here).
if [ -z "${top:-}" ]; then echo "run through tests/run" >&2; exit 2; fi
# shellcheck source=tests/lib/common.sh
. "$top/tests/lib/common.sh"

doctor=$top/package/alloy-journal-loki-doctor
mkdir -p "$T/www"
echo ready >"$T/www/ready"
# A free port: let the kernel choose, then serve on it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$port" >/dev/null 2>&1 &
server=$!
i=0
until curl -fs -o /dev/null "http://127.0.0.1:$port/ready" || [ $i -ge 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
# In the layout alloy-journal-loki-configure writes (`alloy fmt`'s: tabs,
# "=" aligned with spaces).
printf 'loki.write "loki" {\n\tendpoint {\n\t\turl       = "http://127.0.0.1:%s/loki/api/v1/push"\n\t\ttenant_id = "t1"\n\t}\n}\n' "$port" >"$T/config.alloy"

sh "$doctor" --config "$T/config.alloy" >"$T/text" 2>&1
check_eq "doctor: exit 1 when a check fails (no alloy on this host)" 1 "$?"
check "doctor: one line per check" sh -c "[ \$(wc -l <'$T/text') -eq 6 ]"
check "doctor: Loki /ready answers" grep -Eq "^ok +loki-ready +http://127.0.0.1:$port/ready answers" "$T/text"
check "doctor: the missing service is a failure" grep -Eq "^FAIL +service-active" "$T/text"
sh "$doctor" --json --config "$T/config.alloy" >"$T/json" 2>&1
check "doctor --json: valid JSON with the checks" python3 -c "
import json, sys
d = json.load(open('$T/json'))
assert d['ok'] is False
names = [c['name'] for c in d['checks']]
assert names == ['service-active', 'service-enabled', 'journal-group', 'config-valid', 'loki-ready', 'recent-errors'], names
assert [c for c in d['checks'] if c['name'] == 'loki-ready'][0]['ok'] is True
"
kill "$server"
wait "$server" 2>/dev/null
sh "$doctor" --timeout 1 --config "$T/config.alloy" >"$T/text2" 2>&1
check "doctor: Loki down is a failure" grep -Eq "^FAIL +loki-ready .*does not answer within 1s" "$T/text2"

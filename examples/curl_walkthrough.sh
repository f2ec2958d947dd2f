#!/usr/bin/env bash
# The platform's API with nothing but curl (and Python to read JSON: $PYTHON, else python3).
# Start the platform first (./run_servers.sh), then:
#   PASSWORD='<the admin password>' ./examples/curl_walkthrough.sh
set -euo pipefail
AUTH=${AUTH:-http://127.0.0.1:6300}
API=${API:-http://127.0.0.1:6302}
USERNAME=${USERNAME:-admin}
: "${PASSWORD:?set PASSWORD to the password of $USERNAME}"
PYTHON=${PYTHON:-python3}
json() { "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)$1)"; }
step() { printf '\n\033[1m# %s\033[0m\n' "$*"; }

step "Is everything up? (no login needed)"
curl -s "$API/healthz"; echo
curl -s "$API/readyz"; echo

step "Log in: the auth service returns a signed JWT"
TOKEN=$(curl -s -X POST "$AUTH/login" -H 'Content-Type: application/json' \
  -d "{\"username\": \"$USERNAME\", \"password\": \"$PASSWORD\"}" | json '["token"]')
echo "token: ${TOKEN:0:24}..."

step "Submit a job, with our own request ID to follow it through the services"
JOB_ID=$(curl -s -X POST "$API/job_submit" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -H 'X-Request-ID: walkthrough-1' \
  -d '{"job_name": "walkthrough", "data": "hello, platform"}' | json '["job_id"]')
echo "job_id: $JOB_ID"

step "Watch it go queued -> running -> succeeded"
for _ in $(seq 1 60); do
  STATUS=$(curl -s "$API/jobs/$JOB_ID" -H "Authorization: Bearer $TOKEN" | json '["status"]')
  echo "status: $STATUS"
  [[ $STATUS == succeeded || $STATUS == failed ]] && break
  sleep 1
done

step "The job, with its history across the services"
curl -s "$API/jobs/$JOB_ID" -H "Authorization: Bearer $TOKEN" | "$PYTHON" -m json.tool

step "List my jobs, newest first"
curl -s "$API/list_jobs?limit=5" -H "Authorization: Bearer $TOKEN" | json '["total"]'

step "Mistakes get a clear JSON error, never a traceback"
curl -s -X POST "$API/job_submit" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"job_name": ""}'; echo
curl -s "$API/list_jobs"; echo

step "The platform as a whole"
curl -s "$API/platform_status" -H "Authorization: Bearer $TOKEN" | "$PYTHON" -m json.tool
echo
echo "Follow the job's path through every service with: toy-platform logs --request-id walkthrough-1"

#!/usr/bin/env bash
# Fails when a file in the repository (tracked, or new and not ignored) looks like it holds a secret:
# private keys, AWS and Alpaca keys, GitHub/Slack tokens, and passwords or keys written into
# appsettings*.json / .env files. Known fakes are listed, with the reason, in .ci/secrets-allowlist.
#   scripts/check-secrets.sh [DIR]      scan DIR (default: the repository)
#   scripts/check-secrets.sh --self-test   plant one secret of each kind in a scratch repository and
#                                          prove each is caught and a clean file passes
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

# Each rule: a name, which files (extended regex on the path; empty = every file), a grep -E pattern.
settings_files='(^|/)(appsettings[^/]*\.json|[^/]*\.env)$'
check_rules() {
  rule 'private key' '' '^[[:space:]]*-----BEGIN ([A-Z]+ )?PRIVATE KEY-----[[:space:]]*$'
  rule 'AWS access key id' '' '(^|[^A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}([^A-Z0-9]|$)'
  rule 'AWS secret key' '' "aws_?secret_?access_?key[\"']?[[:space:]]*[:=][[:space:]]*[\"']?[A-Za-z0-9/+]{40}"
  rule 'Alpaca key id' '' '(^|[^A-Za-z0-9])[PA]K[A-Z0-9]{18}([^A-Za-z0-9]|$)'
  rule 'Alpaca secret key' '' "(APCA[-_]API[-_]SECRET[-_]KEY|SecretKey|secret_key)[\"']?[[:space:]]*[:=][[:space:]]*[\"']?[A-Za-z0-9/+]{30,}"
  rule 'GitHub token' '' 'gh[pousr]_[A-Za-z0-9]{36}'
  rule 'Slack webhook' '' 'hooks\.slack\.com/services/T[A-Z0-9]+/'
  rule 'Portal API key' '' '(^|[^A-Za-z0-9_])pk_[A-Za-z0-9_-]{24,}'
  rule 'password or key in settings' "$settings_files" '"[A-Za-z]*(Password|Secret|ApiKey|Token|PrivateKey|SigningKeyPem)"[[:space:]]*:[[:space:]]*"[^"$]+"'
  rule 'password in a connection string' "$settings_files" 'Password=[^;"$ {]+'
}

# One grep per rule over all candidate files (not one per file: CI time matters).
scan() {
  local dir=$1 allowlist=$2
  found=0
  mapfile -d '' paths < <(git -C "$dir" ls-files -z --cached --others --exclude-standard | grep -zv 'packages\.lock\.json$')
  rule() {
    local name=$1 files=$2 pattern=$3 hits selected=()
    for file in "${paths[@]}"; do
      [[ -f "$dir/$file" ]] && { [[ -z "$files" ]] || [[ "$file" =~ $files ]]; } && selected+=("$file")
    done
    [[ ${#selected[@]} -eq 0 ]] && return 0
    hits=$(cd "$dir" && printf '%s\0' "${selected[@]}" | xargs -0 grep -nIHE -- "$pattern" || true)
    [[ -n "$hits" && -s "$allowlist" ]] && hits=$(grep -vFf <(grep -v '^#' "$allowlist" | sed '/^$/d') <<<"$hits" || true)
    [[ -z "$hits" ]] && return 0
    # Show where, never the value.
    while IFS= read -r hit; do echo "possible secret ($name): $(cut -d: -f1,2 <<<"$hit")"; done <<<"$hits"
    found=1
  }
  check_rules
  return $found
}

self_test() {
  local scratch
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' RETURN
  git -C "$scratch" init -q
  # Built from pieces so this script does not match its own rules.
  local begin="-----BEGIN" end="-----"
  printf '%s PRIVATE KEY%s\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n' "$begin" "$end" > "$scratch/id_ec.pem"
  printf 'aws_access_key_id = %s\n' "AKIA""IOSFODNN7EXAMPLE" > "$scratch/credentials"
  printf 'aws_secret_access_key = %s\n' "wJalrXUtnFEMI/K7MDENG/bPxRfiCY""EXAMPLEKEY" > "$scratch/aws.ini"
  printf 'export APCA_API_KEY_ID=%s\n' "PK""Q4X7M2N9RT5VW8YZ3A" > "$scratch/alpaca.sh"
  printf 'APCA_API_SECRET_KEY=%s\n' "q8ZV3nR5tW7yB2dF4hJ6kL9mP1sU3xA5cE7gI9kM" > "$scratch/alpaca-secret.sh"
  printf 'token: %s\n' "ghp_""a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8" > "$scratch/ci.yml"
  printf 'url: https://hooks.slack.com/services/%s/B00000000/XXXXXXXX\n' "T00000000" > "$scratch/notify.yml"
  printf 'KEY=%s\n' "pk_""3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c" > "$scratch/demo.txt"
  printf '{ "Alerts": { "WebhookToken": "%s" } }\n' "hunter2-but-longer" > "$scratch/appsettings.Production.json"
  printf '{ "ConnectionStrings": { "Postgres": "Host=db;Username=app;Password=%s" } }\n' "s3cr3t" > "$scratch/appsettings.json"
  printf 'The private key looks like -----BEGIN PRIVATE KEY----- in a PEM file.\n{"Password": ""}\n' > "$scratch/clean.md"
  local report
  report=$(scan "$scratch" /dev/null || true)
  local expected=(id_ec.pem credentials aws.ini alpaca.sh alpaca-secret.sh ci.yml notify.yml demo.txt appsettings.Production.json appsettings.json)
  local missed=0 name
  for name in "${expected[@]}"; do
    grep -q ": $name:" <<<"$report" || { echo "self-test: the planted secret in $name was NOT caught"; missed=1; }
  done
  if grep -q ": clean.md:" <<<"$report"; then echo "self-test: clean.md was flagged"; missed=1; fi
  if grep -qE 'EXAMPLE|hunter2|s3cr3t' <<<"$report"; then echo "self-test: the report printed a secret value"; missed=1; fi
  [[ $missed -eq 0 ]] && echo "secrets check self-test: all ${#expected[@]} planted secrets caught, clean file passed"
  return $missed
}

if [[ "${1:-}" == "--self-test" ]]; then self_test; exit $?; fi
dir="${1:-$root}"
if scan "$dir" "$root/.ci/secrets-allowlist"; then
  echo "secrets check: no secrets found"
else
  echo "secrets check FAILED: move the value to an environment variable or secret store (or list a known fake in .ci/secrets-allowlist)"
  exit 1
fi

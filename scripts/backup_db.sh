#!/usr/bin/env bash
# backup_db.sh — run `dbguard backup` from cron, a systemd timer or by hand.
#
#   scripts/backup_db.sh [targets] [options]     e.g.  scripts/backup_db.sh both --keep=50
#
# Every argument goes to `dbguard backup` unchanged. Everything dbguard prints
# (stdout and stderr) is appended, line by line with a timestamp, to the log
# file; on a terminal it is shown as well. The script exits with dbguard's
# exit code (0 ok, 2 usage, 3 config, 4 damaged, 5 busy, 6 storage, 130
# interrupted), so the scheduler sees failures.
#
# Environment:
#   DBGUARD_BIN  the dbguard executable (default: node <this folder>/../dist/cli/main.js)
#   DBGUARD_LOG  the log file (default: <this folder>/../logs/backup.log)
#   DBGUARD_CONFIG and the other DBGUARD_* variables reach dbguard as usual.
#
# dbguard reads ./dbguard.config.json, so run it from the folder that holds
# the config, or pass --config:
#   0 2 * * *  cd /srv/app && /srv/app/scripts/backup_db.sh both >/dev/null 2>&1
set -u

here="$(cd "$(dirname "$0")" && pwd)"
project="$(dirname "$here")"
log="${DBGUARD_LOG:-$project/logs/backup.log}"

if ! mkdir -p "$(dirname "$log")" 2>/dev/null || ! touch "$log" 2>/dev/null; then
  echo "backup_db.sh: cannot write the log file $log; set DBGUARD_LOG to a writable file" >&2
  exit 6
fi

stamp() { date '+%Y-%m-%dT%H:%M:%S%z'; }

# Appends each input line to the log with a timestamp (and echoes it on a terminal).
# It ignores INT and TERM so that the last lines dbguard prints while it cleans up
# after Ctrl-C or a service stop still reach the log.
log_lines() {
  trap '' INT TERM
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    line="$(stamp) $line"
    printf '%s\n' "$line" >> "$log"
    if [ -t 1 ]; then printf '%s\n' "$line"; fi
  done
}

if [ -n "${DBGUARD_BIN:-}" ]; then
  bin=("$DBGUARD_BIN")
else
  bin=(node "$project/dist/cli/main.js")
fi

# On INT/TERM, let dbguard clean up and exit (130) first; then log its code and exit with it.
trap ':' INT TERM

echo "start: dbguard backup ${*:-}" | log_lines
# ${1+"$@"}: all arguments, also under `set -u` on bash 3.2 (macOS) when there are none
"${bin[@]}" backup ${1+"$@"} 2>&1 | log_lines
code=${PIPESTATUS[0]}
echo "end: exit code $code" | log_lines
exit "$code"

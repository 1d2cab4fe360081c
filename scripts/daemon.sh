# Sourced by kafka.sh and clickhouse.sh: what the two service scripts
# share. The sourcing script sets NAME, KIND (server or broker), PORT,
# PIDFILE, CMDLINE (what its server's command line holds for this data
# folder) and STOP_TIMEOUT, and defines ready (succeeds, printing the
# ready line, once the server answers) and start, then ends with
# `daemon_main "$@"`.

say() { echo "$NAME: $*" >&2; }

port_open() { timeout 1 bash -c ": </dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Prints the pid if our server (for this data folder) is running.
running_pid() {
  local pid
  [[ -f $PIDFILE ]] && pid=$(<"$PIDFILE") || return 1
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$CMDLINE" || return 1
  echo "$pid"
}

# wait_ready PID TIMEOUT SEE LOG...: waits until ready succeeds. When
# PID exits first, prints the last lines of the LOGs and exits 1; when it
# is not ready in TIMEOUT seconds, stops it and exits 1, saying to see SEE.
wait_ready() {
  local pid=$1 timeout=$2 see=$3 deadline
  shift 3
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "$KIND exited during start-up; last log lines:"
      tail -n 20 "$@" >&2 2>/dev/null || true
      exit 1
    fi
    if ready; then
      return 0
    fi
    sleep 0.5
  done
  say "not ready after $timeout s; see $see"
  stop
  exit 1
}

# SIGTERM, then SIGKILL after STOP_TIMEOUT seconds; waits until it is gone.
stop() {
  local pid i
  pid=$(running_pid) || { rm -f "$PIDFILE"; say "stopped"; return 0; }
  kill -TERM "$pid"
  for ((i = 0; i < STOP_TIMEOUT * 4; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then say "SIGTERM timed out; sending SIGKILL"; kill -KILL "$pid"; fi
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$PIDFILE"
  say "stopped"
}

status() {
  local pid
  if pid=$(running_pid); then echo "$NAME: running (pid $pid) on 127.0.0.1:$PORT"; else echo "$NAME: stopped"; return 1; fi
}

daemon_main() {
  case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
  esac
}

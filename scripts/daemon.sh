# Sourced by kafka.sh and clickhouse.sh: what the two service scripts
# share. The sourcing script sets NAME, PORT, PIDFILE and STOP_TIMEOUT and
# defines running_pid (the pid of its server for this data folder) and
# start, then ends with `daemon_main "$@"`.

say() { echo "$NAME: $*" >&2; }

port_open() { timeout 1 bash -c ": </dev/tcp/127.0.0.1/$1" 2>/dev/null; }

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

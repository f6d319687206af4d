# Sourced by the bench and smoke scripts: stopping the processes a script started, by pid.

# stop_pid PID [TRIES]: SIGTERM, wait up to TRIES × 0.2 s (default 100: 20 s) for it to exit,
# then SIGKILL. A pid that is already gone is fine.
stop_pid() {
    local pid=$1 tries=${2:-100} i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 "$tries"); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
}

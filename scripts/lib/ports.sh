# Sourced by scripts/run-local and scripts/smoke-local: loopback ports that nothing else holds.

# free_port PORT: prints PORT if it can be bound on 127.0.0.1 (PORT 0: any free port), else fails.
free_port() {
  python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no conflict
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
print(s.getsockname()[1])' "$1"
}

# pick_port WHAT VAR DEFAULT [AVOID]: the port WHAT should listen on. A port set in $VAR must be
# free, or this fails. Otherwise DEFAULT, or, if that one is taken, a free port (said on stderr).
pick_port() {
  local what=$1 var=$2 default=$3 avoid=${4:-} port
  if [ -n "${!var:-}" ]; then
    free_port "${!var}" && return
    echo "$what: port ${!var} ($var) is already in use on 127.0.0.1; stop what holds it or set $var to another port" >&2
    return 1
  fi
  if [ "$default" != "$avoid" ] && free_port "$default"; then return; fi
  while port=$(free_port 0) && [ "$port" = "$avoid" ]; do :; done
  echo "$what: port $default is already in use on 127.0.0.1, so using $port (set $var to choose)" >&2
  echo "$port"
}

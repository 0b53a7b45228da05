# What scripts/postgres.sh, scripts/nats.sh and scripts/smtp.sh share:
# sourced, not run.

# Installs Debian's package $1 (with sudo when not root); says so on stderr.
apt_install() {
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    echo "== installing $1 (the tests need it)" >&2
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >/dev/null
}

# A free TCP port on 127.0.0.1: asked of the kernel through python3, else
# the first of the hundred from $1 that nothing answers on.
free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
        return
    fi
    local port
    for ((port = $1; port < $1 + 100; port++)); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "no free port from $1 to $(($1 + 99))" >&2
    return 1
}

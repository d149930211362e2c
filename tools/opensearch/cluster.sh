#!/usr/bin/env bash
# Local three-node OpenSearch cluster on loopback, one JVM per node.
#
#   tools/opensearch/cluster.sh start    build the classpath if needed, start the nodes that are
#                                        not running, wait for green, write .opensearch/url + pids
#   tools/opensearch/cluster.sh stop     SIGTERM every node (SIGKILL after a grace period);
#                                        harmless when nothing runs
#   tools/opensearch/cluster.sh status   one line per node and the cluster health; exit 0 only
#                                        when all three nodes run
#   tools/opensearch/cluster.sh clean    stop, then delete .opensearch/ (all indices)
#
# Environment: OPENSEARCH_HEAP (512m), OPENSEARCH_START_TIMEOUT (seconds, 180),
# OPENSEARCH_DIR (<repo>/.opensearch), JAVA_HOME or JAVA, MVN, MVN_ARGS (e.g.
# -Dmaven.repo.local=/tmp/m2). See README.md beside this file.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=${OPENSEARCH_DIR:-$ROOT/.opensearch}
HEAP=${OPENSEARCH_HEAP:-512m}
TIMEOUT=${OPENSEARCH_START_TIMEOUT:-180}
STOP_GRACE=${OPENSEARCH_STOP_GRACE:-30}
CLUSTER_NAME=searchsvc-dev
NODES=(1 2 3)
MAIN=searchsvc.opensearch.NodeLauncher
if [[ -n "${JAVA:-}" ]]; then :; elif [[ -n "${JAVA_HOME:-}" ]]; then JAVA=$JAVA_HOME/bin/java; else JAVA=java; fi
MVN=${MVN:-mvn}
declare -A SPAWNED=()  # node -> pid of the JVM this invocation started
read -r -a MVN_EXTRA <<<"${MVN_ARGS:-}"

log() { printf 'opensearch: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

node_home() { echo "$STATE/node-$1"; }

# pid of node $1 if it is alive AND is our launcher for that node home (guards against a
# stale pid file whose number now belongs to another process); empty otherwise.
node_pid() {
    local home pid
    home=$(node_home "$1")
    [[ -r $home/pid ]] || return 0
    pid=$(<"$home/pid")
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    [[ -r /proc/$pid/cmdline ]] || return 0
    if tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$MAIN" &&
        tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$home"; then
        echo "$pid"
    fi
}

spawned_alive() { [[ -n ${SPAWNED[$1]:-} ]] && kill -0 "${SPAWNED[$1]}" 2>/dev/null; }

# Ports of node $1 from $STATE/ports ("node http transport" per line).
node_port() { awk -v n="$1" -v col="$2" '$1 == n { print $col }' "$STATE/ports" 2>/dev/null; }

urls() {
    local n out=()
    for n in "${NODES[@]}"; do out+=("http://127.0.0.1:$(node_port "$n" 2)"); done
    (IFS=,; echo "${out[*]}")
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Six distinct free loopback ports, chosen by the kernel (bind to port 0), all held open
# together so none repeats. A tiny race remains between closing and the JVM binding.
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# --- build ----------------------------------------------------------------------------------
# `mvn compile` downloads OpenSearch and its modules from Maven Central into the local Maven
# repository, compiles the launcher and writes target/classpath.txt. Skipped when that is newer
# than the pom and the sources and every jar it names still exists.
classpath_ok() {
    local cp=$HERE/target/classpath.txt jar
    [[ -s $cp && -f $HERE/target/classes/searchsvc/opensearch/NodeLauncher.class ]] || return 1
    [[ -n $(find "$HERE/pom.xml" "$HERE/src" -newer "$cp" -print -quit) ]] && return 1
    while IFS= read -r -d: jar || [[ -n $jar ]]; do
        [[ -f ${jar%$'\n'} ]] || return 1
    done <"$cp"
    return 0
}

build() {
    classpath_ok && return 0
    command -v "$MVN" >/dev/null || die "Maven ($MVN) not found; apt-get install maven"
    log "building the node classpath with Maven (first run downloads ~75 MB from Maven Central)"
    rm -f "$HERE/target/classpath.txt"
    if ! "$MVN" -q -B -Dstyle.color=never -f "$HERE/pom.xml" "${MVN_EXTRA[@]}" clean compile >"$STATE/maven.log" 2>&1; then
        tail -n 40 "$STATE/maven.log" >&2
        die "Maven build failed (whole output in $STATE/maven.log)"
    fi
    classpath_ok || die "Maven ran but $HERE/target/classpath.txt is missing or stale"
}

# --- one node -------------------------------------------------------------------------------
write_config() {
    local n=$1 home seeds m
    home=$(node_home "$n")
    mkdir -p "$home/config" "$home/data" "$home/logs" "$home/tmp"
    seeds=$(for m in "${NODES[@]}"; do printf '"127.0.0.1:%s",' "$(node_port "$m" 3)"; done)
    cat >"$home/config/opensearch.yml" <<EOF
# Written by tools/opensearch/cluster.sh on each start; edits here are overwritten.
cluster.name: $CLUSTER_NAME
node.name: node-$n
network.host: 127.0.0.1
http.port: $(node_port "$n" 2)
transport.port: $(node_port "$n" 3)
discovery.seed_hosts: [${seeds%,}]
# Only read when the cluster forms for the first time (empty data dirs); ignored afterwards.
cluster.initial_cluster_manager_nodes: [node-1, node-2, node-3]
path.data: $home/data
path.logs: $home/logs
# Dev machines and CI have disks of any fill level: never refuse to allocate shards for that.
cluster.routing.allocation.disk.threshold_enabled: false
EOF
}

start_node() {
    local n=$1 home
    home=$(node_home "$n")
    write_config "$n"
    rm -f "$home/pid"
    [[ -f $home/logs/node.log ]] && mv -f "$home/logs/node.log" "$home/logs/node.log.1"  # keep one previous run
    # shellcheck disable=SC2054  # the comma in java.locale.providers=SPI,COMPAT is meant
    local jvm=(
        "-Xms$HEAP" "-Xmx$HEAP" -XX:MaxDirectMemorySize=256m -Xss1m
        -XX:+UseG1GC -XX:G1ReservePercent=25 -XX:InitiatingHeapOccupancyPercent=30
        -XX:+ExitOnOutOfMemoryError "-XX:ErrorFile=$home/logs/hs_err_pid%p.log"
        "-Djava.io.tmpdir=$home/tmp" -Djava.awt.headless=true -Dfile.encoding=UTF-8
        -Djna.nosys=true -XX:-OmitStackTraceInFastThrow
        -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true
        -Dio.netty.recycler.maxCapacityPerThread=0 -Dio.netty.allocator.numDirectArenas=0
        -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true -Dlog4j2.formatMsgNoLookups=true
        -Djava.locale.providers=SPI,COMPAT
    )
    # setsid: own session, so a Ctrl-C in the terminal that ran `make opensearch` does not
    # reach the nodes; they live until `cluster.sh stop`.
    # 9>&-: the JVM must not inherit the start lock.
    setsid "$JAVA" "${jvm[@]}" -cp "$HERE/target/classes:$(<"$HERE/target/classpath.txt")" \
        "$MAIN" "$home" </dev/null >>"$home/logs/node.log" 2>&1 9>&- &
    SPAWNED[$n]=$!
    log "node-$n starting: http $(node_port "$n" 2), transport $(node_port "$n" 3), log $home/logs/node.log"
}

write_state() {
    local n pid
    urls >"$STATE/url.tmp" && mv "$STATE/url.tmp" "$STATE/url"
    : >"$STATE/pids.tmp"
    for n in "${NODES[@]}"; do
        pid=$(node_pid "$n")
        [[ -n $pid ]] && echo "$pid" >>"$STATE/pids.tmp"
    done
    if [[ -s $STATE/pids.tmp ]]; then
        mv "$STATE/pids.tmp" "$STATE/pids"
    else  # nothing runs: no URL file that points nowhere
        rm -f "$STATE/pids.tmp" "$STATE/pids" "$STATE/url"
    fi
}

# Prints the health JSON (also for a 408 "timed out" answer); fails if the node does not answer.
health() { curl -sS -m 10 "$1/_cluster/health?wait_for_status=green&wait_for_nodes=${#NODES[@]}&timeout=${2:-1s}" 2>/dev/null; }

fail_start() {
    local n
    log "ERROR: $*"
    for n in "${NODES[@]}"; do
        log "--- last lines of node-$n's log ($(node_home "$n")/logs/node.log) ---"
        tail -n 12 "$(node_home "$n")/logs/node.log" 2>/dev/null | cut -c1-240 | sed 's/^/    /' >&2 || true
    done
    # Stop only what this start launched: a cluster that was already running (say, yellow
    # because of an index with more replicas than nodes) is the user's, not ours to end.
    if ((${#SPAWNED[@]} > 0)); then
        log "stopping the node(s) this start launched"
        stop_nodes "${!SPAWNED[@]}"
    fi
    write_state
    exit 1
}

# Wait until all nodes run, answer HTTP and the cluster is green with all nodes joined.
wait_green() {
    local deadline=$((SECONDS + TIMEOUT)) n pid h="" url
    while :; do
        for n in "${NODES[@]}"; do
            # The launcher writes its pid file a moment after the JVM starts; until then the
            # pid that setsid left us stands for it. Either gone means the node exited.
            if [[ -z $(node_pid "$n") ]] && ! spawned_alive "$n"; then
                fail_start "node-$n exited during start-up"
            fi
        done
        write_state
        for url in $(tr "," " " 2>/dev/null <"$STATE/url"); do
            if h=$(health "$url" 2s); then
                if [[ $h == *'"status":"green"'* && $h == *"\"number_of_nodes\":${#NODES[@]},"* ]]; then
                    [[ $(wc -l <"$STATE/pids") -eq ${#NODES[@]} ]] && return 0
                fi
                break
            fi
        done
        if ((SECONDS >= deadline)); then
            fail_start "cluster not green with ${#NODES[@]} nodes after ${TIMEOUT}s (OPENSEARCH_START_TIMEOUT); last health: ${h:-no node answered HTTP}"
        fi
        sleep 1
    done
}

# --- commands -------------------------------------------------------------------------------
start() {
    local n t0 running=() dead=() ports
    mkdir -p "$STATE"
    exec 9>"$STATE/.lock"
    if ! flock -n 9; then
        log "another cluster.sh start is running; waiting for it"
        flock -w 600 9 || die "another cluster.sh holds $STATE/.lock"
    fi
    t0=$SECONDS
    command -v curl >/dev/null || die "curl not found"
    command -v "$JAVA" >/dev/null || die "java not found (set JAVA_HOME or JAVA)"
    build
    local t_build=$((SECONDS - t0))

    for n in "${NODES[@]}"; do
        if [[ -n $(node_pid "$n") ]]; then running+=("$n"); else dead+=("$n"); fi
    done

    if ((${#dead[@]} == 0)); then
        log "already running (pids $(node_pid 1) $(node_pid 2) $(node_pid 3)); not starting another"
    elif ((${#running[@]} > 0)); then
        # Some nodes run, some died (kill -9, OOM): restart only the dead ones on their old ports,
        # so the URLs in .opensearch/url stay valid for clients that already read them.
        for n in "${dead[@]}"; do
            for ports in "$(node_port "$n" 2)" "$(node_port "$n" 3)"; do
                if [[ -z $ports ]] || port_in_use "$ports"; then
                    die "node-$n is down but its port ${ports:-?} is unknown or taken; run cluster.sh stop, then start"
                fi
            done
        done
        log "nodes ${running[*]} running, restarting node(s) ${dead[*]} on their old ports"
        for n in "${dead[@]}"; do start_node "$n"; done
    else
        read -r -a ports <<<"$(free_ports $((2 * ${#NODES[@]})))"
        : >"$STATE/ports"
        for n in "${NODES[@]}"; do
            echo "$n ${ports[2 * (n - 1)]} ${ports[2 * (n - 1) + 1]}" >>"$STATE/ports"
        done
        [[ -d $(node_home 1)/data/nodes ]] && log "reusing the data in $STATE (cluster.sh clean wipes it)"
        for n in "${NODES[@]}"; do start_node "$n"; done
    fi

    wait_green
    write_state
    log "green with ${#NODES[@]} nodes: $(<"$STATE/url") (build ${t_build}s, to green $((SECONDS - t0 - t_build))s)"
}

# SIGTERM the nodes $@ (numbers), SIGKILL those still alive after the grace period.
stop_nodes() {
    local n pid pids=() homes=() deadline alive
    for n in "$@"; do
        pid=$(node_pid "$n")
        # A JVM this invocation started may not have written its pid file yet.
        [[ -z $pid ]] && spawned_alive "$n" && pid=${SPAWNED[$n]}
        [[ -n $pid ]] && pids+=("$pid")
        homes+=("$(node_home "$n")")
    done
    if ((${#pids[@]} == 0)); then
        log "no node running"
    else
        log "stopping pids ${pids[*]}"
        kill -TERM "${pids[@]}" 2>/dev/null || true
        deadline=$((SECONDS + STOP_GRACE))
        while ((SECONDS < deadline)); do
            alive=()
            for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
            ((${#alive[@]} == 0)) && break
            sleep 0.5
        done
        for pid in "${pids[@]}"; do
            if kill -0 "$pid" 2>/dev/null; then
                log "pid $pid still alive after ${STOP_GRACE}s, sending SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done
    fi
    for n in "${homes[@]}"; do rm -f "$n/pid"; done
}

stop() {
    stop_nodes "${NODES[@]}"
    rm -f "$STATE/pids" "$STATE/url"
}

status() {
    local n pid up=0 url
    for n in "${NODES[@]}"; do
        pid=$(node_pid "$n")
        if [[ -n $pid ]]; then
            up=$((up + 1))
            printf 'node-%s  pid %-8s http://127.0.0.1:%s\n' "$n" "$pid" "$(node_port "$n" 2)"
        else
            printf 'node-%s  down\n' "$n"
        fi
    done
    for n in "${NODES[@]}"; do
        [[ -n $(node_pid "$n") ]] || continue
        url="http://127.0.0.1:$(node_port "$n" 2)"
        curl -fsS -m 5 "$url/_cluster/health" && echo && break
    done
    ((up == ${#NODES[@]}))
}

clean() {
    stop
    rm -rf "$STATE"
    log "removed $STATE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    clean) clean ;;
    *) echo "usage: $0 start|stop|status|clean" >&2; exit 2 ;;
esac

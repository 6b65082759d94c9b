#!/usr/bin/env python3
"""The hot path and the footprint of `junction serve`, each server a process of its own.

Starts, from one release binary, the simulator (`junction sandbox`, its limits lifted), nginx as a
plain keep-alive reverse proxy to it, and `junction serve` on SQLite pointed at the simulator
(`--vendor-limits off`, no background workers), provisions one instance through the simulator's
consent form, then loads four cases with wrk in alternating rounds:

  direct   GET /crm/rest/v2/contacts/7 straight to the simulator (bearer token)
  nginx    the same call through nginx
  raw      GET /elements/api-v2/hubs/crm/raw/v2/contacts/7 through Junction (the passthrough)
  mapped   GET /elements/api-v2/hubs/crm/contacts/7 through Junction (mapped to the hub's fields)

Per case: throughput at 64 connections (median of the rounds), CPU time per call of the proxy's
process(es) (utime + stime from /proc/<pid>/stat over the calls wrk counted, and each part;
nginx: master and workers), the context switches per call of its threads
(/proc/<pid>/task/*/status), and p50 latency at one connection, with what each adds over `direct`.
Then the goals' ratios from this one run, and the footprint: time from exec of `junction serve` (a
fresh SQLite database) to `GET /readyz` answering 200, and its RSS once idle.

`--floor BINARY` adds a fifth case, the floor under both: hyper alone proxying the raw call's GET
(`cargo build --release -p junction --example hyper_floor`, then `--floor
target/release/examples/hyper_floor`), run as `junction serve` runs its HTTP threads, with no
routing, authentication, limits, metrics or log line; its CPU per call over nginx's is what the
HTTP stack itself costs, and the rest of Junction's is Junction's own.

`--against BINARY` also serves the same two Junction cases from another build (`raw (against)`,
`mapped (against)`) at the same time, on the same simulator, their rounds interleaved with the
others: on a host whose load comes and goes, two builds compared in one run see the same host,
where two runs minutes apart need not. Its ratios to nginx's are printed per round too.

Usage: scripts/hotpath.py [--binary target/release/junction] [--rounds 3] [--seconds 5] [--floor BINARY]
       [--against BINARY]
Needs wrk and nginx (Debian: `apt-get install nginx-light wrk`). Junction's log level is its
default (info) unless RUST_LOG is set in the environment.

`--callgrind DIR` instead counts instructions per call, which a loaded machine does not blur:
`junction serve` runs under `valgrind --tool=callgrind`; per case (raw, mapped), after a warm-up,
the counters are zeroed (`callgrind_control -z`), `wrk -t1 -c4 -d8s` loads it, the counts are
dumped (`callgrind_control -d`, into DIR for `callgrind_annotate`), and the process's total
instructions are divided by the calls wrk counted; with `--floor`, the floor's raw GET the same way.
Needs valgrind.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
CALLBACK = "https://app.example.com/callback"
USER_SECRET = "hotpath-user-secret-0123456789abcdef"
ORG_SECRET = "hotpath-org-secret-0123456789abcdef"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    return answer.status, dict(answer.getheaders()), data


def wait_ready(port, path, deadline_s=30.0, interval=0.002):
    """Seconds until `path` answers 200 (polling every `interval`), counted by the caller."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            status, _, _ = request(port, "GET", path)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(interval)
    raise SystemExit(f"nothing answered 200 at 127.0.0.1:{port}{path} within {deadline_s} s")


def wait_listening(port, name, deadline_s=60.0):
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start listening on {port}")
            time.sleep(0.05)


def consent_code(sim_port):
    form = urllib.parse.urlencode({
        "client_id": CLIENT_ID, "redirect_uri": CALLBACK, "response_type": "code", "scope": "full",
        "state": "infusionsoftcrm", "username": "demo@example.com", "password": "demo", "decision": "allow",
    })
    status, headers, _ = request(sim_port, "POST", "/app/oauth/authorize", form,
                                 {"Content-Type": "application/x-www-form-urlencoded"})
    location = {k.lower(): v for k, v in headers.items()}.get("location")
    if status != 302 or not location:
        raise SystemExit(f"the simulator's consent answered {status}")
    return urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]


def vendor_token(sim_port):
    form = urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": consent_code(sim_port), "redirect_uri": CALLBACK,
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
    })
    status, _, body = request(sim_port, "POST", "/token", form, {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        raise SystemExit(f"the simulator's /token answered {status}: {body[:200]!r}")
    return json.loads(body)["access_token"]


def provision(junction_port, sim_port):
    body = json.dumps({
        "element": {"key": "infusionsoftcrm"},
        "providerData": {"code": consent_code(sim_port)},
        "configuration": {
            "oauth.callback.url": CALLBACK, "oauth.api.key": CLIENT_ID, "oauth.api.secret": CLIENT_SECRET,
            "infusionsoft.server": "sandbox.infusionsoft.com", "infusionsoft.private.key": "sandbox-encrypted-key",
        },
        "tags": ["bench"], "name": "hotpath",
    })
    auth = f"User {USER_SECRET}, Organization {ORG_SECRET}"
    status, _, answer = request(junction_port, "POST", "/elements/api-v2/instances", body,
                                {"Authorization": auth, "Content-Type": "application/json"})
    if status != 200:
        raise SystemExit(f"POST /instances answered {status}: {answer[:300]!r}")
    return json.loads(answer)["token"]


def cpu_seconds(pids):
    """User and system CPU seconds of `pids` so far."""
    user = system = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]), system + int(fields[12])  # utime, stime (fields 14 and 15)
    return user / TICKS, system / TICKS


def context_switches(pids):
    """Voluntary and involuntary context switches of every thread of `pids` so far."""
    total = 0
    for pid in pids:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/status") as status:
                    for line in status:
                        if "ctxt_switches:" in line:
                            total += int(line.split()[1])
            except OSError:
                pass
    return total


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url, auth, connections, seconds):
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Authorization: {auth}", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    calls = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} answers were not 2xx\n{out}")
    return calls, rate, float(p50.group(1)) * UNITS[p50.group(2)]


def start(command, env=None, log=None):
    return subprocess.Popen(command, env=env, stdout=log or subprocess.DEVNULL, stderr=log or subprocess.DEVNULL,
                            start_new_session=True)


def stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


NGINX_CONF = """
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
daemon off;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/nginx-body;
  proxy_temp_path {dir}/nginx-proxy;
  fastcgi_temp_path {dir}/nginx-fastcgi;
  uwsgi_temp_path {dir}/nginx-uwsgi;
  scgi_temp_path {dir}/nginx-scgi;
  upstream sim {{ server 127.0.0.1:{sim}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }}
  }}
}}
"""


def serve(binary, port, sim_url, workdir, name, env, wrapper=()):
    """`junction serve` from `binary` (run by `wrapper`, if any) on a fresh SQLite database, pointed
    at the simulator, with no background workers."""
    log = open(os.path.join(workdir, f"{name}.log"), "w")
    return start([*wrapper, binary, "serve", "--bind", f"127.0.0.1:{port}",
                  "--database", f"sqlite://{os.path.join(workdir, f'{name}.db')}",
                  "--sandbox-url", sim_url, "--vendor-limits", "off", "--event-tick-ms", "0",
                  "--refresh-period", "0", "--bulk-concurrency", "0"], env, log)


def footprint(binary, sim_url, workdir, env):
    """Exec to ready (ms) and idle RSS (MB) of a fresh `junction serve` on SQLite."""
    port = free_port()
    database = os.path.join(workdir, "footprint.db")
    command = [binary, "serve", "--bind", f"127.0.0.1:{port}", "--database", f"sqlite://{database}",
               "--sandbox-url", sim_url, "--vendor-limits", "off"]
    started = time.monotonic()
    process = start(command, env)
    try:
        wait_ready(port, "/readyz", interval=0.001)
        ready_ms = (time.monotonic() - started) * 1000
        time.sleep(2.0)
        return ready_ms, rss_mb(process.pid)
    finally:
        stop(process)


def dump_totals(directory, before):
    """The `totals:` of the newest callgrind dump in `directory` not in `before`, and its path."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        fresh = sorted((os.path.join(directory, name) for name in os.listdir(directory) if name not in before),
                       key=os.path.getmtime)
        for path in reversed(fresh):
            with open(path) as file:
                for line in file:
                    if line.startswith(("totals:", "summary:")):
                        return int(line.split()[1]), path
        time.sleep(0.5)
    raise SystemExit(f"no callgrind dump appeared in {directory}")


def callgrind(binary, directory, sim_url, sim_port, workdir, env, floor=None):
    """Instructions per call of `junction serve` under callgrind, raw and mapped (and of the floor)."""
    os.makedirs(directory, exist_ok=True)
    port = free_port()
    valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={directory}/callgrind.out.%p"]
    served = serve(binary, port, sim_url, workdir, "junction-callgrind", env, valgrind)
    try:
        wait_ready(port, "/readyz", deadline_s=300, interval=0.5)
        hub = f"User {USER_SECRET}, Element {provision(port, sim_port)}"
        base = f"http://127.0.0.1:{port}/elements/api-v2/hubs/crm"
        counted = {}
        for key, url in [("raw", f"{base}/raw/v2/contacts/7"), ("mapped", f"{base}/contacts/7")]:
            counted[key] = count_calls(served, directory, url, hub)
    finally:
        stop(served)
    if floor:
        port = free_port()
        log = open(os.path.join(workdir, "floor-callgrind.log"), "w")
        proxy = start([*valgrind, os.path.abspath(floor), f"127.0.0.1:{port}", f"{sim_url}/crm/rest"], env, log)
        try:
            wait_listening(port, "hyper_floor", deadline_s=300)
            url = f"http://127.0.0.1:{port}/elements/api-v2/hubs/crm/raw/v2/contacts/7"
            counted["hyper alone (floor)"] = count_calls(proxy, directory, url, f"Bearer {vendor_token(sim_port)}")
        finally:
            stop(proxy)
    print("instructions per call under callgrind (wrk -t1 -c4 -d8s after a warm-up):")
    print()
    print("| Case | instructions / call | total | calls | dump |")
    print("|---|---:|---:|---:|---|")
    for key, (total, calls, path) in counted.items():
        print(f"| {key} | {total / calls:,.0f} | {total / 1e6:,.1f} M | {calls:,} | {os.path.basename(path)} |")


def count_calls(process, directory, url, auth):
    """The instructions `process` (under callgrind) spent on the calls of one wrk run, and the calls."""
    wrk(url, auth, 4, 3)  # warm-up: connections, caches, the first token use
    subprocess.run(["callgrind_control", "-z", str(process.pid)], check=True, capture_output=True)
    calls, _, _ = wrk_one_thread(url, auth)
    before = set(os.listdir(directory))
    subprocess.run(["callgrind_control", "-d", str(process.pid)], check=True, capture_output=True)
    total, path = dump_totals(directory, before)
    return total, calls, path


def wrk_one_thread(url, auth):
    command = ["wrk", "-t1", "-c4", "-d8s", "-H", f"Authorization: {auth}", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise SystemExit(f"{url}: answers were not 2xx\n{out}")
    return int(re.search(r"(\d+) requests in", out).group(1)), None, None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    parser.add_argument("--binary", default=os.path.join(target, "release", "junction"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--floor", metavar="BINARY", help="also load examples/hyper_floor.rs, built in release")
    parser.add_argument("--against", metavar="BINARY", help="also load another junction build's raw and mapped cases")
    parser.add_argument("--only", choices=["load", "footprint"], help="run one part alone")
    parser.add_argument("--callgrind", metavar="DIR", help="count instructions per call instead (dumps into DIR)")
    args = parser.parse_args()
    # A SIGTERM still stops the servers this started (the `finally` below runs).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tools = ["wrk", "valgrind", "callgrind_control"] if args.callgrind else [] if args.only == "footprint" else ["wrk", "nginx"]
    for tool in tools:
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (Debian: apt-get install nginx-light wrk valgrind)")
    binary = os.path.abspath(args.binary)
    workdir = tempfile.mkdtemp(prefix="junction-hotpath-")
    env = dict(os.environ, JUNCTION_BOOTSTRAP_USER_SECRET=USER_SECRET, JUNCTION_BOOTSTRAP_ORG_SECRET=ORG_SECRET)
    processes = []
    try:
        sim_port, nginx_port, junction_port = free_port(), free_port(), free_port()
        sim_config = os.path.join(workdir, "sim.json")
        lifted = {"per_second": None, "per_minute": None, "per_day": None}
        with open(sim_config, "w") as file:
            json.dump({"limits": lifted, "tenant_limits": lifted, "api_key_limits": lifted}, file)
        sim = start([binary, "sandbox", "--bind", f"127.0.0.1:{sim_port}", "--config", sim_config], env)
        processes.append(sim)
        wait_listening(sim_port, "the simulator")
        sim_url = f"http://127.0.0.1:{sim_port}"

        if args.callgrind:
            callgrind(binary, os.path.abspath(args.callgrind), sim_url, sim_port, workdir, env, args.floor)
            return
        if args.only != "load":
            ready_ms, idle_rss = footprint(binary, sim_url, workdir, env)
        if args.only == "footprint":
            print_footprint(ready_ms, idle_rss)
            return

        with open(os.path.join(workdir, "nginx.conf"), "w") as file:
            file.write(NGINX_CONF.format(dir=workdir, sim=sim_port, port=nginx_port))
        nginx = start(["nginx", "-c", os.path.join(workdir, "nginx.conf"), "-p", workdir], env)
        processes.append(nginx)
        junction = serve(binary, junction_port, sim_url, workdir, "junction", env)
        processes.append(junction)
        if args.against:
            against_port = free_port()
            against = serve(os.path.abspath(args.against), against_port, sim_url, workdir, "against", env)
            processes.append(against)
        if args.floor:
            floor_port = free_port()
            floor = start([os.path.abspath(args.floor), f"127.0.0.1:{floor_port}", f"{sim_url}/crm/rest"], env)
            processes.append(floor)
            wait_listening(floor_port, "hyper_floor")
        wait_ready(junction_port, "/readyz")
        wait_listening(nginx_port, "nginx")

        bearer = f"Bearer {vendor_token(sim_port)}"
        hub = f"User {USER_SECRET}, Element {provision(junction_port, sim_port)}"
        nginx_pids = [nginx.pid] + children(nginx.pid)
        cases = [
            ("direct", "simulator straight `GET /crm/rest/v2/contacts/7`", f"http://127.0.0.1:{sim_port}/crm/rest/v2/contacts/7", bearer, [sim.pid]),
            ("nginx", "nginx, keep-alive reverse proxy", f"http://127.0.0.1:{nginx_port}/crm/rest/v2/contacts/7", bearer, nginx_pids),
            ("raw", "Junction raw `GET /hubs/crm/raw/v2/contacts/7`", f"http://127.0.0.1:{junction_port}/elements/api-v2/hubs/crm/raw/v2/contacts/7", hub, [junction.pid]),
            ("mapped", "Junction mapped `GET /hubs/crm/contacts/7`", f"http://127.0.0.1:{junction_port}/elements/api-v2/hubs/crm/contacts/7", hub, [junction.pid]),
        ]
        if args.against:
            wait_ready(against_port, "/readyz")
            against_hub = f"User {USER_SECRET}, Element {provision(against_port, sim_port)}"
            against_base = f"http://127.0.0.1:{against_port}/elements/api-v2/hubs/crm"
            cases += [
                ("raw (against)", f"{args.against}: raw", f"{against_base}/raw/v2/contacts/7", against_hub, [against.pid]),
                ("mapped (against)", f"{args.against}: mapped", f"{against_base}/contacts/7", against_hub, [against.pid]),
            ]
        if args.floor:
            cases.insert(2, ("floor", "hyper alone (`examples/hyper_floor.rs`), the raw call's GET", f"http://127.0.0.1:{floor_port}/elements/api-v2/hubs/crm/raw/v2/contacts/7", bearer, [floor.pid]))
        for _, _, url, auth, _ in cases:  # warm-up: connections, caches, the first token use
            wrk(url, auth, args.connections, 1)

        loaded = {key: [] for key, *_ in cases}
        single = {key: [] for key, *_ in cases}
        for round_ in range(args.rounds):
            order = cases if round_ % 2 == 0 else list(reversed(cases))
            for key, _, url, auth, pids in order:
                before, switched = cpu_seconds(pids), context_switches(pids)
                calls, rate, _ = wrk(url, auth, args.connections, args.seconds)
                after = cpu_seconds(pids)
                user, system = ((a - b) / calls * 1e6 for a, b in zip(after, before))
                loaded[key].append((rate, user + system, user,
                                    (context_switches(pids) - switched) / calls))
            for key, _, url, auth, _ in order:
                single[key].append(wrk(url, auth, 1, max(2, args.seconds // 2))[2])

        print(f"hot path: {args.rounds} alternating rounds, {args.seconds} s per case, wrk -c{args.connections}; "
              f"{os.cpu_count()} cores; RUST_LOG={os.environ.get('RUST_LOG', '(unset: info)')}")
        print()
        print(f"| Case | req/s ({args.connections} conns) | ratio to direct | proxy CPU µs/call (user + system) | context switches/call | p50 ms (1 conn) | added p50 ms |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        summary, users = {}, {}
        for key, label, *_ in cases:
            rate = statistics.median(rate for rate, *_ in loaded[key])
            cpu = statistics.median(cpu for _, cpu, *_ in loaded[key])
            user = statistics.median(user for _, _, user, _ in loaded[key])
            switches = statistics.median(switches for *_, switches in loaded[key])
            p50 = statistics.median(single[key])
            summary[key] = (rate, cpu, switches, p50)
            users[key] = user
        direct_rate, _, _, direct_p50 = summary["direct"]
        for key, label, *_ in cases:
            rate, cpu, switches, p50 = summary[key]
            cpu_text = f"{cpu:.1f} ({users[key]:.1f} + {cpu - users[key]:.1f})"
            cpu_text, switches_text = ("(upstream)", "(upstream)") if key == "direct" else (cpu_text, f"{switches:.2f}")
            print(f"| {label} | {rate:.0f} | {rate / direct_rate:.2f} | {cpu_text} | {switches_text} | {p50:.3f} | +{p50 - direct_p50:.3f} |")
        print()
        n_rate, n_cpu, _, n_p50 = summary["nginx"]
        r_rate, r_cpu, _, r_p50 = summary["raw"]
        m_rate, m_cpu, _, m_p50 = summary["mapped"]
        goal = lambda met: "met" if met else "NOT met"
        print(f"raw passthrough CPU/call vs nginx: {r_cpu / n_cpu:.2f} x (goal <= 1.5: {goal(r_cpu <= 1.5 * n_cpu)})")
        print(f"raw passthrough throughput vs nginx: {r_rate / n_rate:.2f} x (goal >= 0.9: {goal(r_rate >= 0.9 * n_rate)})")
        print(f"mapped GET CPU/call vs nginx: {m_cpu / n_cpu:.2f} x (goal <= 2: {goal(m_cpu <= 2 * n_cpu)})")
        print(f"mapped GET throughput vs nginx: {m_rate / n_rate:.2f} x")
        for key, p50 in [("raw", r_p50), ("mapped", m_p50)]:
            extra = (p50 - direct_p50) - (n_p50 - direct_p50)
            print(f"{key} added p50 at 1 connection minus nginx's: {extra:+.3f} ms (goal <= 0.1: {goal(extra <= 0.1)})")
        if args.against:
            for key in ["raw", "raw (against)", "mapped", "mapped (against)"]:
                ratios = ", ".join(f"{cpu / nginx_cpu:.2f}" for (_, cpu, *_), (_, nginx_cpu, *_) in zip(loaded[key], loaded["nginx"]))
                print(f"{key} CPU/call vs nginx's in the same round: {ratios} (median {summary[key][1] / n_cpu:.2f} x)")
        if args.floor:
            f_rate, f_cpu, _, _ = summary["floor"]
            print(f"hyper alone CPU/call vs nginx: {f_cpu / n_cpu:.2f} x, throughput {f_rate / n_rate:.2f} x; "
                  f"Junction's own part of a raw call: {r_cpu - f_cpu:.1f} µs of CPU")
        print("rounds (req/s, CPU µs/call): " + "; ".join(
            f"{key} " + ", ".join(f"{rate:.0f}/{cpu:.1f}" for rate, cpu, *_ in loaded[key]) for key, *_ in cases))
        if args.only != "load":
            print()
            print_footprint(ready_ms, idle_rss)
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


def print_footprint(ready_ms, idle_rss):
    print(f"footprint: `junction serve` on a fresh SQLite database: exec to /readyz 200 in {ready_ms:.0f} ms "
          f"(goal <= 150), idle RSS {idle_rss:.1f} MB after 2 s (goal <= 30)")


if __name__ == "__main__":
    sys.exit(main())

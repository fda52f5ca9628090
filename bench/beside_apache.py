#!/usr/bin/env python3
"""Issue 8's bench: what each "Beside Apache" shape costs, against the direct case,
measured in one run.

    .venv/bin/python bench/beside_apache.py [--seconds 8] [--quick]

- Apache in front: an RFC 6455 echo (bench/loadgen.c, 32-byte text) on geows direct,
  and through Debian's apache2 configured with part 1 of `geows --apache-snippet
  --proxy-form upgrade`, verbatim.
- geows in front: plain HTTP/1.0 keep-alive GETs (`ab`, apache2-utils) of a 13-byte
  static file from Apache direct, and through geows' `ProxyPass / http://apache/`.

Each case runs twice: with --connections clients (throughput: msg/s or requests/s) and
with one (the median round trip). The servers (geows, apache2 -X with the event MPM)
share the first CPU, the client gets the second (--no-pin turns that off). Every run is
bounded in connections and time and talks to 127.0.0.1 only; every process started
here is stopped here. Prints a Markdown report; raw numbers go to
bench/build/beside-apache-*.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from bench.websocket_echo import (  # noqa: E402 - after the path is set
    BUILD,
    LOADGEN,
    build_loadgen,
    free_port,
    listening,
    machine_info,
    proc_cpu_s,
    system_busy_s,
    wait_quiet,
)
from tests.httpd.harness import APACHE2, MODULES, Httpd, httpd_env  # noqa: E402
from tests.test_apache_in_front import part, snippet  # noqa: E402

AB = shutil.which("ab") or "/usr/bin/ab"
STATIC = b"hello apache\n"
QUIET_PERCENT = 15.0  # before each run, wait (up to --quiet-wait) for others to use less
# (case, the direct path, the path through the other server)
PAIRS = [("websocket echo", "geows direct", "Apache in front"),
         ("static GET", "Apache direct", "geows in front")]

BACKEND_CONF = """\
Listen 127.0.0.1:{port}
LogLevel warn
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</Location>
"""

FRONT_CONF = """\
Listen 127.0.0.1:{port}
LogLevel warn
ProxyPass / http://127.0.0.1:{apache}/
"""

# Apache without an access log, as geows runs here without one: neither side pays for it.
APACHE_CONF = """\
ServerName localhost
Listen 127.0.0.1:{port}
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
ThreadsPerChild 64
MaxRequestWorkers 64
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
LogLevel warn
DocumentRoot {root}/www
<Directory {root}/www>
  Require all granted
</Directory>
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Geows:
    """`python -m geows` on a config, its access log thrown away; `stop()` ends it."""

    def __init__(self, workdir: Path, name: str, conf_text: str, port: int):
        self.port = port
        self.conf = workdir / f"{name}.conf"
        self.conf.write_text(conf_text)
        self.stderr = workdir / f"{name}.err"
        with self.stderr.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "geows", "-f", str(self.conf), "-d", str(REPO)],
                cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 30
        while not listening(port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"geows did not start: {self.stderr.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_apache(workdir: Path, proxy_lines: str) -> tuple[Httpd, int]:
    root = workdir / "apache"
    (root / "www").mkdir(parents=True)
    (root / "www" / "hello.txt").write_bytes(STATIC)
    (root / "modules").symlink_to(MODULES)
    port = free_port()
    conf = root / "httpd.conf"
    conf.write_text(APACHE_CONF.format(port=port, root=root) + proxy_lines)
    return Httpd(conf, root, httpd_env(root / "env"), [port], root / "error.log"), port


def client(cmd: list[str], cpu: str | None) -> list[str]:
    return ["taskset", "-c", cpu, *cmd] if cpu is not None else cmd


def websocket_echo(port: int, connections: int, seconds: float, cpu: str | None) -> dict:
    """loadgen's RFC 6455 ping-pong on /echo: msg/s, median round trip, errors."""
    cmd = [str(LOADGEN), "--mode", "rfc6455", "--host", "127.0.0.1", "--port", str(port),
           "--path", "/echo", "--connections", str(connections), "--seconds", str(seconds),
           "--size", "32"]
    done = subprocess.run(client(cmd, cpu), capture_output=True, text=True,
                          timeout=seconds + 90, stdin=subprocess.DEVNULL)
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"ok": False, "error": done.stderr.strip()[-300:]}
    return {"ok": result["errors"] == 0 and result["connections_ok"] == connections,
            "per_s": result["msgs_per_s"], "p50_us": result["latency_us"]["p50"],
            "count": result["messages"], "errors": result["errors"],
            "error": result["first_error"]}


def http_gets(port: int, connections: int, seconds: float, cpu: str | None,
              workdir: Path) -> dict:
    """ab's keep-alive GETs of the static file: requests/s, median round trip, errors."""
    csv = workdir / f"ab-{port}-{connections}.csv"
    cmd = [AB, "-q", "-S", "-k", "-c", str(connections), "-t", str(seconds),
           "-n", "2000000", "-e", str(csv), f"http://127.0.0.1:{port}/hello.txt"]
    done = subprocess.run(client(cmd, cpu), capture_output=True, text=True,
                          timeout=seconds + 60, stdin=subprocess.DEVNULL)

    def number(label: str) -> float:
        found = re.search(rf"^{label}:\s+([\d.]+)", done.stdout, re.MULTILINE)
        return float(found[1]) if found else -1

    complete, failed = number("Complete requests"), number("Failed requests")
    non_2xx = number("Non-2xx responses")
    p50 = None
    if csv.exists():  # "50,0.123": 50% of the requests took 0.123 ms or less
        for line in csv.read_text().splitlines():
            if line.startswith("50,"):
                p50 = float(line.split(",")[1]) * 1000
    errors = int(max(failed, 0) + max(non_2xx, 0))
    return {"ok": done.returncode == 0 and complete > 0 and errors == 0 and p50 is not None,
            "per_s": number("Requests per second"), "p50_us": p50, "count": int(complete),
            "keep_alive": int(number("Keep-Alive requests")),
            "errors": errors, "error": done.stderr.strip()[-300:]}


def cpu_marks(servers: list[int]) -> tuple[float, float, float, float]:
    """(now, CPU seconds used by the whole machine, by finished clients, by the servers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (time.monotonic(), system_busy_s(), children.ru_utime + children.ru_stime,
            sum(proc_cpu_s(pid) or 0 for pid in servers))


def cpu_percents(before: tuple[float, ...], after: tuple[float, ...]) -> dict[str, float]:
    """CPU used during a run by the client, the servers together, and processes not
    started here, in percent of one core."""
    wall, busy, client, servers = (b - a for a, b in zip(before, after, strict=True))
    return {"client_cpu_percent": round(100 * client / wall, 1),
            "servers_cpu_percent": round(100 * servers / wall, 1),
            "others_percent": round(100 * max(busy - client - servers, 0) / wall, 1)}


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def measure(args: argparse.Namespace, workdir: Path, client_cpu: str | None) -> dict:
    """Start geows, Apache in front of it, and geows in front of Apache; run every case."""
    port = free_port()
    backend = Geows(workdir, "geows-backend", BACKEND_CONF.format(port=port), port)
    apache = front = None
    try:
        text = snippet(backend.conf, "--proxy-form", "upgrade")
        apache, apache_port = start_apache(workdir, part(text, 1))
        port = free_port()
        front = Geows(workdir, "geows-front", FRONT_CONF.format(port=port, apache=apache_port),
                      port)
        servers = [backend.proc.pid, apache.proc.pid, front.proc.pid]
        results: dict = {"snippet_part_1": part(text, 1)}
        ports = {"geows direct": backend.port, "Apache in front": apache_port,
                 "Apache direct": apache_port, "geows in front": front.port}
        for case, direct_name, via_name in PAIRS:
            for connections in (args.connections, 1):
                for name in (direct_name, via_name):
                    if args.quiet_wait > 0:
                        wait_quiet(QUIET_PERCENT, args.quiet_wait)
                    before = cpu_marks(servers)
                    if case == "websocket echo":
                        result = websocket_echo(ports[name], connections, args.seconds,
                                                client_cpu)
                    else:
                        result = http_gets(ports[name], connections, args.seconds,
                                           client_cpu, workdir)
                    result.update(cpu_percents(before, cpu_marks(servers)))
                    results[f"{case} | {name} | {connections}"] = result
                    log(f"  {case:15} {name:16} {connections:3} conn: "
                        f"{result.get('per_s', 0):>10,.0f}/s  p50 {result.get('p50_us')} us  "
                        f"errors {result.get('errors')}  CPU % of a core: client "
                        f"{result['client_cpu_percent']}, servers {result['servers_cpu_percent']}, "
                        f"others {result['others_percent']}"
                        + ("" if result["ok"] else f"  FAILED {result}"))
        return results
    finally:
        for process in (front, apache, backend):
            if process is not None:
                process.stop()


def report(info: dict, results: dict, args: argparse.Namespace, pin_note: str) -> str:
    dirty = " + uncommitted changes" if info["geows_tree_dirty"] else ""
    apache = subprocess.run([APACHE2, "-v"], capture_output=True, text=True).stdout.split()[2]
    lines = [
        f"- date: {info['date']}",
        f"- machine: `nproc` {info['nproc']}, {info['cpu_model']}, {info['memory_gib']} GiB, "
        f"Linux {info['kernel']}; Python {info['python']}, gevent {info['gevent']}",
        f"- geows {info['geows_commit']}{dirty}, {apache}",
        f"- {args.seconds:g} s per run; {pin_note}",
        "",
        "| case | path | connections | per second | vs direct | median round trip µs "
        "| vs direct | added µs |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case, direct_name, via_name in PAIRS:
        for connections in (args.connections, 1):
            direct = results[f"{case} | {direct_name} | {connections}"]
            for name in (direct_name, via_name):
                r = results[f"{case} | {name} | {connections}"]
                if not r["ok"]:
                    lines.append(f"| {case} | {name} | {connections} | failed: "
                                 f"{r.get('error', '?')[:80]} | | | | |")
                    continue
                same = name == direct_name
                speed = ratio(r["per_s"], direct["per_s"]) if direct["ok"] else None
                slow = ratio(r["p50_us"], direct["p50_us"]) if direct["ok"] else None
                added = r["p50_us"] - direct["p50_us"] if direct["ok"] else None
                lines.append(
                    f"| {case} | {name} | {connections} | {r['per_s']:,.0f} | "
                    f"{'1' if same else f'{speed:.2f}x' if speed else '-'} | "
                    f"{r['p50_us']:,.0f} | {'1' if same else f'{slow:.2f}x' if slow else '-'} | "
                    f"{'' if same else f'{added:+,.0f}' if added is not None else '-'} |")
    busy = [r["others_percent"] for key, r in results.items() if " | " in key]
    lines += ["", f"Processes not started by the bench used {min(busy):.0f}-{max(busy):.0f}% "
              "of a core during the runs (each run's figure is in the JSON)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0,
                        help="each of the 8 runs (default 6)")
    parser.add_argument("--quiet-wait", type=float, default=5.0,
                        help=f"before each run, wait up to this many seconds for other "
                             f"processes to use under {QUIET_PERCENT:.0f}%% of a core (default 5)")
    parser.add_argument("--quick", action="store_true", help="2 s per run, no waiting")
    parser.add_argument("--connections", type=int, default=32,
                        help="clients in the throughput runs (default 32)")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not put the servers and the client on different CPUs")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.quiet_wait = 2.0, 0.0
    if not 0 < args.seconds <= 20 or not 1 <= args.connections <= 60:
        parser.error("--seconds must be in (0, 20] and --connections in 1..60")
    for tool in (APACHE2, AB):
        if not os.access(tool, os.X_OK):
            sys.exit(f"{tool} not found (apt-get install apache2 apache2-utils)")
    build_loadgen()

    info = machine_info()  # before pinning: `nproc` counts the CPUs this process may use
    cpus = sorted(os.sched_getaffinity(0))
    client_cpu = None
    pin_note = "no CPU pinning"
    if not args.no_pin and len(cpus) >= 2 and shutil.which("taskset"):
        # the servers started from here inherit the first CPU; the client gets the second
        os.sched_setaffinity(0, {cpus[0]})
        client_cpu = str(cpus[1])
        pin_note = (f"geows and apache2 on CPU {cpus[0]}, the client (loadgen, ab) on CPU "
                    f"{client_cpu} (taskset)")
    workdir = Path(tempfile.mkdtemp(prefix="beside-apache-", dir=BUILD))
    try:
        results = measure(args, workdir, client_cpu)
    finally:
        os.sched_setaffinity(0, cpus)
    text = report(info, results, args, pin_note)
    print(text)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = BUILD / f"beside-apache-{stamp}.json"
    out.write_text(json.dumps({"machine": info, "pinning": pin_note, "args": vars(args),
                               "results": results}, indent=2))
    shutil.rmtree(workdir, ignore_errors=True)
    log(f"raw results: {out.relative_to(REPO)}")
    return 0 if all(r["ok"] for k, r in results.items() if " | " in k) else 1


if __name__ == "__main__":
    sys.exit(main())

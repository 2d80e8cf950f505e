#!/usr/bin/env python3
"""Measures the upload of a submission to `anki-submit research serve` next to nginx alone storing the
same body (`client_body_in_file_only`), both on loopback with `curl --data-binary`, alternating, each
server and each curl under /usr/bin/time -v (wall time of the upload, peak memory of both processes);
then 50 concurrent uploads of distinct ~5 MB submissions, checking that every 202 is in the spool.
Rewrites the `## Intake` section of BENCHMARKS.md."""
from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, seconds: float = 20) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def peak_kib(stderr_text: str) -> int:
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr_text)
    return int(match.group(1)) if match else -1


def stop(proc: subprocess.Popen) -> int:
    """SIGTERM, then the process's peak resident memory in KiB (its own rusage, from wait4)."""
    proc.terminate()
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return usage.ru_maxrss


def curl_upload(url: str, file: Path, timing: Path) -> tuple[float, int, int]:
    """(seconds, HTTP status, curl's peak KiB)."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", "-o", str(timing), "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                           "-H", "Content-Type: application/vnd.sqlite3", "-H", "Expect:", "--data-binary", f"@{file}", url],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return seconds, int(proc.stdout or 0), peak_kib(timing.read_text())


def run_serve(binary: str, work: Path, file: Path) -> dict:
    spool = work / "spool"
    shutil.rmtree(spool, ignore_errors=True)
    proc = subprocess.Popen([binary, "research", "serve", "--spool", str(spool),
                             "--journal", str(work / "journal"), "--port", "0", "--max-upload", "4G"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    port = int(line.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
    seconds, status, curl_kib = curl_upload(f"http://127.0.0.1:{port}/submissions", file, work / "curl.time")
    return {"seconds": seconds, "status": status, "server_kib": stop(proc), "curl_kib": curl_kib}


NGINX_CONF = """daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 128; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 4g;
    client_body_in_file_only on;
    # The body is read into its file before the (absent) upstream is tried: the answer is 502 once
    # the body is stored, which is all this reference measures.
    location / {{ proxy_pass http://127.0.0.1:{dead}; }}
  }}
}}
"""


def run_nginx(work: Path, file: Path) -> dict:
    folder = work / "nginx"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    port, dead = free_port(), free_port()
    (folder / "nginx.conf").write_text(NGINX_CONF.format(d=folder, port=port, dead=dead))
    proc = subprocess.Popen(["nginx", "-p", str(folder), "-c",
                             str(folder / "nginx.conf"), "-e", str(folder / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    seconds, status, curl_kib = curl_upload(f"http://127.0.0.1:{port}/submissions", file, work / "curl.time")
    server_kib = stop(proc)
    stored = sum(p.stat().st_size for p in (folder / "body").rglob("*") if p.is_file())
    return {"seconds": seconds, "status": status, "server_kib": server_kib, "curl_kib": curl_kib,
            "stored_bytes": stored}


def padded_copies(binary: str, deck: Path, work: Path, count: int, size: int) -> list[Path]:
    """`count` distinct valid submissions of about `size` bytes: one prepared submission, each copy with
    its own token hash and a dropped table's free pages of random bytes (the schema stays exact)."""
    base_dir = work / "base"
    shutil.rmtree(base_dir, ignore_errors=True)
    subprocess.run([binary, "prepare", str(deck), "--review", "none", "--out", str(base_dir), "--consent-public", "yes",
                    "--language", "en", "--timezone", "Europe/Berlin", "--confirm-special-categories", "--json"],
                   check=True, capture_output=True)
    base = base_dir / "anki-submission.sqlite"
    folder = work / "concurrent"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    copies = []
    for n in range(count):
        target = folder / f"c{n:03d}.sqlite"
        shutil.copy(base, target)
        db = sqlite3.connect(target)
        db.execute("UPDATE manifest SET value = ? WHERE key = 'token_hash'", (hashlib.sha256(os.urandom(32)).hexdigest(),))
        pad = max(0, size - target.stat().st_size)
        db.execute("CREATE TABLE pad (x)")
        db.execute("INSERT INTO pad VALUES (randomblob(?))", (pad,))
        db.commit()
        db.execute("DROP TABLE pad")
        db.commit()
        db.close()
        copies.append(target)
    return copies


def run_concurrent(binary: str, work: Path, copies: list[Path]) -> dict:
    spool = work / "spool-concurrent"
    shutil.rmtree(spool, ignore_errors=True)
    proc = subprocess.Popen([binary, "research", "serve", "--spool", str(spool),
                             "--journal", str(work / "journal"), "--port", "0", "--upload-rate-limit", "10000",
                             "--upload-burst", "1000"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    url = "http://127.0.0.1:" + line.split("http://127.0.0.1:", 1)[1].split("/", 1)[0] + "/submissions"
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(copies)) as pool:
        results = list(pool.map(lambda f: subprocess.run(
            ["curl", "-s", "-w", "\n%{http_code}", "-H", "Content-Type: application/vnd.sqlite3", "-H", "Expect:",
             "--data-binary", f"@{f}", url], capture_output=True, text=True).stdout, copies))
    seconds = time.perf_counter() - start
    server_kib = stop(proc)
    accepted = 0
    in_spool = 0
    for text, file in zip(results, copies):
        body, _, status = text.rpartition("\n")
        if status == "202":
            accepted += 1
            sha = json.loads(body)["sha256"]
            if (spool / f"{sha}.sqlite").is_file() and sha == hashlib.sha256(file.read_bytes()).hexdigest():
                in_spool += 1
    return {"uploads": len(copies), "accepted": accepted, "in_spool": in_spool, "seconds": seconds,
            "server_kib": server_kib, "bytes_each": copies[0].stat().st_size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--large", required=True, type=Path)
    ap.add_argument("--small", required=True, type=Path)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    serve, nginx = [], []
    for _ in range(args.reps):
        serve.append(run_serve(args.bin, args.work, args.large))
        nginx.append(run_nginx(args.work, args.large))
        print("serve", serve[-1], "nginx", nginx[-1], flush=True)
    copies = padded_copies(args.bin, args.small, args.work, 50, 5 << 20)
    crowd = run_concurrent(args.bin, args.work, copies)
    print("concurrent", crowd, flush=True)
    if args.json:
        args.json.write_text(json.dumps({"serve": serve, "nginx": nginx, "concurrent": crowd}, indent=1))

    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    size_mb = args.large.stat().st_size / 1e6
    ratio = med(serve, "seconds") / med(nginx, "seconds")
    lines = [
        "## Intake",
        "",
        f"`make bench-intake` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, median of {args.reps} alternating rounds): "
        f"the large benchmark submission ({size_mb:.1f} MB) uploaded on loopback with `curl --data-binary` to "
        "`research serve` (streamed to the spool, fsync, quick check, rename) next to nginx alone storing the body "
        "(`client_body_in_file_only`, no check, no fsync).",
        "",
        "| target | upload s | server peak MB | curl peak MB | status |",
        "|---|---|---|---|---|",
        f"| research serve | {med(serve, 'seconds'):.2f} | {med(serve, 'server_kib') / 1024:.1f} | "
        f"{med(serve, 'curl_kib') / 1024:.1f} | {serve[-1]['status']} |",
        f"| nginx alone | {med(nginx, 'seconds'):.2f} | {med(nginx, 'server_kib') / 1024:.1f} | "
        f"{med(nginx, 'curl_kib') / 1024:.1f} | {nginx[-1]['status']} (body stored, no upstream) |",
        "",
        f"Ratio {ratio:.2f}x (target of issue 18: within 1.5x: {'met' if ratio <= 1.5 else 'missed'}); server peak "
        f"memory {med(serve, 'server_kib') / 1024:.0f} MB (target under 100 MB whatever the upload size: "
        f"{'met' if med(serve, 'server_kib') < 100 * 1024 else 'missed'}).",
        "",
        f"50 concurrent uploads of distinct {crowd['bytes_each'] / 1e6:.1f} MB submissions: {crowd['accepted']} answered "
        f"202, {crowd['in_spool']} of them found in the spool with the hash the receipt names, in "
        f"{crowd['seconds']:.2f} s; server peak {crowd['server_kib'] / 1024:.0f} MB.",
        "",
    ]
    bench = ROOT / "BENCHMARKS.md"
    text = bench.read_text() if bench.exists() else ""
    section = "\n".join(lines)
    if "## Intake" in text:
        text = re.sub(r"## Intake\n.*?(?=\n## |\Z)", section.rstrip("\n") + "\n", text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    bench.write_text(text)
    print(section)


if __name__ == "__main__":
    main()

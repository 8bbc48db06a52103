#!/usr/bin/env python3
"""Checks deploy/compose.yaml and deploy/prometheus/prometheus.yml without a container runtime.

The compose file is parsed with PyYAML (python3-yaml) and checked for what the deployment
relies on: the two services, the server's command serving metrics on the port that Prometheus
scrapes, the gRPC port published on loopback only, the config file mounted where Prometheus's
command reads it. The Prometheus configuration is checked by `promtool check config`. With a
working `docker compose`, `docker compose config` validates the file against the compose
schema too. Exit status 1 with a list of problems.
"""
import os
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
problems = []


def check(ok, what):
    print(("ok   - " if ok else "FAIL - ") + what)
    if not ok:
        problems.append(what)


compose_path = os.path.join(DEPLOY, "compose.yaml")
compose = yaml.safe_load(open(compose_path, encoding="utf-8"))
services = compose.get("services", {})
check(set(services) == {"weightprint", "prometheus"}, f"services are weightprint and prometheus: {sorted(services)}")
server = services.get("weightprint", {})
command = server.get("command", [])
check(isinstance(command, list) and command[:1] == ["serve"], "the server runs `serve`")
metrics = command[command.index("--metrics") + 1] if "--metrics" in command else ""
check(metrics.startswith("0.0.0.0:"), f"the server serves metrics on the compose network: {metrics!r}")
metrics_port = metrics.rsplit(":", 1)[-1]
check(all(str(p).startswith("127.0.0.1:") for p in server.get("ports", [])),
      "published ports bind loopback only")
check(str(metrics_port) in [str(p) for p in server.get("expose", [])], "the metrics port is exposed")
build = server.get("build", {})
check(os.path.isfile(os.path.join(DEPLOY, build.get("context", ""), build.get("dockerfile", ""))),
      "the build names the Dockerfile from the repository root")

prom = services.get("prometheus", {})
mounts = [v.split(":") for v in prom.get("volumes", []) if isinstance(v, str)]
config_mount = [m for m in mounts if m[1:2] == ["/etc/prometheus/prometheus.yml"]]
check(len(config_mount) == 1 and os.path.isfile(os.path.join(DEPLOY, config_mount[0][0])),
      "prometheus.yml is mounted from deploy/")
check("--config.file=/etc/prometheus/prometheus.yml" in prom.get("command", []),
      "Prometheus reads the mounted configuration")

prom_config_path = os.path.join(DEPLOY, "prometheus", "prometheus.yml")
prom_config = yaml.safe_load(open(prom_config_path, encoding="utf-8"))
targets = [t for job in prom_config.get("scrape_configs", [])
           for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
check(f"weightprint:{metrics_port}" in targets, f"Prometheus scrapes weightprint:{metrics_port}: {targets}")

promtool = shutil.which("promtool")
check(promtool is not None, "promtool is installed (package prometheus)")
if promtool:
    r = subprocess.run([promtool, "check", "config", prom_config_path], capture_output=True, text=True)
    check(r.returncode == 0, "promtool check config: " + (r.stdout + r.stderr).strip().splitlines()[-1])

docker = shutil.which("docker")
if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
    r = subprocess.run([docker, "compose", "-f", compose_path, "config", "-q"], capture_output=True, text=True)
    check(r.returncode == 0, "docker compose config: " + r.stderr.strip())
else:
    print("note - no `docker compose` here: the compose schema check was not run")

print(f"{len(problems)} problems")
sys.exit(1 if problems else 0)

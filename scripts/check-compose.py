#!/usr/bin/env python3
"""Portal's own start-up validation (`check-config`) with the environment docker-compose.yml gives a service.

No Docker engine runs here, so the compose file is played by hand: ${VAR} values get placeholders, each named
volume becomes a directory, one-shot services running `init-secrets` run first into their volume's directory, and
the checked service's paths under its mounts point into those directories. Exit 1 names the keys the validators refuse.

usage: scripts/check-compose.py PORTAL_DLL [COMPOSE_FILE] [SERVICE ...]   (default: docker-compose.yml portal witness)
"""
import atexit, os, re, shutil, subprocess, sys, tempfile
import yaml

dll = os.path.abspath(sys.argv[1])
compose_file = sys.argv[2] if len(sys.argv) > 2 else "docker-compose.yml"
checked = sys.argv[3:] or ["portal", "witness"]
compose = yaml.safe_load(open(compose_file))
services = compose["services"]
work = tempfile.mkdtemp(prefix="compose-check.")
atexit.register(shutil.rmtree, work, ignore_errors=True)


def interpolate(value):
    # ${VAR}, ${VAR:?message}, ${VAR:-default}: a placeholder stands for the operator's secret.
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}", lambda m: "compose-check-" + m.group(1).lower(), str(value))


def mounts(service):
    """Container path -> local directory, for each named volume the service mounts."""
    result = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if not source.startswith((".", "/")):
            result[target] = os.path.join(work, "volumes", source)
            os.makedirs(result[target], exist_ok=True)
    return result


def localize(value, mapped):
    for target, local in sorted(mapped.items(), key=lambda m: -len(m[0])):
        if value == target or value.startswith(target + "/"):
            return local + value[len(target):]
    return value


def environment(service):
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    mapped = mounts(service)
    return {key: localize(interpolate(value), mapped) for key, value in env.items()}


def command(service):
    cmd = service.get("command", [])
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def run(args, env):
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "DOTNET_ROOT", "DOTNET_CLI_TELEMETRY_OPTOUT", "DOTNET_NOLOGO")}
    return subprocess.run(["dotnet", dll, *args], env={**base, "ASPNETCORE_ENVIRONMENT": "Production", **env},
                          cwd=os.path.dirname(dll), capture_output=True, text=True)


failed = False
for name, service in services.items():
    args = command(service)
    if args[:1] == ["init-secrets"]:
        mapped = mounts(service)
        args = [localize(a, mapped) for a in args]
        done = run(args, environment(service))
        print(f"{name}: {' '.join(command(service))} -> exit {done.returncode}")
        if done.returncode != 0:
            print(done.stdout + done.stderr)
            failed = True

for name in checked:
    service = services[name]
    # The service's own verb (e.g. witness) decides which validation runs; the server's is check-config.
    verb = command(service)[:1]
    args = ["witness", "check-config"] if verb == ["witness"] else ["check-config"]
    done = run(args, environment(service))
    print(f"{name}: {' '.join(args)} -> exit {done.returncode}")
    if done.returncode != 0:
        print("   " + (done.stdout + done.stderr).strip().replace("\n", "\n   "))
        failed = True

sys.exit(1 if failed else 0)

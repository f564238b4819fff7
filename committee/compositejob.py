"""Run a meeting's composite in a child process with its own memory limit, and retry it.

Composing decodes every track and encodes a video: CPU and memory the serving process must
not pay for. A meeting's composite once grew past 20 GB and the kernel ended the whole suite;
so the work runs in ``python -m committee.compositejob`` (a separate process):

* the child limits its own address space (``resource.setrlimit(RLIMIT_AS)``) before it
  imports PyAV or NumPy, so an allocation past the limit fails in the child (MemoryError,
  exit code ``EXIT_MEMORY``) instead of pushing the machine to the OOM killer; it also asks
  the kernel to pick it first should memory still run out (``oom_score_adj``) and to end it
  when its parent dies (``PR_SET_PDEATHSIG``), so no composite outlives the server;
* it reports progress as JSON lines on stdout (``{"progress": f}`` then ``{"result": ...}``),
  which the parent reads line by line (bounded line length);
* any other ending (an exception, a signal, a crash in a codec) is a failed attempt; the
  runner tries again, up to ``attempts`` times, and then reports the job failed with the
  reason. The serving process only waits on a pipe.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

EXIT_MEMORY = 3
EXIT_FAILED = 4
EXIT_USAGE = 2
LINE_LIMIT = 64 * 1024
STDERR_KEPT = 4000  # the tail of the child's stderr kept for the failure message


@dataclass
class CompositeJob:
    """What the room and archive pages show of a meeting's composite
    (``GET /committee/composites/<meeting>``)."""

    meeting_id: str
    state: str = "queued"  # queued | running | retrying | done | failed
    progress: float = 0.0
    message: str = ""
    attempt: int = 0
    attempts: int = 1
    pid: Optional[int] = None
    started_at: float = field(default_factory=time.time)
    finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"meeting_id": self.meeting_id, "state": self.state, "progress": round(self.progress, 3),
                "message": self.message, "attempt": self.attempt, "attempts": self.attempts}


class CompositeFailed(Exception):
    """Every attempt at a composite failed; the message says why the last one did."""


@dataclass(frozen=True)
class CompositeRunner:
    """Runs ``compose_recording`` in child processes: ``memory_mb`` of address space each,
    ``attempts`` tries, ``retry_delay`` seconds (times the attempt number) between tries."""

    memory_mb: int = 1536
    attempts: int = 3
    retry_delay: float = 2.0
    options: dict = field(default_factory=dict)  # compose_recording's keyword arguments (fps, tile...)

    def __post_init__(self) -> None:
        if self.memory_mb < 64:
            raise ValueError("a composite needs at least 64 MB of address space")
        if self.attempts < 1:
            raise ValueError("a composite needs at least one attempt")

    def command(self, directory: Path, output: Path) -> list[str]:
        return [sys.executable, "-m", "committee.compositejob", "--memory-mb", str(self.memory_mb),
                "--options", json.dumps(self.options), str(directory), str(output)]

    async def run(self, job: CompositeJob, directory: Path, output: Path) -> dict[str, Any]:
        """Compose, retrying; returns the child's result (``CompositeResult`` fields) or raises
        ``CompositeFailed``. ``job`` follows the attempts (state, progress, message, pid)."""
        job.attempts = self.attempts
        reason = ""
        for attempt in range(1, self.attempts + 1):
            job.attempt, job.progress = attempt, 0.0
            job.state = "running" if attempt == 1 else "retrying"
            try:
                return await self._attempt(job, directory, output)
            except CompositeFailed as error:
                reason = str(error)
                job.message = f"attempt {attempt}/{self.attempts} failed: {reason}"
                output.unlink(missing_ok=True)  # never keep half a video
                if attempt < self.attempts:
                    job.state = "retrying"  # shown while waiting for the next attempt
                    await asyncio.sleep(self.retry_delay * attempt)
        raise CompositeFailed(f"{self.attempts} attempts failed; the last: {reason}")

    async def _attempt(self, job: CompositeJob, directory: Path, output: Path) -> dict[str, Any]:
        child = await asyncio.create_subprocess_exec(
            *self.command(directory, output), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, limit=LINE_LIMIT,
            start_new_session=True)  # a Ctrl-C at the server's terminal is the server's, not the child's
        job.pid = child.pid
        errors = asyncio.ensure_future(_tail(child.stderr))
        result: Optional[dict] = None
        try:
            while True:
                try:
                    line = await child.stdout.readline()
                except ValueError:  # a line past LINE_LIMIT: not ours to parse
                    continue
                if not line:
                    break
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if isinstance(message, dict) and isinstance(message.get("progress"), (int, float)):
                    job.progress = min(1.0, max(0.0, float(message["progress"])))
                elif isinstance(message, dict) and isinstance(message.get("result"), dict):
                    result = message["result"]
            code = await child.wait()
        except BaseException:
            # The server is stopping (or the job was cancelled): the child goes too.
            if child.returncode is None:
                child.kill()
                await child.wait()
            raise
        finally:
            job.pid = None
            stderr = await errors
        if code == 0 and result is not None:
            return result
        raise CompositeFailed(_explain(code, stderr, self.memory_mb))


async def _tail(stream: asyncio.StreamReader) -> str:
    kept = b""
    while chunk := await stream.read(65536):
        kept = (kept + chunk)[-STDERR_KEPT:]
    return kept.decode("utf-8", "replace")


def _explain(code: Optional[int], stderr: str, memory_mb: int) -> str:
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    if code == EXIT_MEMORY:
        return f"the composite needed more than its memory limit of {memory_mb} MB"
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the composite process was ended by {name}" + (f" ({last})" if last else "")
    if code == 0:
        return "the composite process ended without a result"
    return last or f"the composite process exited with code {code}"


def runner_from(config: Any) -> CompositeRunner:
    return CompositeRunner(memory_mb=config.composite_memory_mb, attempts=config.composite_attempts)


# --- the child ------------------------------------------------------------------------------

def _limit_self(memory_mb: int) -> None:
    import resource

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:  # should memory still run out, the kernel ends this process, not the server
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
    except OSError:
        pass
    try:  # end with the parent: a composite never outlives the server that started it
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:
            os._exit(EXIT_FAILED)
    except (OSError, AttributeError):
        pass


def _report(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m committee.compositejob")
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--options", default="{}")
    parser.add_argument("directory", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    # Thread pools (OpenBLAS, libvpx) reserve address space per thread; one thread is enough
    # for a background job and keeps the limit about real memory.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _limit_self(args.memory_mb)
    try:
        from .composite import compose_recording

        options = json.loads(args.options)
        if "tile" in options:
            options["tile"] = tuple(options["tile"])
        result = compose_recording(args.directory, args.output, progress=lambda f: _report({"progress": f}),
                                   **options)
    except MemoryError:
        sys.stderr.write(f"memory limit of {args.memory_mb} MB exceeded\n")
        return EXIT_MEMORY
    except Exception as error:  # reported to the parent through stderr and the exit code
        sys.stderr.write(f"{type(error).__name__}: {error}\n")
        return EXIT_FAILED
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kib = usage.ru_maxrss  # Linux: KiB
    _report({"result": {"path": str(result.path), "duration": result.duration, "video_frames": result.video_frames,
                        "audio_tracks": result.audio_tracks, "video_tracks": result.video_tracks,
                        "width": result.width, "height": result.height, "tiles": result.tiles, "peak_rss_mb": round(peak_kib / 1024, 1),
                        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1)}})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

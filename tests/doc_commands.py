"""Run a documentation page as a reader would: its files written, its commands run in order,
their output checked against what the page shows.

A page's code blocks say what they are:
- a `console` block: each `$ ` line is a command, run with bash in the reader's directory;
  the lines under it, up to the next `$ `, are what it prints (`…` stands for any text), to
  be found in its output in that order, each a whole line;
- a `console` block captioned `Terminal 1`: a server, left running in the background
  until the next such block or the end (the reader's Ctrl-C: SIGINT, and exit status 0);
- a block captioned with a path (`tutorial/lookup.py`): a file to write there.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.geows_process import served

SERVER_CAPTION = "Terminal 1"
_FENCE = re.compile(r"^```(\{code-block\} )?(\S+)\n(:caption: ([^\n]*)\n\n)?(.*?)^```$",
                    re.MULTILINE | re.DOTALL)


@dataclass
class Step:
    kind: str            # "command", "server" or "file"
    text: str            # the command, or the file's content
    path: str = ""       # the file's path
    expected: list[str] = field(default_factory=list)


def steps(page: str) -> list[Step]:
    """The page's files and commands, in its order."""
    found = []
    for _, language, _, caption, body in _FENCE.findall(page):
        if language == "console":
            kind = "server" if caption == SERVER_CAPTION else "command"
            for chunk in re.split(r"^\$ ", body, flags=re.MULTILINE)[1:]:
                command, *output = chunk.rstrip("\n").split("\n")
                found.append(Step(kind, command, expected=[line for line in output if line]))
        elif caption:
            found.append(Step("file", body, path=caption))
    return found


def matches(expected: list[str], output: str) -> bool:
    """Whether the expected lines are whole lines of `output`, in that order."""
    lines = iter(output.splitlines())
    for pattern in expected:
        regex = re.compile(".*".join(re.escape(part) for part in pattern.split("…")))
        if not any(regex.fullmatch(line) for line in lines):
            return False
    return True


class Reader:
    """Runs a page's steps in `directory`, with `replace` applied to every command and file
    (a free port for the page's 8080, say)."""

    def __init__(self, directory: Path, env: dict[str, str], replace: dict[str, str],
                 port: int):
        self.directory, self.env, self.replace, self.port = directory, env, replace, port
        self.server: subprocess.Popen | None = None
        self.server_log = directory / "terminal-1.log"

    def _replaced(self, text: str) -> str:
        for old, new in self.replace.items():
            text = text.replace(old, new)
        return text

    def run(self, step: Step) -> None:
        if step.kind == "file":
            path = self.directory / step.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self._replaced(step.text) + "\n")
        elif step.kind == "server":
            self.stop_server()
            self.server = subprocess.Popen(
                ["bash", "-c", f"exec {self._replaced(step.text)}"], cwd=self.directory,
                env=self.env, stdout=self.server_log.open("w"), stderr=subprocess.STDOUT)
            self._wait_serving()
        else:
            self._command(step)

    def _command(self, step: Step) -> None:
        command = self._replaced(step.text)
        expected = [self._replaced(line) for line in step.expected]
        # a log or a page read while the server writes it: its line may come a moment later
        patient = command.startswith(("cat ", "curl "))
        deadline = time.monotonic() + (10 if patient else 0)
        while True:
            done = subprocess.run(["bash", "-c", command], cwd=self.directory, env=self.env,
                                  capture_output=True, text=True, timeout=600)
            output = done.stdout + done.stderr
            if done.returncode == 0 and matches(expected, output):
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"$ {command}\nexited {done.returncode}; expected:\n"
                    + "\n".join(expected) + f"\ngot:\n{output[-4000:]}\n"
                    + f"terminal 1:\n{self.server_output()}")
            time.sleep(0.2)

    def _wait_serving(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.server.poll() is None, f"the server exited:\n{self.server_output()}"
            if served(self.port):
                return
            time.sleep(0.1)
        raise AssertionError(f"nothing serves port {self.port}:\n{self.server_output()}")

    def server_output(self) -> str:
        return self.server_log.read_text()[-4000:] if self.server_log.exists() else ""

    def stop_server(self) -> None:
        """The reader's Ctrl-C; the server must exit 0."""
        if self.server is None:
            return
        server, self.server = self.server, None
        server.send_signal(signal.SIGINT)
        try:
            status = server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
            raise AssertionError(f"Ctrl-C did not stop the server:\n{self.server_output()}") \
                from None
        assert status == 0, f"the server exited {status}:\n{self.server_output()}"

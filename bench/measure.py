"""What the benchmark scripts measure of a running pidscope: its CPU ticks,
its peak RSS, and the inspector in a pseudo-terminal of its own."""

import fcntl, os, pty, select, signal, struct, sys, termios, time

ENV = dict(os.environ, PIDSCOPE_CONFIG="/dev/null", NO_COLOR="1", TERM="xterm-256color")
TICK = os.sysconf("SC_CLK_TCK")


def ticks(pid):
    """User plus system CPU time of `pid` so far, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def peak_rss_mib(pid):
    """The peak resident set size of `pid` so far (VmHWM), in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Inspector:
    """`pidscope ARGS` in a 200x50 pseudo-terminal, read as a terminal would."""

    def __init__(self, pidscope, *args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(pidscope, [pidscope, *args], ENV)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        os.kill(self.pid, signal.SIGWINCH)

    def read_for(self, seconds):
        """Read whatever comes for `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if select.select([self.fd], [], [], left)[0]:
                try:
                    os.read(self.fd, 1 << 20)
                except OSError:
                    return

    def drain(self, quiet):
        """Read until the screen has been still for `quiet` seconds."""
        while select.select([self.fd], [], [], quiet)[0]:
            os.read(self.fd, 1 << 20)

    def wait_for(self, marker):
        """Read until the screen has shown `marker` (bytes)."""
        seen = b""
        while marker not in seen:
            if not select.select([self.fd], [], [], 10)[0]:
                sys.exit(f"the inspector never showed {marker!r}")
            seen += os.read(self.fd, 1 << 20)

    def first_output_after(self):
        """The moment the next redraw starts."""
        if not select.select([self.fd], [], [], 5)[0]:
            sys.exit("the inspector did not redraw")
        at = time.perf_counter()
        os.read(self.fd, 1 << 20)
        return at

    def stop(self):
        os.kill(self.pid, signal.SIGTERM)
        os.waitpid(self.pid, 0)
        os.close(self.fd)

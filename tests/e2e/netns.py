"""Test hosts for the end-to-end swarms: network namespaces on one bridge, IPv4 and IPv6, no route out.

A lab N is a Linux bridge in the root namespace holding 10.77.N.1/24 and
fd77:N::1/64, and one namespace per host, joined to the bridge by a veth
pair, with 10.77.N.i/24 and fd77:N::i/64 on its `eth0` (i = 2, 3, ...).
The namespaces have only these connected routes: no default route, so
nothing leaves the lab. Servers in the root namespace bound on the bridge's
addresses (the tracker) are reachable from every host, and the hosts reach
each other over the bridge, each with its own ports and addresses: a real
client sees its peers at real, distinct, non-loopback addresses.

IPv6 addresses are added with `nodad`, so they are usable at once (no
duplicate address detection wait). Everything a lab creates is deleted when
it closes, also after a failed test, and leftovers of an earlier crashed run
under the same names are deleted before a lab is built.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from tests.interfaces import interfaces_steady

ETC_NETNS = Path("/etc/netns")
TRACKER_NAME = "tracker"  # in every host's /etc/hosts: both of the bridge's addresses, for a dual-stack client
LABS = 64  # 10.77.0.0/24 to 10.77.63.0/24


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _claim_lab() -> tuple[int, IO[bytes]]:
    """The first free lab number, held by an exclusive lock on /run/torrentpier-e2e-lab<N>.lock until it closes.

    Runs at once (pytest-xdist workers, two checkouts on one machine) get
    different labs, and a lab's leftovers are only cleaned up by the process
    that holds its lock, so nothing of a running lab is ever deleted.
    """
    for index in range(LABS):
        handle = open(f"/run/torrentpier-e2e-lab{index}.lock", "wb")  # noqa: SIM115 (held while the lab is open)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return index, handle
    raise RuntimeError(f"all {LABS} labs are in use")


@dataclass(frozen=True)
class Host:
    """One test host: a network namespace with its addresses on the lab's bridge."""

    name: str  # the namespace's name (`ip netns exec NAME ...`)
    ipv4: str
    ipv6: str

    def address(self, family: int) -> str:
        """The host's address of `family` (4 or 6)."""
        return self.ipv4 if family == 4 else self.ipv6

    def argv(self, *command: str) -> list[str]:
        """`command` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *command]


@dataclass
class Lab:
    """A bridge and its hosts; `host()` adds one, `close()` removes everything."""

    index: int
    hosts: list[Host] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"tpbr{self.index}"

    @property
    def ipv4(self) -> str:
        """The bridge's (the root namespace's) IPv4 address in the lab."""
        return f"10.77.{self.index}.1"

    @property
    def ipv6(self) -> str:
        """The bridge's IPv6 address in the lab."""
        return str(ipaddress.IPv6Address(f"fd77:{self.index:x}::1"))  # compressed, as clients write it

    def address(self, family: int) -> str:
        return self.ipv4 if family == 4 else self.ipv6

    def url_host(self, family: int) -> str:
        """The bridge's address as a URL's host ([...] around IPv6)."""
        return self.ipv4 if family == 4 else f"[{self.ipv6}]"

    def _veths(self) -> list[str]:
        """The root namespace's ends of this lab's veth pairs (`tp<N>h<i>`), leftovers included."""
        listed = _ip("-o", "link", "show", check=False).stdout.splitlines()
        names = [line.split(": ")[1].split("@")[0] for line in listed if ": " in line]
        return [name for name in names if name.startswith(f"tp{self.index}h")]

    def _namespaces(self) -> list[str]:
        listed = _ip("netns", "list", check=False).stdout.split("\n")
        prefix = f"tp{self.index}-"
        return [line.split()[0] for line in listed if line.startswith(prefix)]

    def open(self) -> None:
        self.close()  # leftovers of a crashed run under these names
        with interfaces_steady(changing=True):  # (the root namespace's interfaces: see tests/interfaces.py)
            _ip("link", "add", self.bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0")
            _ip("addr", "add", f"{self.ipv4}/24", "dev", self.bridge)
            _ip("-6", "addr", "add", f"{self.ipv6}/64", "dev", self.bridge, "nodad")
            _ip("link", "set", self.bridge, "up")

    def host(self, label: str) -> Host:
        """A new namespace on the bridge, with the next free host number's addresses."""
        number = len(self.hosts) + 2
        name = f"tp{self.index}-{label}"
        veth = f"tp{self.index}h{number}"
        host = Host(name, f"10.77.{self.index}.{number}", str(ipaddress.IPv6Address(f"fd77:{self.index:x}::{number:x}")))
        _ip("netns", "add", name)
        self.hosts.append(host)
        # `ip netns exec` mounts /etc/netns/NAME/hosts over /etc/hosts
        etc = ETC_NETNS / name
        etc.mkdir(parents=True, exist_ok=True)
        lines = ["127.0.0.1 localhost", "::1 localhost"]
        names = [f"{host.ipv4} {label}", f"{host.ipv6} {label}", f"{self.ipv4} {TRACKER_NAME}", f"{self.ipv6} {TRACKER_NAME}"]
        (etc / "hosts").write_text("\n".join([*lines, *names, ""]))
        with interfaces_steady(changing=True):
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
            _ip("link", "set", veth, "master", self.bridge, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "addr", "add", f"{host.ipv4}/24", "dev", "eth0")
        _ip("-n", name, "-6", "addr", "add", f"{host.ipv6}/64", "dev", "eth0", "nodad")
        _ip("-n", name, "link", "set", "eth0", "up")
        return host

    def close(self) -> None:
        """Stop what still runs in the hosts, delete them (their veth ends go with them) and the bridge.

        What is already gone is skipped.
        """
        for process in [p for p in _PROCESSES if p.host in self.hosts]:
            process.stop()
        with interfaces_steady(changing=True):
            # the veth pairs' root ends first: a deleted namespace's would go later, in the kernel's own time
            for veth in self._veths():
                _ip("link", "delete", veth, check=False)
            for name in self._namespaces():
                _ip("netns", "delete", name, check=False)
            _ip("link", "delete", self.bridge, check=False)
        for etc in ETC_NETNS.glob(f"tp{self.index}-*"):
            shutil.rmtree(etc, ignore_errors=True)
        self.hosts.clear()


def namespaces_permitted() -> str | None:
    """None if this process may create network namespaces and bridges, else why not."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    probe = f"tpprobe{os.getpid()}"
    result = _ip("netns", "add", probe, check=False)
    if result.returncode != 0:
        return f"`ip netns add` is not permitted here: {result.stderr.strip()}"
    _ip("netns", "delete", probe, check=False)
    with interfaces_steady(changing=True):
        result = _ip("link", "add", probe, "type", "bridge", check=False)
        if result.returncode != 0:
            return f"creating a bridge is not permitted here: {result.stderr.strip()}"
        _ip("link", "delete", probe, check=False)
    return None


@contextmanager
def lab() -> Iterator[Lab]:
    """A lab for the block, always torn down. Skipped where namespaces are not permitted; under CI that fails instead."""
    reason = namespaces_permitted()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"network namespaces are required under CI: {reason}")
        pytest.skip(f"network namespaces are not available: {reason}")
    index, lock = _claim_lab()
    built = Lab(index)
    try:
        built.open()
        yield built
    finally:
        built.close()
        lock.close()


_PROCESSES: list[Process] = []  # started and not yet stopped: a lab stops its hosts' ones when it closes


class Process:
    """A program running inside a host's namespace, its output in a log file; stopped by its own pid."""

    def __init__(self, host: Host, argv: list[str], log: Path, *, env: dict[str, str] | None = None, **popen) -> None:
        self.host, self.log = host, log
        self._out = log.open("wb")
        self.popen = subprocess.Popen(host.argv(*argv), stdout=popen.pop("stdout", self._out), stderr=self._out, env=env, **popen)
        _PROCESSES.append(self)

    def tail(self, chars: int = 3000) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")[-chars:]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds (`ip netns exec` execs the program: the pid is its own)."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._out.close()
        if self in _PROCESSES:
            _PROCESSES.remove(self)

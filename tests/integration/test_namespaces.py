"""Namespaces: new ones are private, omitted ones are the host's, paths are joined.

Every check compares what a process inside the container sees
(``readlink /proc/self/ns/X``, ``hostname``, ``/sys/class/net``) with what
this (host) process sees.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time

import pytest
from conftest import OCI, assert_clean_failure, leftovers, sh

# linux.namespaces[].type -> the name under /proc/PID/ns
PROC_NAME = {
    "pid": "pid",
    "network": "net",
    "mount": "mnt",
    "ipc": "ipc",
    "uts": "uts",
    "cgroup": "cgroup",
}


def set_namespaces(b, entries: list[dict]) -> None:
    b.config["linux"]["namespaces"] = entries
    b.save()


def without(b, *types: str) -> list[dict]:
    return [ns for ns in b.config["linux"]["namespaces"] if ns["type"] not in types]


def ns_links(oci, b, kinds) -> dict[str, str]:
    """{proc ns name: link} as seen by a process in the container."""
    script = "; ".join(f"echo {k}=$(readlink /proc/self/ns/{k})" for k in kinds)
    b.config["process"]["args"] = sh(script)
    b.save()
    out = oci.run_out(b)
    got = dict(line.split("=", 1) for line in out.splitlines())
    assert set(got) == set(kinds), out
    return got


def host_ns(kind: str, pid: int | str = "self") -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def start_detached(oci, make_bundle, **overrides):
    """A ``run -d`` container sleeping; returns (id, init pid)."""
    b = make_bundle(["sleep", "60"], **overrides)
    cid = oci.new_id("a")
    pid = oci.run_detached(b, cid)
    assert pid > 0
    return cid, pid


# ---- pid namespace ----------------------------------------------------------


def test_container_process_is_pid_1(oci, make_bundle):
    b = make_bundle(sh("echo $$"))
    assert oci.run_out(b).strip() == "1"


def test_proc_shows_only_container_processes(oci, make_bundle):
    # the glob is expanded by sh itself (pid 1): no child process to count
    b = make_bundle(sh("for p in /proc/[0-9]*; do echo ${p#/proc/}; done"))
    assert oci.run_out(b).split() == ["1"]


def test_proc_sees_children_in_container_numbering(oci, make_bundle):
    b = make_bundle(sh("sleep 5 & echo $!; ls -d /proc/[0-9]* | sort; kill $!"))
    out = oci.run_out(b).split()
    child = out[0]
    assert child == "2", out
    listed = {p.rsplit("/", 1)[1] for p in out[1:]}
    assert {"1", "2"} <= listed
    assert all(int(p) < 10 for p in listed), listed


# ---- uts ----------------------------------------------------------------------


def test_hostname_from_config(oci, make_bundle):
    b = make_bundle(sh("hostname; cat /proc/sys/kernel/hostname"), hostname="box-one")
    assert oci.run_out(b).split() == ["box-one", "box-one"]
    assert socket.gethostname() != "box-one"


def test_domainname_from_config(oci, make_bundle):
    b = make_bundle(sh("cat /proc/sys/kernel/domainname"), hostname="h", domainname="example.test")
    assert oci.run_out(b).strip() == "example.test"
    with open("/proc/sys/kernel/domainname") as f:
        assert f.read().strip() != "example.test"


def test_hostname_change_inside_stays_inside(oci, make_bundle):
    before = socket.gethostname()
    b = make_bundle(sh("hostname changed-inside && hostname"))
    b.add_caps("CAP_SYS_ADMIN")  # sethostname needs it
    assert oci.run_out(b).strip() == "changed-inside"
    assert socket.gethostname() == before


# ---- new namespaces differ from the host's ---------------------------------------


@pytest.mark.parametrize("kind", ["uts", "ipc", "net", "mnt", "cgroup", "pid"])
def test_new_namespace_differs_from_host(oci, make_bundle, kind):
    b = make_bundle()
    inside = ns_links(oci, b, [kind])[kind]
    assert inside.startswith(f"{kind}:["), inside
    assert inside != host_ns(kind)


def test_all_default_namespaces_at_once(oci, make_bundle):
    kinds = ["uts", "ipc", "net", "mnt", "cgroup", "pid"]
    b = make_bundle()
    inside = ns_links(oci, b, kinds)
    for k in kinds:
        assert inside[k] != host_ns(k), k


def test_two_containers_get_different_namespaces(oci, make_bundle):
    # both alive at once: a dead namespace's inode number is reused at once
    kinds = ["uts", "ipc", "net", "mnt", "pid", "cgroup"]
    acid, apid = start_detached(oci, make_bundle)
    b = ns_links(oci, make_bundle(), kinds)
    for k in kinds:
        assert b[k] != host_ns(k, apid), k
    oci.ok("delete", "--force", acid)


# ---- network ------------------------------------------------------------------------


def test_only_loopback_and_it_is_up(oci, make_bundle):
    b = make_bundle(sh("ls /sys/class/net; cat /sys/class/net/lo/flags"))
    out = oci.run_out(b).split()
    assert out[0] == "lo", f"interfaces in a new netns: {out[:-1]}"
    assert len(out) == 2, f"interfaces in a new netns: {out[:-1]}"
    flags = int(out[1], 16)
    assert flags & 0x1, f"lo is not up: flags {out[1]}"  # IFF_UP


def test_ip_link_lists_lo_up(oci, make_bundle):
    b = make_bundle(sh("ip -o link"))
    lines = oci.run_out(b).strip().splitlines()
    assert len(lines) == 1, lines
    assert ": lo:" in lines[0] and "UP" in lines[0], lines


def test_loopback_carries_traffic(oci, make_bundle):
    # a listener and a client on 127.0.0.1 in the new netns; the listener hands
    # the connection to a script, so its own stdin (EOF at once) is out of the way
    b = make_bundle(
        sh(
            "nc -l -p 4321 -e /bin/save-to-got & "
            "i=0; while [ $i -lt 50 ]; do echo ping | nc 127.0.0.1 4321 > /dev/null && break; "
            "i=$((i+1)); sleep 0.1; done; wait; cat /tmp/got"
        )
    )
    script = os.path.join(b.rootfs, "bin", "save-to-got")
    with open(script, "w") as f:
        f.write("#!/bin/sh\ncat > /tmp/got\n")
    os.chmod(script, 0o755)
    r = oci.ok("run", "-b", b.path, oci.new_id(), timeout=30)
    assert r.stdout == "ping\n", r.stdout + r.stderr


# ---- omitted namespaces are the host's ---------------------------------------------------


@pytest.mark.parametrize(
    "ns_type", ["network", "ipc", "cgroup", "uts", "pid"], ids=lambda t: f"no-{t}"
)
def test_omitted_namespace_is_shared_with_host(oci, make_bundle, ns_type):
    kind = PROC_NAME[ns_type]
    b = make_bundle()
    if ns_type == "uts":
        b.config.pop("hostname", None)
    set_namespaces(b, without(b, ns_type))
    inside = ns_links(oci, b, [kind])[kind]
    assert inside == host_ns(kind)


def test_no_network_namespace_sees_host_interfaces(oci, make_bundle):
    b = make_bundle(sh("ls /sys/class/net"))
    set_namespaces(b, without(b, "network"))
    inside = sorted(oci.run_out(b).split())
    assert inside == sorted(os.listdir("/sys/class/net"))


def test_no_uts_namespace_sees_host_hostname(oci, make_bundle):
    b = make_bundle(sh("hostname"))
    b.config.pop("hostname", None)
    set_namespaces(b, without(b, "uts"))
    assert oci.run_out(b).strip() == socket.gethostname()


@pytest.mark.parametrize("field", ["hostname", "domainname"])
def test_uts_names_without_uts_namespace_are_refused(oci, make_bundle, field):
    # runc: "unable to set hostname without a private UTS namespace" (and the
    # same for domainname): otherwise the init renames the host.  The value
    # given is the host's own, so a runtime that wrongly goes ahead changes nothing.
    with open(f"/proc/sys/kernel/{field}") as f:
        current = f.read().strip()
    b = make_bundle(sh("true"))
    b.config.pop("hostname", None)
    b.config[field] = current
    set_namespaces(b, without(b, "uts"))
    cid, r = oci.run_bundle(b)
    assert_clean_failure(oci, b, cid, r)
    assert "uts" in r.stderr.lower() or field in r.stderr.lower(), r.stderr
    with open(f"/proc/sys/kernel/{field}") as f:
        assert f.read().strip() == current


# ---- joining namespaces by path ----------------------------------------------------------


def test_join_network_and_uts_by_path(oci, make_bundle):
    acid, apid = start_detached(oci, make_bundle, hostname="alpha")
    b = make_bundle(
        sh(
            "echo net=$(readlink /proc/self/ns/net); echo uts=$(readlink /proc/self/ns/uts); "
            "echo host=$(hostname)"
        )
    )
    b.config.pop("hostname", None)
    nss = without(b, "network", "uts")
    nss += [
        {"type": "network", "path": f"/proc/{apid}/ns/net"},
        {"type": "uts", "path": f"/proc/{apid}/ns/uts"},
    ]
    set_namespaces(b, nss)
    got = dict(line.split("=", 1) for line in oci.run_out(b).splitlines())
    assert got["net"] == host_ns("net", apid)
    assert got["uts"] == host_ns("uts", apid)
    assert got["net"] != host_ns("net")
    assert got["host"] == "alpha"
    oci.ok("delete", "--force", acid)


def test_join_ipc_by_path_shares_sysv_objects(oci, make_bundle):
    acid, apid = start_detached(oci, make_bundle)
    b = make_bundle(sh("readlink /proc/self/ns/ipc"))
    set_namespaces(b, without(b, "ipc") + [{"type": "ipc", "path": f"/proc/{apid}/ns/ipc"}])
    assert oci.run_out(b).strip() == host_ns("ipc", apid)
    oci.ok("delete", "--force", acid)


def test_join_pid_namespace_by_path(oci, make_bundle):
    acid, apid = start_detached(oci, make_bundle)
    b = make_bundle(sh("readlink /proc/self/ns/pid; echo $$"))
    set_namespaces(b, without(b, "pid") + [{"type": "pid", "path": f"/proc/{apid}/ns/pid"}])
    out = oci.run_out(b).split()
    assert out[0] == host_ns("pid", apid)
    assert out[1] != "1", "a process joining a pid namespace is not its init"
    oci.ok("delete", "--force", acid)


def test_joined_network_namespace_sees_listener(oci, make_bundle):
    # A listens on its loopback; B, in A's netns, can reach it
    b_a = make_bundle(sh("nc -l -p 5555 > /dev/null; sleep 60"))
    acid = oci.new_id("a")
    oci.run_detached(b_a, acid)
    apid = oci.state(acid)["pid"]
    b = make_bundle(
        sh(
            "i=0; while [ $i -lt 50 ]; do echo x | nc 127.0.0.1 5555 && exit 0; "
            "i=$((i+1)); sleep 0.1; done; exit 1"
        )
    )
    set_namespaces(b, without(b, "network") + [{"type": "network", "path": f"/proc/{apid}/ns/net"}])
    oci.ok("run", "-b", b.path, oci.new_id(), timeout=30)
    oci.ok("delete", "--force", acid)


# ---- bad namespace paths -------------------------------------------------------------------


def test_missing_namespace_path_fails_cleanly(oci, make_bundle):
    b = make_bundle()
    bad = "/proc/999999999/ns/net"
    set_namespaces(b, without(b, "network") + [{"type": "network", "path": bad}])
    cid, r = oci.run_bundle(b)
    assert_clean_failure(oci, b, cid, r, bad)


def test_regular_file_as_namespace_path_fails_cleanly(oci, make_bundle, tmp_path):
    b = make_bundle()
    not_ns = tmp_path / "not-a-namespace"
    not_ns.write_text("hello\n")
    set_namespaces(b, without(b, "network") + [{"type": "network", "path": str(not_ns)}])
    cid, r = oci.run_bundle(b)
    assert_clean_failure(oci, b, cid, r, str(not_ns))
    assert not_ns.read_text() == "hello\n"


def _without_dac_override():
    """The CLI as a root that file permissions apply to (no CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH), the way to meet EACCES as root."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]


@pytest.mark.parametrize("where", ["directory", "file"])
def test_namespace_path_permission_denied(oci, make_bundle, tmp_path, where):
    """EACCES on a namespace path says "permission denied" (runc's words, which
    callers map to their own errors), never "no such file or directory": in the
    validation (a directory it cannot search) and when the init opens the
    path (a file it cannot read)."""
    private = tmp_path / "private"
    private.mkdir()
    ns = private / "net"
    ns.write_text("")
    nobody = 65534
    os.chown(private, nobody, nobody)
    os.chown(ns, nobody, nobody)
    if where == "directory":
        private.chmod(0o700)
    else:
        ns.chmod(0o000)
    b = make_bundle()
    set_namespaces(b, without(b, "network") + [{"type": "network", "path": str(ns)}])
    cid = oci.new_id()
    # without CAP_DAC_OVERRIDE root cannot mkdir in a hierarchy's root (0555 on
    # v1): the parent the runtime removes with its last container must be there
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):  # pure v2
        hierarchies = ["/sys/fs/cgroup"]
    else:
        hierarchies = [
            e.path for e in os.scandir("/sys/fs/cgroup") if e.is_dir(follow_symlinks=False)
        ]
    for h in hierarchies:
        os.makedirs(f"{h}/ociruntime", exist_ok=True)
    argv = [*_without_dac_override(), *OCI, "--root", oci.root, "create", "-b", b.path, cid]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    line = assert_clean_failure(oci, b, cid, r, str(ns), "permission denied")
    assert "no such file" not in line


def test_wrong_kind_of_namespace_fails_cleanly(oci, make_bundle):
    # a uts namespace file given as the network namespace
    b = make_bundle()
    wrong = f"/proc/{os.getpid()}/ns/uts"
    set_namespaces(b, without(b, "network") + [{"type": "network", "path": wrong}])
    cid, r = oci.run_bundle(b)
    assert_clean_failure(oci, b, cid, r, wrong)


def test_directory_as_namespace_path_fails_cleanly(oci, make_bundle, tmp_path):
    b = make_bundle()
    set_namespaces(b, without(b, "uts") + [{"type": "uts", "path": str(tmp_path)}])
    b.config.pop("hostname", None)
    b.save()
    cid, r = oci.run_bundle(b)
    assert_clean_failure(oci, b, cid, r, str(tmp_path))


def test_namespace_of_exited_container_fails_cleanly(oci, make_bundle):
    acid, apid = start_detached(oci, make_bundle)
    path = f"/proc/{apid}/ns/net"
    oci.ok("delete", "--force", acid)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{apid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    b = make_bundle()
    set_namespaces(b, without(b, "network") + [{"type": "network", "path": path}])
    cid, r = oci.run_bundle(b)
    assert_clean_failure(oci, b, cid, r, path)


def test_bad_path_with_create_leaves_nothing(oci, make_bundle, tmp_path):
    b = make_bundle()
    not_ns = tmp_path / "plain"
    not_ns.write_text("")
    set_namespaces(b, without(b, "ipc") + [{"type": "ipc", "path": str(not_ns)}])
    cid = oci.new_id()
    r = oci("create", "-b", b.path, cid)
    assert_clean_failure(oci, b, cid, r, str(not_ns))
    r = oci("state", cid)
    assert r.returncode != 0


def _uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def test_time_namespace_offsets(oci, make_bundle):
    """linux.timeOffsets shift CLOCK_BOOTTIME and CLOCK_MONOTONIC in a new time
    namespace, for the init and for processes exec'd into it; the host keeps its clocks."""
    b = make_bundle(sh("cat /proc/uptime; cat /proc/self/timens_offsets"))
    b.config["linux"]["namespaces"].append({"type": "time"})
    b.config["linux"]["timeOffsets"] = {
        "boottime": {"secs": 86400},
        "monotonic": {"secs": 3600, "nanosecs": 5},
    }
    b.save()
    before = _uptime()
    r = oci.ok("run", "-b", b.path, oci.new_id())
    lines = r.stdout.splitlines()
    inside = float(lines[0].split()[0])
    assert 86400 + before - 1 < inside < 86400 + _uptime() + 1
    offsets = {ln.split()[0]: (int(ln.split()[1]), int(ln.split()[2])) for ln in lines[1:]}
    assert offsets == {"monotonic": (3600, 5), "boottime": (86400, 0)}
    assert os.readlink("/proc/self/ns/time") == os.readlink("/proc/self/ns/time_for_children")


def test_time_namespace_is_joined_by_exec(oci, make_bundle):
    b = make_bundle(["sleep", "100"])
    b.config["linux"]["namespaces"].append({"type": "time"})
    b.config["linux"]["timeOffsets"] = {"boottime": {"secs": 86400}}
    b.save()
    cid = oci.new_id()
    oci.run_detached(b, cid)
    r = oci.ok("exec", cid, "cat", "/proc/uptime")
    assert float(r.stdout.split()[0]) > 86400 + _uptime() - 5
    oci.ok("delete", "--force", cid)


def test_time_offsets_without_a_time_namespace_are_refused(oci, make_bundle):
    b = make_bundle(["true"])
    b.config["linux"]["timeOffsets"] = {"boottime": {"secs": 1}}
    b.save()
    cid, r = oci.run_bundle(b)
    assert r.returncode == 1
    assert (
        r.stderr
        == "ociruntime: config.json: /linux/timeOffsets: time offsets need a new time namespace in /linux/namespaces\n"
    )
    assert leftovers(oci, b, (cid,)) == []


def _veth(name: str, peer: str) -> None:
    subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", peer], check=True)


def test_net_device_is_moved_renamed_and_keeps_its_address(oci, make_bundle):
    """linux.netDevices: a host interface moves into the container's network
    namespace under its new name, with its address, up; a virtual one is gone
    with the container."""
    host, peer = "ocit" + os.urandom(3).hex(), "ocip" + os.urandom(3).hex()
    _veth(host, peer)
    try:
        subprocess.run(["ip", "addr", "add", "192.0.2.7/24", "dev", host], check=True)
        subprocess.run(["ip", "link", "set", host, "up"], check=True)
        b = make_bundle(sh("ip -o addr show ctr0; ip -o link show ctr0"))
        b.config["linux"]["netDevices"] = {host: {"name": "ctr0"}}
        b.save()
        out = oci.run_out(b)
        assert "inet 192.0.2.7/24" in out
        assert ",UP" in out or "<UP" in out
        assert not os.path.exists(f"/sys/class/net/{host}")
        # the kernel tears a network namespace down asynchronously (cleanup_net)
        for _ in range(200):
            if not os.path.exists(f"/sys/class/net/{peer}"):
                break
            time.sleep(0.01)
        assert not os.path.exists(f"/sys/class/net/{peer}"), "the veth went away with the namespace"
    finally:
        subprocess.run(["ip", "link", "del", host], capture_output=True)
        subprocess.run(["ip", "link", "del", peer], capture_output=True)


def test_net_device_errors(oci, make_bundle):
    b = make_bundle(["true"])
    b.config["linux"]["netDevices"] = {"nosuchdev0": {}}
    b.save()
    cid = oci.new_id()
    r = oci("run", "-b", b.path, cid)
    assert (r.returncode, r.stderr) == (
        1,
        'ociruntime: config.json: /linux/netDevices/nosuchdev0: no network device "nosuchdev0" on the host\n',
    )
    b.config["linux"]["namespaces"] = [
        n for n in b.config["linux"]["namespaces"] if n["type"] != "network"
    ]
    b.config["linux"]["netDevices"] = {"lo": {}}
    b.save()
    r = oci("run", "-b", b.path, cid)
    assert (r.returncode, r.stderr) == (
        1,
        "ociruntime: config.json: /linux/netDevices: moving network devices needs a new network namespace\n",
    )
    assert leftovers(oci, b, (cid,)) == []


def _userns(b, mapping=(0, 100000, 65536)):
    """A user namespace; the bundle's path must be searchable by the mapped root
    (pytest makes its temp dirs 0700), as with runc."""
    d = b.path
    while d not in ("/", "/tmp"):
        os.chmod(d, os.stat(d).st_mode | 0o011)
        d = os.path.dirname(d)
    b.config["linux"]["namespaces"].append({"type": "user"})
    c, h, n = mapping
    b.config["linux"]["uidMappings"] = [{"containerID": c, "hostID": h, "size": n}]
    b.config["linux"]["gidMappings"] = [{"containerID": c, "hostID": h, "size": n}]
    b.save()


def test_user_namespace_maps_root(oci, make_bundle):
    """Root inside is host uid 100000; the user namespace owns the pid namespace
    (so /proc mounts) and /dev, sysfs and mqueue work as usual."""
    b = make_bundle(
        sh(
            "id -u; cat /proc/self/uid_map /proc/self/gid_map; echo $$; "
            "readlink /proc/self/ns/user; ls /dev/null /dev/zero; cat /proc/self/mounts | grep -c ' /sys '"
        )
    )
    _userns(b)
    out = oci.run_out(b).split("\n")
    assert out[0] == "0"
    assert out[1].split() == ["0", "100000", "65536"] and out[2].split() == ["0", "100000", "65536"]
    assert out[3] == "1"
    assert out[4] != os.readlink("/proc/self/ns/user")
    assert out[5:7] == ["/dev/null", "/dev/zero"]
    assert out[7] == "1"


def test_user_namespace_with_a_pid_namespace_joined_by_path(oci, make_bundle, tmp_path):
    """A new user namespace and another container's pid namespace: the pid
    namespace is joined before the user namespace is made (afterwards there
    is no CAP_SYS_ADMIN where it was made), and the init is forked into it,
    not made by taking the first child's memory over: it is born where the
    other container's processes see it (THREAT_MODEL.md).  No /proc mount:
    a user namespace that does not own the pid namespace cannot mount its
    procfs (runc cannot either)."""
    a = make_bundle(["sleep", "100"])
    aid = oci.new_id("pidowner")
    apid = oci.run_detached(a, aid)
    b = make_bundle(["sleep", "100"])
    b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] != "proc"]
    b.config["linux"]["maskedPaths"] = []
    b.config["linux"]["readonlyPaths"] = []
    for ns in b.config["linux"]["namespaces"]:
        if ns["type"] == "pid":
            ns["path"] = f"/proc/{apid}/ns/pid"
    _userns(b)
    bid = oci.new_id("joiner")
    trace = tmp_path / "run.json"
    try:
        oci.cli_ok("run", "-d", "-b", b.path, bid, global_args=("--trace", str(trace)))
        bpid = oci.state(bid)["pid"]
        spans = {e["name"] for e in json.loads(trace.read_text())["traceEvents"] if e["ph"] == "X"}
        assert "user namespace" in spans, spans  # the container side's spans are in
        assert "the init, in the first child's memory: report its pid" not in spans, spans
        assert os.stat(f"/proc/{bpid}/ns/pid").st_ino == os.stat(f"/proc/{apid}/ns/pid").st_ino
        assert os.stat(f"/proc/{bpid}").st_uid == 100000
    finally:
        oci.cli("delete", "--force", bid)
        oci.cli("delete", "--force", aid)
    assert leftovers(oci, b, (bid,)) == []


def test_user_namespace_init_runs_as_the_mapped_host_uid(oci, make_bundle):
    b = make_bundle(["sleep", "100"])
    _userns(b)
    cid = oci.new_id()
    pid = oci.run_detached(b, cid)
    st = os.stat(f"/proc/{pid}")
    assert (st.st_uid, st.st_gid) == (100000, 100000)
    r = oci.ok(
        "exec",
        cid,
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; readlink /proc/1/ns/pid; readlink /proc/self/ns/pid",
    )
    lines = r.stdout.split("\n")
    assert lines[0] == "0" and lines[1].split() == ["0", "100000", "65536"]
    assert lines[2] == lines[3], "exec joins the init's pid namespace"
    oci.ok("delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_user_namespace_create_start_delete(oci, make_bundle):
    b = make_bundle(["sleep", "100"])
    _userns(b)
    cid = oci.new_id()
    oci.cli_ok("create", "--bundle", b.path, cid)
    assert oci.state(cid)["status"] == "created"
    oci.cli_ok("start", cid)
    assert oci.state(cid)["status"] == "running"
    oci.cli_ok("kill", cid, "KILL")
    oci.wait_status(cid, "stopped")
    oci.cli_ok("delete", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_user_namespace_rootfs_owned_by_the_mapped_ids(oci, make_bundle):
    """A rootfs chowned to the mapped range is the container root's own: it can write."""
    b = make_bundle(sh("touch /made-inside && stat -c '%u %g' /made-inside"))
    b.config["root"]["readonly"] = False
    _userns(b)
    for dirpath, dirnames, filenames in os.walk(b.rootfs):
        for n in [*dirnames, *filenames]:
            os.lchown(os.path.join(dirpath, n), 100000, 100000)
    os.lchown(b.rootfs, 100000, 100000)
    assert oci.run_out(b).strip() == "0 0"
    st = os.stat(os.path.join(b.rootfs, "made-inside"))
    assert (st.st_uid, st.st_gid) == (100000, 100000)


def test_user_namespace_device_the_host_lacks_is_made(oci, make_bundle):
    """In a user namespace the init may not mknod; binding the host's node
    (runc's way) fails where the host has none.  The runtime makes the node
    with the config's numbers, mode and owner, as crun does, and the init
    attaches it, wherever the path says (not only under /dev)."""
    tag = os.urandom(4).hex()
    missing = f"/dev/ocirt-missing-{tag}"
    assert not os.path.exists(missing)
    b = make_bundle(
        sh(
            f"stat -c '%n|%F|%t:%T|%a|%u:%g' {missing} /opt/zero; "
            f"echo x > {missing} && echo write-ok; head -c 2 /opt/zero | od -An -tx1"
        )
    )
    b.config["linux"]["devices"] = [
        {"path": missing, "type": "c", "major": 1, "minor": 3, "fileMode": 0o666},
        {"path": "/opt/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o640, "uid": 7},
    ]
    b.config["linux"].setdefault("resources", {})["devices"] = [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    ]
    # the mapped root can make nothing in a root-owned rootfs: its own /opt
    os.mkdir(os.path.join(b.rootfs, "opt"))
    os.chown(os.path.join(b.rootfs, "opt"), 100000, 100000)
    _userns(b)
    cid, r = oci.run_bundle(b)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        f"{missing}|character special file|1:3|666|0:0",
        "/opt/zero|character special file|1:5|640|7:0",
        "write-ok",
        " 00 00",
    ], r.stdout
    assert not os.path.exists(missing)
    assert leftovers(oci, b, (cid,)) == []


def test_user_namespace_bind_source_only_the_hosts_root_can_reach(oci, make_bundle, tmp_path):
    """The runtime opens bind sources with the host's privileges, before the
    init enters its user namespace (as crun does): a source beneath a 0700
    root-owned directory, which the container's root (host uid 100000) could
    not even look up, is bound all the same."""
    locked = tmp_path / "locked"
    (locked / "vol").mkdir(parents=True)
    (locked / "vol" / "f").write_text("only root gets here\n")
    os.chmod(locked, 0o700)
    b = make_bundle(["cat", "/vol/f"])
    b.config["mounts"].append(
        {"destination": "/vol", "type": "bind", "source": str(locked / "vol"), "options": ["rbind"]}
    )
    os.mkdir(os.path.join(b.rootfs, "vol"))
    _userns(b)
    os.chmod(locked, 0o700)  # _userns opened the bundle's parents up
    assert oci.run_out(b) == "only root gets here\n"


def test_user_namespace_bind_the_runtime_opened_is_not_the_hosts_peer(oci, make_bundle, tmp_path):
    """A copy the runtime makes of a shared host mount would stay in the host's
    peer group (mounts propagating both ways); it is made private, as the
    init's own copy is without a user namespace: later host mounts stay out."""
    vol = tmp_path / "shared-vol"
    vol.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(vol)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(vol)], check=True)
        b = make_bundle(["sleep", "60"])
        os.mkdir(os.path.join(b.rootfs, "hostvol"))
        b.config["mounts"].append(
            {"destination": "/hostvol", "type": "bind", "source": str(vol), "options": ["rbind"]}
        )
        _userns(b)
        cid = oci.new_id()
        pid = oci.run_detached(b, cid)
        late = vol / "late"
        late.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(late)], check=True)
        (late / "marker").write_text("propagated\n")
        time.sleep(0.2)
        assert os.path.isdir(f"/proc/{pid}/root/hostvol/late")
        assert not os.path.exists(f"/proc/{pid}/root/hostvol/late/marker")
        oci.ok("delete", "--force", cid)
    finally:
        subprocess.run(["umount", "-R", "-l", str(vol)], check=False)


def test_user_namespace_cgroup_mount_without_cgroup_namespace(oci, make_bundle):
    """No cgroupfs may be mounted from inside a user namespace that owns no
    cgroup namespace: every v1 hierarchy is the container's own cgroup bound,
    the named ones (name=systemd on this hybrid host) included, as runc does."""
    b = make_bundle(sh("grep ' /sys/fs/cgroup' /proc/self/mountinfo"))
    b.config["linux"]["namespaces"] = without(b, "cgroup")
    _userns(b)
    cid, r = oci.run_bundle(b)
    assert r.returncode == 0, r.stderr
    hosts = {
        line.split()[4]
        for line in open("/proc/self/mountinfo").read().splitlines()
        if line.split()[4].startswith("/sys/fs/cgroup/") and " - cgroup" in line
    }
    inside = {line.split()[4] for line in r.stdout.splitlines()}
    assert hosts <= inside, (hosts, r.stdout)
    assert leftovers(oci, b, (cid,)) == []

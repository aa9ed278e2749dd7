"""The corpus of the differential tests: ``runc spec`` and its variations, the
configs captured from podman and containerd's CRI (corpus/*.json, written by
tools/capture-configs), and the probe every container of the corpus runs.
"""

from __future__ import annotations

import copy
import json
import os

from .harness import adapt, unique_cgroup

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

# What a process sees of its container, one fact a line, nothing that varies
# from run to run (no pids, times, mount ids).  Each line stands alone: a
# fact the container cannot read is left out, not fatal.
PROBE = r"""
echo "id: $(id -u) $(id -g) groups: $(id -G)"
echo "hostname: $(hostname) cwd: $(pwd) umask: $(umask)"
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status
echo "nofile: $(ulimit -Sn) $(ulimit -Hn) nproc: $(ulimit -Su) $(ulimit -Hu)"
echo "oom_score_adj: $(cat /proc/self/oom_score_adj)"
env | sort | sed 's/^/env: /'
while read -r src mp fs opts rest; do
    if [ -c "$mp" ]; then echo "mount: $mp: char $(stat -c %t,%T "$mp")"; else echo "mount: $mp $fs $opts"; fi
done </proc/self/mounts | sort
stat -c 'dev: %n %F %a %u:%g %t,%T' /dev/* | grep -v ' symbolic link '
for l in /dev/*; do [ -L "$l" ] && echo "dev: $l -> $(readlink "$l")"; done
if touch /.compat-probe 2>/dev/null; then echo "root: rw"; else echo "root: ro"; fi
awk -F: '{print "cgroup: " $2 " " ($3 == "/" ? "/" : "below /")}' /proc/self/cgroup | sort
exit 0
"""


# Differences of the probe's output that a test of their own asserts
# (test_differences.py): masked in every other comparison.
DELIBERATE = (
    # test_cgroup_tmpfs_is_read_only_as_configured
    (r"^((mount: )?/sys/fs/cgroup tmpfs) r[ow],", r"\1 (ro or rw),"),
    # test_hybrid_cgroup_mount_includes_unified
    (r"^(mount: )?/sys/fs/cgroup/unified cgroup2.*\n", ""),
    # test_user_namespace_mqueue_owner
    (r"^(dev: /dev/mqueue directory 1777 0):(0|65534) ", r"\1:(0 or 65534) "),
)


def probe_args() -> list[str]:
    return ["sh", "-c", PROBE]


def from_runc_spec(runc_spec: dict, args: list[str] | None = None) -> dict:
    """``runc spec`` as it comes, with the process ``args`` (the probe by
    default) and a cgroup of its own per side.  Its terminal stays true:
    scenarios that run it in the foreground give it one."""
    c = copy.deepcopy(runc_spec)
    c["process"]["args"] = args or probe_args()
    unique_cgroup(c)
    return c


def no_terminal(runc_spec: dict, args: list[str] | None = None) -> dict:
    """``runc spec`` with ``terminal: false``: what most scenarios run."""
    c = from_runc_spec(runc_spec, args)
    c["process"]["terminal"] = False
    return c


# --- variations of runc spec ---------------------------------------------------------


def _readonly_false(c: dict) -> None:
    c["root"]["readonly"] = False


def _user_1000(c: dict) -> None:
    c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 1000]}


def _extra_mounts(c: dict) -> None:
    c["mounts"] += [
        {"destination": "/mnt/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
        {
            "destination": "/mnt/ro",
            "type": "bind",
            "source": "{tmp:dir}",
            "options": ["rbind", "ro", "nosuid"],
        },
        {"destination": "/mnt/file", "type": "bind", "source": "{tmp:file}", "options": ["bind"]},
        {
            "destination": "/run",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=0700"],
        },
    ]


def _hostname(c: dict) -> None:
    c["hostname"] = "compat-host"
    c["domainname"] = "compat.example"


def _rlimits(c: dict) -> None:
    c["process"]["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 512},
        {"type": "RLIMIT_NPROC", "hard": 200, "soft": 100},
        {"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
    ]


def _capabilities(c: dict) -> None:
    c["process"]["capabilities"] = {
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_ADMIN"],
        "inheritable": ["CAP_KILL"],
        "ambient": ["CAP_KILL"],
    }


def _no_capabilities(c: dict) -> None:
    c["process"]["capabilities"] = {}


def _absent_capabilities(c: dict) -> None:
    # no object at all: none either (not the runtime's own full set)
    del c["process"]["capabilities"]


def _masked_readonly(c: dict) -> None:
    # (a masked path inside a read-only one: test_differences.py)
    c["linux"]["maskedPaths"] += ["/proc/cpuinfo", "/etc/group", "/root", "/no/such/path"]
    c["linux"]["readonlyPaths"] += ["/var", "/proc/self/../1/attr", "/no/such/path"]


def _cwd_env(c: dict) -> None:
    c["process"]["cwd"] = "/tmp/new/dir"
    c["process"]["env"] += ["A=1", "EMPTY=", "HOME=/tmp"]
    c["root"]["readonly"] = False


def _namespaces_more(c: dict) -> None:
    c["linux"]["namespaces"] += [{"type": "cgroup"}]
    c["process"]["oomScoreAdj"] = 100


def _no_new_privileges_off(c: dict) -> None:
    c["process"]["noNewPrivileges"] = False
    c["process"]["user"]["umask"] = 0o077


RUNC_SPEC_VARIANTS = {
    "readonly-false": _readonly_false,
    "user-1000": _user_1000,
    "extra-mounts": _extra_mounts,
    "hostname": _hostname,
    "rlimits": _rlimits,
    "capabilities": _capabilities,
    "no-capabilities": _no_capabilities,
    "absent-capabilities": _absent_capabilities,
    "masked-readonly": _masked_readonly,
    "cwd-env": _cwd_env,
    "cgroupns-oom": _namespaces_more,
    "nnp-off-umask": _no_new_privileges_off,
}


def variant(runc_spec: dict, name: str, args: list[str] | None = None) -> dict:
    c = no_terminal(runc_spec, args)
    RUNC_SPEC_VARIANTS[name](c)
    return c


# --- captured configs ------------------------------------------------------------------


def index() -> dict:
    with open(os.path.join(CORPUS, "index.json")) as f:
        return json.load(f)


def captured_names() -> list[str]:
    return sorted(index()["captures"])


def captured(name: str, args: list[str] | None = None, **adapt_kw) -> dict:
    """corpus/NAME.json made runnable here (harness.adapt), running ``args``
    (the probe by default)."""
    with open(os.path.join(CORPUS, name + ".json")) as f:
        config = json.load(f)
    kinds = index()["captures"][name]["bind_sources"]
    return adapt(config, args or probe_args(), bind_sources=kinds, **adapt_kw)

"""linux.netDevices: move host interfaces into the container's network namespace.

The runtime (in the host's network namespace) moves and renames each device
in one netlink request (IFLA_NET_NS_FD with IFLA_IFNAME), after reading its
addresses, which a namespace change drops; the init, inside the namespace,
puts the addresses back and brings the device up if it was up.  pyroute2 is
imported only here, when a config has netDevices (it costs ~100 ms).

On delete the kernel decides: a physical device returns to the host's
namespace when the container's goes away; a virtual one (veth, macvlan...)
is destroyed with it.
"""

from __future__ import annotations

from .. import oslite as os
from ..errors import SpecError

IFF_UP = 0x1


def _ptr(name: str) -> str:
    return "/linux/netDevices/" + name.replace("~", "~0").replace("/", "~1")


def check(devices: dict, nss: dict) -> None:
    """Before anything exists: a new network namespace, and devices the host has."""
    if not devices:
        return
    if nss.get("network", "") is not None:
        raise SpecError("/linux/netDevices", "moving network devices needs a new network namespace")
    for host, d in devices.items():
        if not os.path.exists(f"/sys/class/net/{host}"):
            raise SpecError(_ptr(host), f'no network device "{host}" on the host')
        name = (d or {}).get("name") or host
        if len(name) > 15 or "/" in name or name in (".", ".."):
            raise SpecError(_ptr(host) + "/name", f'invalid interface name "{name}"')


def move(devices: dict, pid: int) -> list[dict]:
    """Move each device into ``pid``'s network namespace; what the init restores."""
    from pyroute2 import IPRoute

    moved = []
    nsfd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        with IPRoute() as ip:
            for host, d in devices.items():
                name = (d or {}).get("name") or host
                found = ip.link_lookup(ifname=host)
                if not found:
                    raise SpecError(_ptr(host), f'no network device "{host}" on the host')
                idx = found[0]
                link = ip.get_links(idx)[0]
                addrs = [
                    {
                        "family": a["family"],
                        "address": a.get_attr("IFA_ADDRESS"),
                        "prefixlen": a["prefixlen"],
                    }
                    for a in ip.get_addr(index=idx)
                ]
                try:
                    ip.link("set", index=idx, net_ns_fd=nsfd, ifname=name)
                except Exception as e:  # noqa: BLE001 - pyroute2's NetlinkError carries the errno text
                    raise SpecError(
                        _ptr(host), f"moving {host} into the container as {name}: {e}"
                    ) from None
                moved.append({"name": name, "addrs": addrs, "up": bool(link["flags"] & IFF_UP)})
    finally:
        os.close(nsfd)
    return moved


def restore(moved: list[dict]) -> None:
    """In the init, inside the namespace: addresses back, up if it was up."""
    if not moved:
        return
    from pyroute2 import IPRoute

    with IPRoute() as ip:
        for m in moved:
            idx = ip.link_lookup(ifname=m["name"])[0]
            for a in m["addrs"]:
                ip.addr(
                    "add",
                    index=idx,
                    address=a["address"],
                    prefixlen=a["prefixlen"],
                    family=a["family"],
                )
            if m["up"]:
                ip.link("set", index=idx, state="up")

#!/bin/sh
# Build a minimal OCI bundle around Debian's static busybox.
#
# usage: bundles/build-busybox.sh [--demo] [BUNDLE_DIR]
#
#   BUNDLE_DIR  defaults to bundles/busybox next to this script.
#   --demo      make process.args print proof of isolation (hostname, pid,
#               mount table) instead of the default `sh`.
#
# environment:
#   OCIRUNTIME  command used to write config.json (default: ociruntime); it is
#               word-split, so OCIRUNTIME="python3 -m ociruntime" works.
#   DEMO_ARGS   process.args for the bundle: a JSON array
#               ('["/bin/echo", "hi"]') or a shell-quoted command line
#               ("echo 'hello world'"). Overrides --demo.
#   BUSYBOX     busybox binary to install (default: /bin/busybox from the
#               busybox-static package).
#
# The config is `spec`'s, runc's template: an interactive `sh` on a
# terminal. With --demo or DEMO_ARGS the process gets no terminal, so the
# bundle runs from scripts and pipes too.
#
# Re-running over an existing bundle refreshes it in place.
set -eu

DEMO_COMMAND='echo "hostname: $(hostname)"; echo "pid: $$"; echo "mounts:"; cat /proc/self/mounts'

die() {
    echo "build-busybox.sh: $*" >&2
    exit 1
}

demo=0
bundle=""
for arg in "$@"; do
    case "$arg" in
        --demo) demo=1 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        -*) die "unknown option: $arg" ;;
        *) [ -z "$bundle" ] || die "only one bundle directory may be given"; bundle=$arg ;;
    esac
done

script_dir=$(cd "$(dirname "$0")" && pwd)
bundle=${bundle:-$script_dir/busybox}
busybox=${BUSYBOX:-/bin/busybox}

[ -x "$busybox" ] || die "$busybox not found (apt-get install busybox-static)"
if command -v ldd >/dev/null 2>&1 && ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is dynamically linked; install busybox-static"
fi

if [ -z "${DEMO_ARGS+set}" ] && [ "$demo" = 1 ]; then
    # As JSON so that the quoting inside the command survives untouched.
    DEMO_ARGS=$(python3 -c 'import json, sys; print(json.dumps(["sh", "-c", sys.argv[1]]))' "$DEMO_COMMAND")
fi

mkdir -p "$bundle"
bundle=$(cd "$bundle" && pwd)
rootfs=$bundle/rootfs

# --- rootfs ---------------------------------------------------------------
mkdir -p "$rootfs"
for d in bin dev proc sys tmp etc root var run; do
    mkdir -p "$rootfs/$d"
done
chmod 1777 "$rootfs/tmp"
chmod 700 "$rootfs/root"

# Copy to a temporary name and rename, so a rebuild never leaves a torn binary.
cp "$busybox" "$rootfs/bin/.busybox.new"
chmod 755 "$rootfs/bin/.busybox.new"
mv -f "$rootfs/bin/.busybox.new" "$rootfs/bin/busybox"

"$busybox" --list | while read -r applet; do
    [ "$applet" = busybox ] && continue
    ln -sfn busybox "$rootfs/bin/$applet"
done
[ -x "$rootfs/bin/sh" ] || die "busybox provides no sh applet"

cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
EOF
echo ociruntime >"$rootfs/etc/hostname"

# --- config.json ----------------------------------------------------------
# Generated into a scratch directory and moved into place, so an existing
# config.json neither blocks `spec` nor is lost if generation fails.
tmp=$(mktemp -d "$bundle/.spec.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# OCIRUNTIME is deliberately unquoted: it may be a multi-word command.
# shellcheck disable=SC2086
if ! ${OCIRUNTIME:-ociruntime} spec -b "$tmp"; then
    die "'${OCIRUNTIME:-ociruntime} spec -b $tmp' failed; set OCIRUNTIME to a working runtime"
fi
[ -s "$tmp/config.json" ] || die "'${OCIRUNTIME:-ociruntime} spec' wrote no config.json"

DEMO_ARGS=${DEMO_ARGS-} python3 -c '
import json, os, shlex, sys

path = sys.argv[1]
with open(path) as f:
    config = json.load(f)
raw = os.environ["DEMO_ARGS"].strip()
if raw:
    args = json.loads(raw) if raw.startswith("[") else shlex.split(raw)
    if not args or not all(isinstance(a, str) for a in args):
        sys.exit("build-busybox.sh: DEMO_ARGS must be a non-empty list of strings")
    config["process"]["args"] = args
    config["process"]["terminal"] = False  # a command, not an interactive shell
with open(path, "w") as f:
    json.dump(config, f, indent="\t")
    f.write("\n")
' "$tmp/config.json"

mv -f "$tmp/config.json" "$bundle/config.json"
echo "bundle ready: $bundle (process.args: $(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["process"]["args"])' "$bundle/config.json"))"

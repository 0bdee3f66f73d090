#!/usr/bin/env bash
# Boots the Debian systemd 252 of this machine as PID 1 of a throwaway container (new mount, PID, cgroup, UTS and IPC
# namespaces over an overlay of / whose writable layer is a tmpfs), because this machine's own PID 1 is not systemd.
# Not a general container tool: the host network is shared, and the container lives only as long as the test.
#   container.sh start DIR STAGE   boots; STAGE is a directory tree copied over / first; prints the host PID of init
#   container.sh exec DIR CMD…     runs CMD inside;  container.sh stop DIR   powers off and cleans up
set -euo pipefail

cgroup_root=/sys/fs/cgroup/unified
[[ -d $cgroup_root ]] || cgroup_root=/sys/fs/cgroup

# Inside the new namespaces, as their PID 1: build the root, then become systemd.
init() {
    local dir=$1 stage=$2
    mount --make-rprivate /
    mount -t tmpfs -o mode=0755 tmpfs "$dir/layers"
    mkdir -p "$dir/layers/upper" "$dir/layers/work" "$dir/layers/root"
    local root=$dir/layers/root
    mount -t overlay overlay -o "lowerdir=/,upperdir=$dir/layers/upper,workdir=$dir/layers/work" "$root"
    cp -a "$stage/." "$root/"

    mount -t proc proc "$root/proc"
    mount -t sysfs -o ro sysfs "$root/sys"
    mount -t cgroup2 cgroup2 "$root/sys/fs/cgroup"
    mount -t tmpfs -o mode=0755 tmpfs "$root/run"
    mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
    mount -t tmpfs -o mode=0755 tmpfs "$root/dev"
    local node
    for node in null zero full random urandom tty; do
        touch "$root/dev/$node"
        mount --bind "/dev/$node" "$root/dev/$node"
    done
    touch "$root/dev/console"
    mount --bind "$dir/console.log" "$root/dev/console"
    mkdir -p "$root/dev/pts" "$root/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
    ln -s pts/ptmx "$root/dev/ptmx"
    mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
    ln -s /proc/self/fd "$root/dev/fd"
    hostname tailor-test

    cd "$root"
    mkdir -p .oldroot
    pivot_root . .oldroot
    umount -l /.oldroot
    exec env -i container=tailor-test /lib/systemd/systemd --unit=basic.target
}

case ${1:-} in
init)
    init "$2" "$3"
    ;;
start)
    dir=$2 stage=$3
    mkdir -p "$dir/layers"
    : > "$dir/console.log"
    # A cgroup of its own, so the container's systemd manages that subtree and never the host's hierarchy.
    mkdir "$cgroup_root/tailor-deploy-test.$$"
    echo "$cgroup_root/tailor-deploy-test.$$" > "$dir/cgroup"
    (
        echo $BASHPID > "$cgroup_root/tailor-deploy-test.$$/cgroup.procs"
        exec unshare --mount --pid --fork --cgroup --uts --ipc "$0" init "$dir" "$stage"
    ) > "$dir/init.log" 2>&1 &
    echo $! > "$dir/unshare.pid"
    for _ in $(seq 100); do
        init_pid=$(pgrep -P "$(cat "$dir/unshare.pid")" || true)
        [[ -n $init_pid && $(readlink "/proc/$init_pid/exe" 2>/dev/null) == */systemd ]] && break
        sleep 0.1
    done
    [[ $(readlink "/proc/$init_pid/exe" 2>/dev/null) == */systemd ]] || {
        echo "container init did not become systemd; its log:" >&2; cat "$dir/init.log" >&2; exit 1; }
    echo "$init_pid" > "$dir/init.pid"
    # Wait for the manager to answer (degraded is fine: units this machine enables may not fit a container).
    for _ in $(seq 300); do
        state=$("$0" exec "$dir" systemctl is-system-running 2>/dev/null || true)
        [[ $state == running || $state == degraded ]] && break
        sleep 0.1
    done
    [[ $state == running || $state == degraded ]] || {
        echo "systemd in the container did not finish booting (state: ${state:-none}); console:" >&2
        cat "$dir/console.log" >&2; exit 1; }
    echo "$init_pid"
    ;;
exec)
    dir=$2; shift 2
    exec nsenter --target "$(cat "$dir/init.pid")" --mount --uts --ipc --pid --cgroup --root --wd -- "$@"
    ;;
stop)
    dir=$2
    if [[ -f $dir/init.pid ]]; then
        init_pid=$(cat "$dir/init.pid")
        # SIGRTMIN+4 asks systemd for poweroff (stops every unit in order); SIGKILL to a PID-namespace init ends all.
        kill -s RTMIN+4 "$init_pid" 2>/dev/null || true
        for _ in $(seq 150); do kill -0 "$init_pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$init_pid" 2>/dev/null || true
    fi
    if [[ -f $dir/unshare.pid ]]; then
        for _ in $(seq 50); do kill -0 "$(cat "$dir/unshare.pid")" 2>/dev/null || break; sleep 0.1; done
    fi
    for _ in $(seq 50); do
        [[ -f $dir/cgroup ]] || break
        rmdir "$(cat "$dir/cgroup")" 2>/dev/null && rm "$dir/cgroup" && break
        # systemd leaves child cgroups behind when killed: remove the deepest first.
        find "$(cat "$dir/cgroup")" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
        sleep 0.2
    done
    ;;
*)
    echo "usage: $0 start DIR STAGE | exec DIR CMD... | stop DIR" >&2
    exit 2
    ;;
esac

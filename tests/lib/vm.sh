# tests/lib/vm.sh - Debian guests booted with qemu, systemd as PID 1, for
# the tests that need a real systemd (issue 16 part 3).
#
# The guest image (an ext4 file system made by mke2fs -d from an mmdebstrap
# tree) is cached in $PKGSMITH_CHROOT_CACHE like the chroot tarballs.  A
# guest boots the host's Debian kernel and initrd from /boot (their modules
# are copied into the image), with no network device: the test hands its
# files in on a second virtio disk (mounted read-only at /mnt/in) and the
# guest writes its results to its second serial port; its console goes to
# a log file.  At boot, pkgsmith-test.service waits for the boot to finish
# and runs /mnt/in/run.sh as root; exit status 100 asks for a reboot
# (run.sh runs again after it, with its own state on the root disk),
# anything else powers the guest off.  Each guest boots from a qcow2
# overlay, so the cached image is never written.

: "${PKGSMITH_CHROOT_CACHE:=/var/cache/pkgsmith-tests}"
: "${top:?}"
# Every guest: systemd as PID 1, apt's debconf and adduser, the stock
# nginx that serves the test's repository, curl (the doctor's), procps
# (Priority: important, on every stock host: alloy.service reloads with
# `env kill`, which a guest without it fails).
VM_BASE=systemd-sysv,udev,kmod,dbus,debconf,passwd,adduser,nginx,curl,procps

# vm_kernel: the newest Debian kernel in the host's /boot (linux-image-amd64).
vm_kernel() {
    # shellcheck disable=SC2012
    ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1
}

# vm_mirror SUITE: the Debian mirror URL the host's apt uses, read at run
# time so that no address is written here.
vm_mirror() {
    # shellcheck disable=SC2016 # $(URI) is apt's, not ours
    apt-get indextargets --format '$(URI)' 'Created-By: Packages' 2>/dev/null |
        sed -n 's|/dists/.*||p' | grep -v security | head -n 1
}

# vm_image SUITE EXTRA [VARIANT] : path of the cached guest image for
# SUITE, with the comma-separated EXTRA packages; made on first use under a
# lock, so that parallel tests make it once.  A VARIANT names an image of
# its own (vm-SUITE-VARIANT.img), so that tests with different EXTRA
# packages do not remake each other's image.
vm_image() {
    _suite=$1 _extra=$2 _variant=${3:-}
    _k=$(vm_kernel)
    [ -n "$_k" ] || {
        echo "vm: no kernel in /boot (install linux-image-amd64)" >&2
        return 1
    }
    _kver=${_k#/boot/vmlinuz-}
    _img=$PKGSMITH_CHROOT_CACHE/vm-$_suite${_variant:+-$_variant}.img
    mkdir -p "$PKGSMITH_CHROOT_CACHE"
    (
        flock 9
        # The stamp names the kernel whose modules the image holds and its
        # packages: a new host kernel or package list makes a new image.
        _stamp="$_kver $VM_BASE,$_extra"
        if [ ! -s "$_img" ] || [ "$(cat "$_img.stamp" 2>/dev/null)" != "$_stamp" ]; then
            rm -rf "$_img" "$_img.tmp" "$_img.dir"
            vm_make_image "$_suite" "$_extra" "$_kver" "$_img.dir" >&2 &&
                mke2fs -q -t ext4 -L pkgsmith-root -d "$_img.dir" -F "$_img.tmp" 3G >&2 &&
                mv "$_img.tmp" "$_img" && echo "$_stamp" >"$_img.stamp"
            rm -rf "$_img.dir" "$_img.tmp"
        fi
    ) 9>"$_img.lock"
    [ -s "$_img" ] && echo "$_img"
}

# vm_make_image SUITE EXTRA KVER DIR : the guest's root tree in DIR.
vm_make_image() {
    _m=$(vm_mirror)
    # shellcheck disable=SC2086
    mmdebstrap --quiet --variant=apt --format=directory \
        --include="$VM_BASE,$2" \
        "$1" "$4" ${_m:+"$_m"} || return 1
    rm -f "$4/etc/apt/sources.list" "$4"/etc/apt/sources.list.d/*
    mkdir -p "$4/usr/lib/modules" "$4/mnt/in"
    cp -a "/usr/lib/modules/$3" "$4/usr/lib/modules/"
    echo pkgsmith-guest >"$4/etc/hostname"
    printf '127.0.0.1 localhost\n127.0.1.1 pkgsmith-guest\n::1 localhost\n' >"$4/etc/hosts"
    printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$4/etc/fstab"
    # A root login on the console, for whoever debugs a guest by hand.
    chroot "$4" passwd -d root >/dev/null
    cat >"$4/usr/local/sbin/pkgsmith-guest-run" <<'RUN'
#!/bin/sh
# Runs the test's /mnt/in/run.sh once the boot is done; results go to the
# second serial port.
out=/dev/ttyS1
systemctl is-system-running --wait >/dev/null 2>&1
mount -o ro /dev/vdb /mnt/in || { echo "not ok guest - cannot mount /dev/vdb" >$out; systemctl poweroff; exit 1; }
boot=$(($(cat /var/lib/pkgsmith-test-boots 2>/dev/null || echo 0) + 1))
echo "$boot" >/var/lib/pkgsmith-test-boots
echo "# guest boot $boot: $(systemctl is-system-running 2>&1), up $(cut -d' ' -f1 /proc/uptime)s" >$out
sh /mnt/in/run.sh "$boot" >$out 2>&1
rc=$?
echo "# guest boot $boot: run.sh exited $rc at $(cut -d' ' -f1 /proc/uptime)s" >$out
sync
umount /mnt/in
if [ "$rc" = 100 ]; then systemctl reboot; else systemctl poweroff; fi
RUN
    chmod 755 "$4/usr/local/sbin/pkgsmith-guest-run"
    cat >"$4/etc/systemd/system/pkgsmith-test.service" <<'UNIT'
[Unit]
Description=pkgsmith test run (from /dev/vdb)

[Service]
Type=simple
ExecStart=/usr/local/sbin/pkgsmith-guest-run

[Install]
WantedBy=multi-user.target
UNIT
    chroot "$4" systemctl enable pkgsmith-test.service >/dev/null 2>&1
    # Nothing waits for a network the guest does not have.
    chroot "$4" systemctl mask systemd-networkd-wait-online.service >/dev/null 2>&1 || true
}

# vm_kvm: true when /dev/kvm answers KVM_GET_API_VERSION.
vm_kvm() {
    [ -c /dev/kvm ] && python3 -c 'import fcntl, os, sys
fd = os.open("/dev/kvm", os.O_RDWR)
sys.exit(fcntl.ioctl(fd, 0xAE00) != 12)' 2>/dev/null
}

# vm_accel: "kvm" or "tcg".  /dev/kvm may answer its ioctls and still run
# no guest (nested KVM here stops a kernel before its first line): the
# kernel alone is booted once under KVM, without a root file system, and
# must reach its panic and end qemu (-no-reboot) within 20 s.  The answer
# is cached per kernel; a failed probe falls back to TCG (slower, still
# run), and the tests say which one ran.
vm_accel() {
    _k=$(vm_kernel)
    _f=$PKGSMITH_CHROOT_CACHE/vm-accel-${_k#/boot/vmlinuz-}
    mkdir -p "$PKGSMITH_CHROOT_CACHE"
    (
        flock 9
        if [ ! -s "$_f" ]; then
            _a=tcg
            if vm_kvm; then
                _log=$(mktemp)
                timeout 20 qemu-system-x86_64 -enable-kvm -m 256 -nic none -display none -monitor none \
                    -no-reboot -kernel "$_k" -append "console=ttyS0 panic=-1" -serial "file:$_log" \
                    >/dev/null 2>&1 && grep -q 'Kernel panic' "$_log" && _a=kvm
                rm -f "$_log"
            fi
            echo "$_a" >"$_f"
        fi
    ) 9>"$_f.lock"
    cat "$_f"
}

# vm_run IMAGE INDIR WORKDIR TIMEOUT : boots a guest from an overlay on
# IMAGE with INDIR as its input disk, until it powers off (or TIMEOUT
# seconds pass: then it is killed by PID).  Its results are in
# WORKDIR/results, its console in WORKDIR/console; WORKDIR/seconds holds
# the wall time.  Fails when the guest did not power off by itself.
vm_run() {
    _img=$1 _in=$2 _w=$3 _to=$4
    mkdir -p "$_w"
    qemu-img create -q -f qcow2 -F raw -b "$_img" "$_w/root.qcow2" || return 1
    _size=$(du -sm "$_in" | cut -f1)
    mke2fs -q -t ext4 -L pkgsmith-in -d "$_in" -F "$_w/in.img" "$((_size * 2 + 64))M" || return 1
    _k=$(vm_kernel)
    VM_ACCEL=$(vm_accel)
    _accel="-accel $VM_ACCEL"
    # TCG is several times slower than KVM.  One vCPU under TCG: two
    # vCPU threads on a busy 2-core host stalled a guest in soft lockups
    # for minutes (seen here with a load average of 7).
    _smp=2
    [ "$VM_ACCEL" = kvm ] || { _to=$((_to * 4)); _smp=1; }
    : >"$_w/results"
    _t0=$(date +%s)
    # shellcheck disable=SC2086
    qemu-system-x86_64 $_accel -m 1024 -smp "$_smp" -nic none -display none -monitor none \
        -kernel "$_k" -initrd "/boot/initrd.img-${_k#/boot/vmlinuz-}" \
        -append "root=/dev/vda rw console=ttyS0 quiet systemd.show_status=1" \
        -drive "file=$_w/root.qcow2,if=virtio,format=qcow2" \
        -drive "file=$_w/in.img,if=virtio,format=raw,readonly=on" \
        -serial "file:$_w/console" -serial "file:$_w/results" &
    VM_PID=$!
    echo "$VM_PID" >"$_w/qemu.pid"
    _i=0
    while kill -0 "$VM_PID" 2>/dev/null && [ "$_i" -lt "$_to" ]; do
        sleep 1
        _i=$((_i + 1))
    done
    _rc=0
    if kill -0 "$VM_PID" 2>/dev/null; then
        echo "vm: guest still running after ${_to}s; killed (PID $VM_PID)" >>"$_w/results"
        kill "$VM_PID"
        _rc=1
    fi
    wait "$VM_PID" 2>/dev/null
    VM_PID=''
    echo $(($(date +%s) - _t0)) >"$_w/seconds"
    return $_rc
}

# vm_stop : kills the guest of a vm_run still running (a trap on exit).
vm_stop() {
    if [ -n "${VM_PID:-}" ]; then
        kill "$VM_PID" 2>/dev/null
        wait "$VM_PID" 2>/dev/null
    fi
}

# What every bookworm guest image holds beyond the base: pkgsmith's runtime
# libraries (so bin/pkgsmith runs in the guest) and gpg for its signing.
# shellcheck disable=SC2034 # the sourcing tests'
VM_BOOKWORM_EXTRA=libarchive13,libcreaterepo-c0,libcurl4,libglib2.0-0,libgpgme11,librpm9,librpmbuild9,librpmio9,librpmsign9,rpm-common,gpg,gpg-agent

# vm_boot NAME IMAGE INDIR WORKDIR TIMEOUT [BOOTS] : vm_run as a check, then
# the guest's own ok / not ok lines (tests/run counts them), a check that
# the last of BOOTS boots (default 1) ran run.sh to its end, and the
# console's tail when anything failed.
vm_boot() {
    _n=$1 _boots=${6:-1}
    check "$_n: the guest ran its boot and powered off by itself" vm_run "$2" "$3" "$4" "$5"
    echo "# $_n: accel $VM_ACCEL, $_boots boot(s) and the test in $(cat "$4/seconds" 2>/dev/null)s"
    grep -E '^(ok|not ok|#)' "$4/results" | tr -d '\r'
    check "$_n: the guest's run ended" grep -q "^# guest boot $_boots: run.sh exited 0" "$4/results"
    if grep -q '^not ok' "$4/results"; then
        echo "# $_n: console tail:"
        tail -n 20 "$4/console" | sed 's/^/#   /'
    fi
}

# Sourced by demo.sh and bench-install.sh: a Redfish BMC (sushy-tools, fake driver,
# Basic auth) on 127.0.0.1 with one powered-off system whose virtual CD downloads
# the image it is given into DIR/downloads, and a qemu machine to boot that image.
# Needs: pids (array) set by the caller; scripts/install-deps.sh run (the sushy venv).

# bmc_start DIR PORT PASSWORD NAME: sets bmc_address, bmc_system and bmc_password_file.
bmc_start() {
    local dir=$1 port=$2 password=$3 name=$4 uuid
    mkdir -p "$dir/downloads"
    htpasswd -B -b -c "$dir/htpasswd" root "$password" 2>/dev/null
    uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
    cat > "$dir/emulator.conf" <<CONF
SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'
SUSHY_EMULATOR_LISTEN_PORT = $port
SUSHY_EMULATOR_FAKE_DRIVER = True
SUSHY_EMULATOR_STATE_DIR = '$dir/state'
SUSHY_EMULATOR_FAKE_SYSTEMS = [{'uuid': '$uuid', 'name': '$name', 'power_state': 'Off', 'nics': [{'mac': '52:54:00:12:34:56', 'ip': '10.0.2.15'}]}]
SUSHY_EMULATOR_AUTH_FILE = '$dir/htpasswd'
CONF
    TMPDIR="$dir/downloads" .build/sushy-venv/bin/sushy-emulator --config "$dir/emulator.conf" > "$dir/emulator.log" 2>&1 &
    pids+=($!)
    printf '%s' "$password" > "$dir/password"
    bmc_address="http://127.0.0.1:$port"
    bmc_system="/redfish/v1/Systems/$uuid"
    bmc_password_file="$dir/password"
    for _ in $(seq 100); do curl -s -o /dev/null "$bmc_address/redfish/v1/" && return 0; sleep 0.1; done
    echo "the BMC emulator did not start (see $dir/emulator.log)" >&2
    return 1
}

# bmc_booted_image DIR: waits (up to 2 min) until the BMC holds a downloaded image and
# its system is powered on, then prints the image's path; fails if it never happens.
bmc_booted_image() {
    local dir=$1 image power
    for _ in $(seq 240); do
        image=$(find "$dir/downloads" -name '*.iso' 2>/dev/null | head -1)
        power=$(curl -s -u "root:$(cat "$dir/password")" "$bmc_address$bmc_system" | python3 -c 'import json,sys; print(json.load(sys.stdin)["PowerState"])' 2>/dev/null || true)
        if [ -n "$image" ] && [ "$power" = On ]; then echo "$image"; return 0; fi
        sleep 0.5
    done
    return 1
}

# bmc_seed IMAGE DIR: the seed a boot image carries, taken out into DIR; prints seed.json's path.
bmc_seed() {
    mkdir -p "$2"
    (cd "$2" && xorriso -osirrox on -indev "$1" -extract /boot/seed.img seed.cpio 2>/dev/null && cpio -i -d --quiet < seed.cpio)
    echo "$2/etc/tern/seed.json"
}

# qemu_boot IMAGE CONSOLE: the node, a qemu machine (TCG: no KVM needed) booting IMAGE
# from its CD drive, serial console to CONSOLE; it reaches the host's 127.0.0.1 as 10.0.2.2.
qemu_boot() {
    qemu-system-x86_64 -accel tcg -m 512 -smp 1 -display none -monitor none -serial "file:$2" -no-reboot \
        -netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= -cdrom "$1" -boot d > /dev/null 2>&1 &
    pids+=($!)
}

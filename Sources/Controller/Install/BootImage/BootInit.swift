/// The files of the boot image's own initramfs layer: `/init`, run by the kernel as
/// PID 1, and udhcpc's lease script. Busybox provides the shell and tools.
enum BootInit {
    /// Mounts the pseudo filesystems, loads the network drivers, brings the network
    /// up as the seed's `network.env` says, and keeps `tern-agent run --seed` running.
    /// Exit status 78 from the agent means the seed cannot be used (token refused or
    /// expired): the node says so on the console and powers off rather than retrying.
    static let initScript = #"""
    #!/bin/busybox sh
    /bin/busybox mkdir -p /proc /sys /dev /tmp /run /root /sbin /usr/bin /usr/sbin /var/lib/tern-agent
    /bin/busybox --install -s
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev 2>/dev/null
    mount -t tmpfs tmpfs /tmp
    mount -t tmpfs tmpfs /run
    echo "tern: loading drivers"
    while read -r module; do insmod "/lib/modules/$module" 2>/dev/null; done < /lib/modules/load-order
    . /etc/tern/network.env
    echo "tern: network $TERN_NETWORK on $TERN_INTERFACE"
    ip link set lo up
    ip link set "$TERN_INTERFACE" up
    if [ "$TERN_NETWORK" = static ]; then
        ip addr add "$TERN_ADDRESS" dev "$TERN_INTERFACE"
        ip route add default via "$TERN_GATEWAY"
    else
        udhcpc -i "$TERN_INTERFACE" -s /etc/udhcpc.script -t 30 -T 1 -n -q || echo "tern: no DHCP lease on $TERN_INTERFACE"
    fi
    export HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin
    echo "tern: starting the agent for site $TERN_SITE"
    while true; do
        /usr/bin/tern-agent run --seed /etc/tern/seed.json --state /var/lib/tern-agent --no-fwupd --reconnect-cap 10
        status=$?
        if [ "$status" -eq 78 ]; then
            echo "tern: this boot image's seed cannot be used (see above); powering off in 30 s"
            sleep 30
            poweroff -f
        fi
        echo "tern: the agent exited with status $status; restarting in 5 s"
        sleep 5
    done
    """#

    /// udhcpc calls this with the lease in its environment.
    static let dhcpScript = #"""
    #!/bin/sh
    case "$1" in
    bound|renew)
        ip addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        for gateway in $router; do ip route add default via "$gateway" dev "$interface"; break; done
        : > /etc/resolv.conf
        for server in $dns; do echo "nameserver $server" >> /etc/resolv.conf; done
        echo "tern: address $ip on $interface"
        ;;
    deconfig)
        ip addr flush dev "$interface"
        ;;
    esac
    exit 0
    """#
}

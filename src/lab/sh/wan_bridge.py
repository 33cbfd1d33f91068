#!/usr/bin/python3
"""Userspace netem replacement (this kernel has no sch_netem), ported from the lab recipes: a
point-to-point L3 link made of two TUN devices; every IP packet goes to the other side after DELAY ms.
Side A may stay in the current network namespace (NS_A = "-"), side B moves into NS_B. Stdlib only.

usage: wan_bridge.py NS_A IF_A IP_A NS_B IF_B IP_B DELAY_MS
Runs until SIGTERM/SIGINT; closing the fds deletes the (non-persistent) TUN devices.
"""
import asyncio, fcntl, os, signal, struct, subprocess, sys

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def sh(*args):
    subprocess.run(args, check=True)


def main():
    ns_a, if_a, ip_a, ns_b, if_b, ip_b = sys.argv[1:7]
    delay = float(sys.argv[7]) / 1000.0
    tag = str(os.getpid())[-5:]
    sides = {"a": (ns_a, if_a, ip_a, ip_b), "b": (ns_b, if_b, ip_b, ip_a)}
    fds = {}
    for k, (ns, ifname, ip, peer) in sides.items():
        tmp = ifname if ns == "-" else f"w{k}{tag}"
        fds[k] = open_tun(tmp)  # the fd stays attached when the device moves to another netns
        ipn = ["ip"] if ns == "-" else ["ip", "-n", ns]
        if ns != "-":
            sh("ip", "link", "set", tmp, "netns", ns)
            sh(*ipn, "link", "set", tmp, "name", ifname)
            sh(*ipn, "link", "set", "lo", "up")
        sh(*ipn, "addr", "add", ip, "peer", peer, "dev", ifname)
        sh(*ipn, "link", "set", ifname, "up")

    loop = asyncio.new_event_loop()
    last_due = {"a": 0.0, "b": 0.0}

    def pump(src, dst):
        while True:
            try:
                pkt = os.read(fds[src], 65535)
            except BlockingIOError:
                return
            due = max(loop.time() + delay, last_due[src])  # keep packet order
            last_due[src] = due
            loop.call_at(due, _write, dst, pkt)

    def _write(dst, pkt):
        try:
            os.write(fds[dst], pkt)
        except OSError:
            pass

    loop.add_reader(fds["a"], pump, "a", "b")
    loop.add_reader(fds["b"], pump, "b", "a")
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, loop.stop)
    print(f"wan bridge up: {ns_a}/{ip_a} <-> {ns_b}/{ip_b}, {delay*1000:.0f} ms each way", flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()

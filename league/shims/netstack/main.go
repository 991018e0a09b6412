// gVisor's netstack (Debian golang-gvisor-gvisor-dev) answering on a TUN device.
//
// The stack gets one NIC over the TUN file descriptor (fdbased, no Ethernet header),
// IPv4, IPv6, ICMP, UDP and TCP, the league's addresses and an on-link route for each
// family; then it answers until it is killed.
//
// usage: netstack-tun DEV [IPV4 [IPV6]]   (defaults 172.16.0.2/24, fd00:16::2/64, fe80::2)
package main

import (
	"fmt"
	"net"
	"os"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/link/rawfile"
	"gvisor.dev/gvisor/pkg/tcpip/link/tun"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

const nicID = 1

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "netstack-tun: "+format+"\n", args...)
	os.Exit(1)
}

// address parses text as an IPv4 or IPv6 address in netstack's byte-string form.
func address(text string) (tcpip.Address, tcpip.NetworkProtocolNumber) {
	ip := net.ParseIP(text)
	if ip == nil {
		fmt.Fprintf(os.Stderr, "netstack-tun: bad address %q\n", text)
		os.Exit(2)
	}
	if v4 := ip.To4(); v4 != nil {
		return tcpip.Address(v4), ipv4.ProtocolNumber
	}
	return tcpip.Address(ip.To16()), ipv6.ProtocolNumber
}

func addAddress(s *stack.Stack, text string, prefix int) {
	addr, proto := address(text)
	err := s.AddProtocolAddress(nicID, tcpip.ProtocolAddress{
		Protocol:          proto,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: addr, PrefixLen: prefix},
	}, stack.AddressProperties{})
	if err != nil {
		fail("cannot add %s: %v", text, err)
	}
}

func subnet(text string) tcpip.Subnet {
	_, network, err := net.ParseCIDR(text)
	if err != nil {
		fail("bad subnet %q", text)
	}
	sub, err := tcpip.NewSubnet(tcpip.Address(network.IP), tcpip.AddressMask(network.Mask))
	if err != nil {
		fail("bad subnet %q: %v", text, err)
	}
	return sub
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: netstack-tun DEV [IPV4 [IPV6]]")
		os.Exit(2)
	}
	dev, v4, v6 := os.Args[1], "172.16.0.2", "fd00:16::2"
	if len(os.Args) > 2 {
		v4 = os.Args[2]
	}
	if len(os.Args) > 3 {
		v6 = os.Args[3]
	}
	fd, err := tun.Open(dev)
	if err != nil {
		fail("cannot open TUN %s: %v", dev, err)
	}
	mtu, err := rawfile.GetMTU(dev)
	if err != nil {
		fail("cannot read the MTU of %s: %v", dev, err)
	}
	link, err := fdbased.New(&fdbased.Options{FDs: []int{fd}, MTU: mtu})
	if err != nil {
		fail("fdbased: %v", err)
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{icmp.NewProtocol4, icmp.NewProtocol6, udp.NewProtocol, tcp.NewProtocol},
	})
	if err := s.CreateNIC(nicID, link); err != nil {
		fail("cannot create the NIC: %v", err)
	}
	addAddress(s, v4, 24)
	addAddress(s, v6, 64)
	addAddress(s, "fe80::2", 64)
	s.SetRouteTable([]tcpip.Route{
		{Destination: subnet(v4 + "/24"), NIC: nicID},
		{Destination: subnet(v6 + "/64"), NIC: nicID},
		{Destination: subnet("fe80::/64"), NIC: nicID},
		// The corpus's peers sit outside those subnets (10.x.y.z, fd00:16::a:...).
		{Destination: subnet("0.0.0.0/0"), NIC: nicID},
		{Destination: subnet("::/0"), NIC: nicID},
	})
	fmt.Fprintf(os.Stderr, "netstack-tun: gVisor netstack answers on %s as %s, %s, fe80::2\n", dev, v4, v6)
	s.Wait()
}

"""Rule 3: IP options (RFC 791 §3.1, RFC 1122 §3.2.1.8) as Linux's ip_options_compile
(on receipt) and ip_options_echo/ip_options_build (on the reply) handle them. The
recorded kernel answers in test_ipv4_linux.py cover the same cases byte for byte; these
tests spell the rules out."""

from __future__ import annotations

import socket

import pytest
from test_ipv4_support import US, echo_request, header_ok, host, icmp_ok, ipv4, tcp, udp

from stack.host.ipv4 import ms_since_midnight

OURS = socket.inet_aton(US)
NOW = 3723.5  # 01:02:03.500 UTC
STAMP = ms_since_midnight(NOW).to_bytes(4, "big")


def reply_options(options: bytes, **config: object) -> bytes:
    (reply,) = host(**config).handle(echo_request(options=options), NOW)
    assert header_ok(reply) and icmp_ok(reply)
    return reply[20:(reply[0] & 0x0F) * 4]


def test_ms_since_midnight() -> None:
    assert ms_since_midnight(NOW) == 3_723_500
    assert ms_since_midnight(86400 * 3 + 1.25) == 1250
    assert ms_since_midnight(float("nan")) == 0


def test_record_route_gets_our_address_on_receipt_and_on_reply() -> None:
    assert reply_options(bytes([7, 11, 4]) + bytes(8) + b"\x00") == \
        bytes([7, 11, 12]) + OURS + OURS + b"\x00"


def test_record_route_with_one_slot_is_filled_once() -> None:
    assert reply_options(bytes([7, 7, 4]) + bytes(4) + b"\x00") == \
        bytes([7, 7, 8]) + OURS + b"\x00"


def test_full_record_route_is_echoed_unchanged() -> None:
    full = bytes([7, 7, 8]) + socket.inet_aton("10.0.0.1") + b"\x00"
    assert reply_options(full) == full


def test_timestamp_only_twice() -> None:
    assert reply_options(bytes([68, 16, 5, 0]) + bytes(12)) == \
        bytes([68, 16, 13, 0]) + STAMP + STAMP + bytes(4)


def test_timestamp_with_addresses() -> None:
    assert reply_options(bytes([68, 20, 5, 1]) + bytes(16)) == \
        bytes([68, 20, 21, 1]) + OURS + STAMP + OURS + STAMP


def test_full_timestamp_counts_an_overflow() -> None:
    assert reply_options(bytes([68, 8, 9, 0x20]) + bytes(4)) == bytes([68, 8, 9, 0x30]) + bytes(4)


@pytest.mark.parametrize(("listed", "filled"), [
    (["172.16.0.2", "172.16.0.2"], 2), (["10.1.1.1", "172.16.0.2"], 0),
    (["172.16.0.2", "10.1.1.1"], 1), (["172.16.0.255", "0.0.0.0"], 2),
    (["127.0.0.1", "224.0.0.1"], 2), (["172.16.0.0", "127.0.0.1"], 0),
])
def test_prespecified_timestamps_fill_non_unicast_entries(listed: list[str], filled: int) -> None:
    addresses = [socket.inet_aton(a) for a in listed]
    request = bytes([68, 20, 5, 3]) + b"".join(a + bytes(4) for a in addresses)
    expected = bytes([68, 20, 5 + 8 * filled, 3]) + b"".join(
        a + (STAMP if i < filled else bytes(4)) for i, a in enumerate(addresses))
    assert reply_options(request) == expected


def test_full_prespecified_timestamp_counts_no_overflow() -> None:
    full = bytes([68, 12, 13, 0x33]) + bytes(8)
    assert reply_options(full) == full


def test_reply_orders_record_route_before_timestamp_and_drops_the_rest() -> None:
    request = bytes([148, 4, 0, 0, 1]) + bytes([68, 8, 5, 0]) + bytes(4) + \
        bytes([7, 7, 4]) + bytes(4)
    assert reply_options(request) == bytes([7, 7, 8]) + OURS + bytes([68, 8, 9, 0]) + STAMP + \
        b"\x00"


@pytest.mark.parametrize("options", [
    bytes([1, 0, 7, 3]), bytes([148, 4, 0, 0]), bytes([148, 4, 1, 1]),
    bytes([0x9E, 4, 1, 2]), bytes([130, 11]) + bytes(10), bytes([68, 8, 5, 2]) + bytes(4),
])
def test_accepted_options_are_not_echoed(options: bytes) -> None:
    if options[0] == 68:
        assert reply_options(options) == options  # unknown timestamp flag: copied as is
    else:
        assert reply_options(options) == b""


def parameter_problem(options: bytes) -> bytes:
    h = host()
    (error,) = h.handle(echo_request(options=options), NOW)
    assert h.stats.replies == {"icmp.parameter_problem": 1}
    header_len = (error[0] & 0x0F) * 4
    assert error[header_len:header_len + 2] == b"\x0c\x00" and error[1] == 0xC0
    return error


@pytest.mark.parametrize(("options", "pointer"), [
    (bytes([7, 7, 5]) + bytes(5), 22),  # RR pointer not on a slot
    (bytes([7, 7, 3]) + bytes(5), 22),  # RR pointer below 4
    (bytes([7, 2, 4, 0]), 21),  # RR shorter than 3
    (bytes([7, 9, 4]) + bytes(5), 20),  # length beyond the options
    (bytes([68, 8, 9, 0xF0]) + bytes(4), 23),  # overflow counter already 15
    (bytes([68, 8, 5, 1]) + bytes(4), 22),  # address+time with room for half a pair
    (bytes([68, 3, 5, 0]), 21),  # timestamp shorter than 4
    (bytes([68, 8, 4, 0]) + bytes(4), 22),  # timestamp pointer below 5
    (bytes([148, 2, 1, 1]), 21),  # router alert shorter than 4
    (bytes([0x9E, 1, 1, 2]), 20),  # length 1
    (bytes([0x9E, 0, 1, 2]), 20),  # length 0
    (bytes([1, 1, 1, 0x9E]), 23),  # an option type in the last byte
    (bytes([134, 8, 0, 0, 0, 1, 0, 0]), 22),  # CIPSO: no DOI configured
    (bytes([134, 4, 0, 0]), 21),  # CIPSO shorter than 8
    (bytes([131, 7, 3]) + bytes(5), 22),  # source route pointer below 4
    (bytes([137, 2, 1, 1]), 21),  # strict source route shorter than 3
    (bytes([131, 3, 4, 131, 3, 4, 0, 0]), 23),  # two source routes
])
def test_parameter_problem_pointer_as_linux_gives_it(options: bytes, pointer: int) -> None:
    error = parameter_problem(options)
    header_len = (error[0] & 0x0F) * 4
    assert error[header_len + 4] == pointer


def test_parameter_problem_echoes_options_compiled_before_the_error() -> None:
    # RR is filled on receipt before the second RR is refused; the error echoes it and
    # quotes the request as modified (with its original header checksum).
    options = bytes([7, 7, 4]) + bytes(4) + bytes([7, 7, 4]) + bytes(4) + b"\x00\x00"
    request = echo_request(options=options)
    error = parameter_problem(options)
    assert error[20:28] == bytes([7, 7, 8]) + OURS + b"\x00"
    quote = error[36:]
    assert quote[20:27] == bytes([7, 7, 8]) + OURS
    assert quote[:20] == request[:20] and quote[27:] == request[27:]


def test_source_routed_packets_are_dropped() -> None:
    h = host()
    lsrr = bytes([131, 7, 4]) + socket.inet_aton("10.9.9.9") + b"\x00"
    assert h.handle(echo_request(options=lsrr), NOW) == []
    assert h.stats.drops == {"ipv4.source_route": 1}


def test_error_about_a_source_routed_packet_goes_back_along_the_route() -> None:
    options = bytes([131, 11, 12]) + socket.inet_aton("10.9.9.9") + \
        socket.inet_aton("10.8.8.8") + bytes([148, 2, 0, 0, 0])
    (error,) = host().handle(echo_request(options=options), NOW)
    assert error[16:20] == socket.inet_aton("10.8.8.8")
    assert error[20:32] == bytes([131, 11, 4]) + socket.inet_aton("10.9.9.9") + \
        socket.inet_aton("172.16.0.1") + b"\x00"
    assert error[32:34] == b"\x0c\x00" and error[36] == 32


def test_timestamp_whose_reply_has_no_room_gets_no_reply() -> None:
    # ip_options_echo refuses when the pointer leaves less than a slot: Linux sends nothing.
    h = host()
    assert h.handle(echo_request(options=bytes([68, 10, 5, 0]) + bytes(8)), NOW) == []
    assert h.stats.drops == {"ipv4.options_echo_failed": 1}


def test_port_unreachable_echoes_options() -> None:
    segment = udp("172.16.0.1", US, 5000, 9, b"data")
    (error,) = host().handle(ipv4(segment, protocol=17,
                                  options=bytes([7, 7, 4]) + bytes(4) + b"\x00"), NOW)
    assert error[0] == 0x47 and error[20:28] == bytes([7, 7, 8]) + OURS + b"\x00"
    assert error[28:30] == b"\x03\x03"


def test_tcp_reset_echoes_options() -> None:
    segment = tcp("172.16.0.1", US, 0x02, seq=1)
    (reset,) = host().handle(ipv4(segment, protocol=6, tos=0xFF,
                                  options=bytes([7, 7, 4]) + bytes(4) + b"\x00"), NOW)
    assert reset[:2] == b"\x47\xfc" and reset[6:8] == b"\x40\x00"
    assert reset[20:28] == bytes([7, 7, 8]) + OURS + b"\x00"


NO_ROOM_FOR_THE_REPLY = [
    bytes([7, 9, 4]) + bytes(6) + bytes(3),  # RR: filled on receipt, then half a slot left
    bytes([68, 10, 5, 0]) + bytes(6) + bytes(2),  # timestamp only: the same
    bytes([68, 14, 5, 1]) + bytes(10) + bytes(2),  # address and time: the same
]


@pytest.mark.parametrize("options", NO_ROOM_FOR_THE_REPLY)
@pytest.mark.parametrize("request_kind", ["echo", "timestamp", "tcp", "udp"])
def test_no_answer_when_options_cannot_be_echoed(options: bytes, request_kind: str) -> None:
    from test_ipv4_support import PEER, icmp
    payloads = {
        "echo": (1, icmp(8, 0, bytes(4), b"x")),
        "timestamp": (1, icmp(13, 0, bytes(4), bytes(12))),
        "tcp": (6, tcp(PEER, US, 0x02)),
        "udp": (17, udp(PEER, US, 1, 9, b"x")),
    }
    protocol, payload = payloads[request_kind]
    h = host()
    assert h.handle(ipv4(payload, protocol=protocol, options=options), NOW) == []
    assert h.stats.drops == {"ipv4.options_echo_failed": 1}


def test_two_timestamp_options_are_refused_at_the_second() -> None:
    error = parameter_problem(bytes([68, 8, 5, 0]) + bytes(4) + bytes([68, 8, 5, 0]) + bytes(4))
    assert error[(error[0] & 0x0F) * 4 + 4] == 28


def test_error_is_not_aimed_at_a_broadcast_first_hop() -> None:
    options = bytes([131, 11, 12]) + socket.inet_aton("10.9.9.9") + \
        socket.inet_aton("255.255.255.255") + bytes([148, 2, 0, 0, 0])
    h = host()
    assert h.handle(echo_request(options=options), NOW) == []
    assert h.stats.drops == {"icmp.no_error_for_broadcast": 1}


def test_with_accept_source_route_a_finished_route_is_answered_back_along_it() -> None:
    h = host(accept_source_route=True)
    options = bytes([131, 11, 12]) + socket.inet_aton("10.9.9.9") + \
        socket.inet_aton("10.8.8.8") + b"\x00"
    (reply,) = h.handle(echo_request(options=options), NOW)
    assert reply[16:20] == socket.inet_aton("10.8.8.8")
    assert reply[20:32] == bytes([131, 11, 4]) + socket.inet_aton("10.9.9.9") + \
        socket.inet_aton("172.16.0.1") + b"\x00"
    assert header_ok(reply) and icmp_ok(reply)


def test_with_accept_source_route_an_unfinished_route_is_not_forwarded() -> None:
    h = host(accept_source_route=True)
    options = bytes([131, 7, 4]) + socket.inet_aton("10.9.9.9") + b"\x00"
    assert h.handle(echo_request(options=options), NOW) == []
    assert h.stats.drops == {"ipv4.source_route_not_done": 1}


def test_with_accept_source_route_no_answer_to_a_broadcast_hop() -> None:
    h = host(accept_source_route=True)
    options = bytes([131, 11, 12]) + socket.inet_aton("10.9.9.9") + \
        socket.inet_aton("224.0.0.7") + b"\x00"
    assert h.handle(echo_request(options=options), NOW) == []
    assert h.stats.drops == {"ipv4.source_route_to_broadcast": 1}

"""stack/host/ratelimit.py: Linux's ICMP error limits (inet_peer_xrlim_allow per peer,
icmp_global_allow globally), deterministic because time is passed in."""

from __future__ import annotations

from stack.host.ratelimit import BURST_FACTOR, IcmpRateLimiter

A = b"\x0a\x00\x00\x01"
B = b"\x0a\x00\x00\x02"


def test_new_peer_gets_a_burst_of_six_then_one_per_interval() -> None:
    limiter = IcmpRateLimiter(16, 1000, 50)
    assert [limiter.allow(A, 0.0, 1.0) for _ in range(8)] == [None] * BURST_FACTOR + \
        ["icmp.rate_limited"] * 2
    assert limiter.allow(A, 0.5, 1.0) == "icmp.rate_limited"
    assert limiter.allow(A, 1.0, 1.0) is None
    assert limiter.allow(A, 1.5, 1.0) == "icmp.rate_limited"
    assert limiter.allow(B, 1.5, 1.0) is None


def test_bucket_refills_to_at_most_six() -> None:
    limiter = IcmpRateLimiter(16, 1000, 50)
    for _ in range(6):
        limiter.allow(A, 0.0, 1.0)
    allowed = sum(limiter.allow(A, 100.0, 1.0) is None for _ in range(10))
    assert allowed == 6


def test_zero_interval_means_only_the_global_limit() -> None:
    limiter = IcmpRateLimiter(16, 1000, 50)
    assert sum(limiter.allow(A, 0.0, 0.0) is None for _ in range(150)) == 100  # + refill
    assert limiter.allow(A, 0.0, 0.0) == "icmp.global_rate_limited"


def test_global_bank_refills_by_rate_no_more_often_than_20_ms() -> None:
    limiter = IcmpRateLimiter(10_000, 1000, 50)
    peers = (n.to_bytes(4, "big") for n in range(10_000))
    at = [sum(limiter.allow(next(peers), now, 1.0) is None for _ in range(200))
          for now in (0.0, 0.01, 0.04, 2.0)]
    # 50 banked + a full refill (the stamp starts a second old); nothing within 20 ms;
    # 40 credits after 40 ms; at most the 50-credit burst after a long pause.
    assert at == [100, 0, 40, 50]


def test_peer_table_is_bounded_and_forgets_the_least_recent() -> None:
    limiter = IcmpRateLimiter(3, 1000, 1000)
    for _ in range(6):
        limiter.allow(A, 0.0, 1.0)
    for peer in (b"p001", b"p002", b"p003"):
        limiter.allow(peer, 0.0, 1.0)
    assert len(limiter) == 3
    assert limiter.allow(A, 0.0, 1.0) is None  # forgotten, so a fresh bucket again


def test_same_times_same_answers() -> None:
    def run() -> list[str | None]:
        limiter = IcmpRateLimiter(8, 1000, 50)
        return [limiter.allow(bytes([n % 5]), n * 0.013, 1.0) for n in range(500)]
    assert run() == run()

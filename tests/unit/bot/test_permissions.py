from bot.permissions import OperatorPolicy


def test_nobody_when_unconfigured() -> None:
    policy = OperatorPolicy([], None, lambda g: [])
    allowed, why = policy.allowed("U1")
    assert not allowed and "no operators are configured" in why


def test_listed_user_and_group_member() -> None:
    calls: list[str] = []

    def members(group: str) -> list[str]:
        calls.append(group)
        return ["U2"]

    now = [0.0]
    policy = OperatorPolicy(["U1"], "S1", members, ttl_s=60, clock=lambda: now[0])
    assert policy.allowed("U1") == (True, "listed operator")
    assert policy.allowed("U2")[0] and policy.allowed("U2")[0]
    assert not policy.allowed("U3")[0]
    assert calls == ["S1"]  # cached
    now[0] = 61
    policy.allowed("U2")
    assert calls == ["S1", "S1"]  # refreshed after the ttl


def test_group_lookup_failure_fails_closed_with_reason() -> None:
    def boom(group: str) -> list[str]:
        raise RuntimeError("ratelimited")

    allowed, why = OperatorPolicy([], "S1", boom).allowed("U2")
    assert not allowed and "ratelimited" in why

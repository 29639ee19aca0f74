"""Foundation: one callback-data codec and one deep-link codec; what they make they read back,
forgeries they refuse, numbers no database id can be among them (issue 22)."""

from __future__ import annotations

import pytest

from ui import callbacks, links
from ui.callbacks import MAX_NUMBER, Action, InvalidCallback


def test_round_trip() -> None:
    data = callbacks.encode(Action.HELP, "how")
    assert data == "1h:how"
    parsed = callbacks.decode(data)
    assert parsed.action == Action.HELP and parsed.args == ("how",)


@pytest.mark.parametrize(
    "forged",
    ["", "h:how", "1h", "1h:how:extra", "1zz:1", "1h:a b", "1h:" + "x" * 70, "2h:how", None],
)
def test_forged_or_stale_data_is_refused(forged: str | None) -> None:
    with pytest.raises(InvalidCallback):
        callbacks.decode(forged)


def test_encode_refuses_what_telegram_would_refuse() -> None:
    with pytest.raises(ValueError):
        callbacks.encode(Action.HELP, "x" * 80)
    with pytest.raises(ValueError):
        callbacks.encode("nope", "1")
    with pytest.raises(ValueError):
        callbacks.encode(Action.HELP)


def test_int_arg_refuses_non_numbers() -> None:
    assert callbacks.decode("1h:42").int_arg(0) == 42
    with pytest.raises(InvalidCallback):
        callbacks.decode("1h:abc").int_arg(0)


def test_every_action_has_its_own_code() -> None:
    # Two features picking the same code would silently share ARITY and routing.
    codes = [v for k, v in vars(Action).items() if k.isupper() and isinstance(v, str)]
    assert len(codes) == len(set(codes)) == len(Action.ARITY)


@pytest.mark.parametrize("code", sorted(Action.ARITY))
def test_the_codec_refuses_numbers_no_id_can_be(code: str) -> None:
    arity = Action.ARITY[code]
    head = callbacks.VERSION + code
    top = callbacks.decode(":".join([head, *[str(MAX_NUMBER)] * arity]))
    assert [top.int_arg(i) for i in range(arity)] == [MAX_NUMBER] * arity
    for position in range(arity):
        args = ["7"] * arity
        args[position] = str(MAX_NUMBER + 1)
        with pytest.raises(InvalidCallback):
            callbacks.decode(":".join([head, *args]))
        with pytest.raises(ValueError):
            callbacks.encode(code, *args)


@pytest.mark.parametrize("value", ["-1", "1e9", "0x10", "٣", "12\n", str(MAX_NUMBER + 1)])
def test_int_arg_reads_only_plain_numbers_in_range(value: str) -> None:
    with pytest.raises(InvalidCallback):
        callbacks.Callback(Action.MEETUP_VIEW, (value,)).int_arg(0)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("m1", 1), (f"m{MAX_NUMBER}", MAX_NUMBER), ("m0", None), (f"m{MAX_NUMBER + 1}", None),
        ("m9999999999999999999", None), (f"m{10**30}", None), ("m", None), ("m12a", None),
        ("m-1", None), ("m٣", None),
    ],
)  # fmt: skip
def test_a_mission_link_names_an_id_the_database_can_hold(
    payload: str, expected: int | None
) -> None:
    assert links.mission_id(payload) == expected

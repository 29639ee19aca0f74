"""Foundation: one callback-data codec; what it makes it reads back, forgeries it refuses."""

from __future__ import annotations

import pytest

from ui import callbacks
from ui.callbacks import Action, InvalidCallback


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

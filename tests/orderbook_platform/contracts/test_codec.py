import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderbook_platform.contracts import (
    BookDepth,
    BookLevel,
    ContractError,
    DeadLetter,
    Order,
    OrderEvent,
    Price,
    Trade,
    decode,
    decode_order,
    decode_trade,
    encode,
)

pytestmark = pytest.mark.unit

SEED_ORDER = (
    b'{"order_id": "6f1c", "order_type": "limit", "price": 100.25, '
    b'"quantity": 10, "time": 1764064800000000000}'
)


def test_seed_order_from_the_original_readme_decodes_unchanged():
    order = decode_order(SEED_ORDER)
    assert (order.order_id, order.order_type, order.price, order.quantity) == (
        "6f1c",
        "limit",
        100.25,
        10,
    )
    assert order.time == 1764064800000000000
    assert order.symbol is None and order.time_in_force is None and order.post_only is False


def test_unset_additive_fields_are_omitted_so_seed_consumers_see_the_seed_shape():
    order = Order(order_id="a", order_type="market", quantity=-3, time=5)
    assert encode(order) == b'{"order_id":"a","order_type":"market","quantity":-3,"time":5}'


def test_cancel_needs_only_the_resting_order_id():
    order = decode_order(b'{"order_id": "r1", "order_type": "cancel"}')
    assert order.order_type == "cancel" and order.price is None and order.quantity is None


def test_unknown_order_type_still_decodes_so_the_engine_can_reject_it_with_a_reason():
    assert decode_order(b'{"order_id": "x", "order_type": "iceberg"}').order_type == "iceberg"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"not json", "malformed"),
        (b'{"order_type": "limit"}', "order_id"),
        (b'{"order_id": 7, "order_type": "limit"}', "order_id"),
        (b'{"order_id": "a", "order_type": "limit", "price": "cheap"}', "price"),
        (b"[1, 2]", "object"),
    ],
)
def test_bad_input_raises_one_typed_error_carrying_a_reason(payload, fragment):
    with pytest.raises(ContractError) as caught:
        decode_order(payload)
    assert fragment.lower() in caught.value.reason.lower()
    assert caught.value.message_type == "Order"


def test_trade_rejects_a_non_positive_quantity():
    with pytest.raises(ContractError):
        decode_trade(
            b'{"left_order_id":"a","right_order_id":"b","quantity":0,"price":1.0,'
            b'"action":"Buy","status":"filled"}'
        )


finite_prices = st.floats(min_value=0.01, max_value=1e6, allow_nan=False).map(lambda p: round(p, 2))
ids = st.text(min_size=1, max_size=40)


@given(
    order_id=ids,
    price=finite_prices,
    quantity=st.integers(min_value=-(10**9), max_value=10**9),
    time=st.integers(min_value=0, max_value=2**63 - 1),
    symbol=st.none() | st.text(min_size=1, max_size=8),
    tif=st.sampled_from([None, "GTC", "IOC", "FOK"]),
    post_only=st.booleans(),
)
def test_order_round_trips_through_json(order_id, price, quantity, time, symbol, tif, post_only):
    order = Order(
        order_id=order_id,
        order_type="limit",
        price=price,
        quantity=quantity,
        time=time,
        symbol=symbol,
        time_in_force=tif,
        post_only=post_only,
    )
    assert decode_order(encode(order)) == order


@pytest.mark.parametrize(
    "message",
    [
        Trade("m", "t", 5, 100.25, "Buy", "partial", trade_id="t-1", symbol="XYZ", sequence=9),
        Price(mid_price=None, best_bid=99.5, bid_size=3, symbol="XYZ"),
        Price(mid_price=100.255),
        BookDepth("XYZ", bids=[BookLevel(99.5, 10, 2)], asks=[], time=1, sequence=2),
        OrderEvent("o", "rejected", reason="off_tick_price", symbol="XYZ"),
        DeadLetter("orders", 2, 41, "malformed", value_base64="bm90IGpzb24="),
    ],
)
def test_every_message_round_trips(message):
    assert decode(encode(message), type(message)) == message


def test_prices_stay_json_numbers_not_strings():
    assert b'"price":100.25' in encode(Trade("m", "t", 1, 100.25, "Sell", "filled"))
    assert not math.isnan(decode_order(SEED_ORDER).price)


# ---------------------------------------------------------------- hostile bytes

VALID = b'{"order_id":"a","order_type":"limit","price":1.0,"quantity":1,"time":1%s}'


def nested(levels: int) -> bytes:
    """A valid order whose extra field nests so that the whole text is `levels` deep."""
    inner = levels - 1
    return VALID % (b',"x":' + b"[" * inner + b"]" * inner)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b'{"order_id":"\xff\xfe","order_type":"limit","price":1.0,"quantity":1,"time":1}', "utf-8"),
        (VALID % b',"note":"\xc3\x28"', "utf-8"),  # in a field no decoder reads
        (VALID % b',"\xff":1', "utf-8"),  # in a key no decoder reads
        (VALID % b',"t":"\xed\xa0\x80"', "utf-8"),  # a surrogate encoded as UTF-8
        (b'{"order_id":"a","x":' + b"[" * 30_000 + b"]" * 30_000 + b"}", "nested 30001 levels"),
        (VALID % (b',"x":' + b'{"a":' * 10_000 + b"1" + b"}" * 10_000), "nested 10001 levels"),
        (nested(65), "nested 65 levels"),
        (b'{"order_id":"a","order_type":"limit","quantity":' + b"[" * 999 + b"]" * 999 + b"}",
         "nested 1000 levels"),
        (b"[" * 100, "nested 100 levels"),  # unbalanced counts as it stands
    ],
)  # fmt: skip
def test_hostile_bytes_raise_only_the_contract_error(payload: bytes, fragment: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode_order(payload)
    assert fragment in caught.value.reason.lower()


def test_nesting_up_to_64_levels_decodes() -> None:
    assert decode_order(nested(64)).order_id == "a"


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    brackets = "[{" * 20_000
    order = decode_order(VALID % f',"note":"{brackets}\\"{brackets}"'.encode())
    assert order.order_id == "a"
    assert decode_order(VALID % f',"trader_id":"{brackets}"'.encode()).trader_id == brackets


def test_a_str_with_a_lone_surrogate_raises_the_contract_error() -> None:
    with pytest.raises(ContractError, match="UTF-8"):
        decode_order('{"order_id":"\ud800","order_type":"limit"}')


def test_every_message_type_is_guarded_the_same_way() -> None:
    for message_type in (Order, Trade, Price, BookDepth, OrderEvent, DeadLetter):
        for payload in (b'{"a":"\xff"}', b"[" * 5000 + b"]" * 5000):
            with pytest.raises(ContractError):
                decode(payload, message_type)
        with pytest.raises(ContractError):
            decode('{"a":"\udfff"}', message_type)


def test_valid_utf8_beyond_ascii_still_decodes() -> None:
    order = decode_order('{"order_id":"ünï-€-𐀀","order_type":"limit"}'.encode())
    assert order.order_id == "ünï-€-𐀀"


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"1", 0),
        (b"{}", 1),
        (b'{"a":[1,{"b":[]}]}', 4),
        (b'{"a":"[[[[","b":"\\"[[["}', 1),  # brackets and escaped quotes inside strings
        (b'{"a":"unterminated [[[[', 1),  # an unterminated string runs to the end
        (b"]]]][", 0),  # closers without openers never make it negative
    ],
)
def test_nesting_depth_counts_brackets_outside_strings(text: bytes, depth: int) -> None:
    from orderbook_platform.contracts.codec import nesting_depth

    assert nesting_depth(text) == depth


def _outcome_at_stack_depth(payload: bytes, depth: int) -> str:
    """What decoding `payload` gives when called `depth` Python frames deep."""
    if depth:
        return _outcome_at_stack_depth(payload, depth - 1)
    try:
        return f"order {decode_order(payload).order_id}"
    except ContractError as exc:
        return f"contract error: {exc.reason}"


@pytest.mark.parametrize("levels", [30, 64, 65, 500, 990])
def test_the_same_bytes_decode_the_same_way_however_deep_the_callers_stack(levels: int) -> None:
    """A live loop, a recovery and a file replay call the decoder from different stack
    depths; msgspec's own limit would give different answers (or a RecursionError)."""
    import sys

    payload = nested(levels)
    shallow = _outcome_at_stack_depth(payload, 0)
    deep = _outcome_at_stack_depth(payload, sys.getrecursionlimit() - 120)
    assert shallow == deep
    assert shallow.startswith("order" if levels <= 64 else "contract error: nested")

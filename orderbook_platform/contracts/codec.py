"""Fast JSON codecs for the contracts (msgspec), with one typed decode error."""

from __future__ import annotations

from typing import TypeVar

import msgspec

from orderbook_platform.contracts.messages import (
    BookDepth,
    DeadLetter,
    Order,
    OrderEvent,
    Price,
    Trade,
)

T = TypeVar("T", bound=msgspec.Struct)


class ContractError(ValueError):
    """Raised for any input that is not a valid message; `reason` says why."""

    def __init__(self, message_type: str, reason: str) -> None:
        super().__init__(f"invalid {message_type}: {reason}")
        self.message_type = message_type
        self.reason = reason


_encoder = msgspec.json.Encoder()
_decoders: dict[type, msgspec.json.Decoder] = {}


def encode(message: msgspec.Struct) -> bytes:
    """Encode one message as compact JSON bytes (omitting unset optional fields)."""
    return _encoder.encode(message)


def decode(data: bytes | str, message_type: type[T]) -> T:
    """Decode one message; raises ContractError on malformed JSON or a wrong shape."""
    decoder = _decoders.get(message_type)
    if decoder is None:
        decoder = _decoders[message_type] = msgspec.json.Decoder(message_type)
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ContractError(message_type.__name__, str(exc)) from None


def decode_order(data: bytes | str) -> Order:
    return decode(data, Order)


def decode_trade(data: bytes | str) -> Trade:
    return decode(data, Trade)


def decode_price(data: bytes | str) -> Price:
    return decode(data, Price)


def decode_book(data: bytes | str) -> BookDepth:
    return decode(data, BookDepth)


def decode_order_event(data: bytes | str) -> OrderEvent:
    return decode(data, OrderEvent)


def decode_dead_letter(data: bytes | str) -> DeadLetter:
    return decode(data, DeadLetter)

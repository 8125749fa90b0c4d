"""Who a caller or sender is: phone numbers, e-mail addresses and messenger ids,
normalised so that the same person matches however the number was written.

A phone number is kept in E.164 (``+49301234567``): "030 1234567" dialled in Germany,
"+49 30 1234567" and "0049301234567" are one number. The region says how to read
numbers written without a country code; it comes from the configuration.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from email.utils import parseaddr

import phonenumbers

PHONE = "phone"
EMAIL = "email"
MESSENGER = "messenger"

# numbers this short are extensions or service codes, not clients (e.g. "101")
_MIN_NATIONAL_DIGITS = 6


class InvalidIdentity(ValueError):
    """The text is not a phone number / e-mail address / messenger id we can match on."""


@dataclass(frozen=True, slots=True)
class Identity:
    """One normalised identity. ``value`` is E.164 for phones, the lower-cased address
    for e-mail, and ``channel:user_id`` for messengers."""

    kind: str
    value: str

    @classmethod
    def phone(cls, raw: str, region: str = "DE") -> Identity:
        return cls(PHONE, normalise_phone(raw, region))

    @classmethod
    def email(cls, raw: str) -> Identity:
        return cls(EMAIL, normalise_email(raw))

    @classmethod
    def messenger(cls, channel: str, user_id: str) -> Identity:
        channel, user_id = channel.strip().lower(), str(user_id).strip()
        if not channel or not user_id or ":" in channel:
            raise InvalidIdentity("a messenger identity needs a channel and a user id")
        return cls(MESSENGER, f"{channel}:{user_id}")

    @property
    def channel(self) -> str:
        """``phone``, ``email`` or the messenger's name (``telegram``...)."""
        return self.value.split(":", 1)[0] if self.kind == MESSENGER else self.kind

    @property
    def user_id(self) -> str:
        return self.value.split(":", 1)[1] if self.kind == MESSENGER else self.value


def check_region(region: str) -> str:
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {region!r} (ISO 3166 code such as DE, US, RU)")
    return region


def normalise_phone(raw: str, region: str = "DE") -> str:
    """E.164 form of ``raw``; numbers without a country code are read as dialled in ``region``."""
    try:
        number = phonenumbers.parse(raw, check_region(region))
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity(f"not a phone number: {exc}") from None
    # is_valid_number knows the assigned ranges; metadata lags behind new ranges, so a
    # merely possible number of normal length is accepted too
    if not phonenumbers.is_valid_number(number) and not (
        phonenumbers.is_possible_number(number)
        and len(phonenumbers.national_significant_number(number)) >= _MIN_NATIONAL_DIGITS
    ):
        raise InvalidIdentity("not a client's phone number (too short or impossible)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    """The address alone (``"Ann <Ann@X.org>"`` -> ``ann@x.org``), lower-cased: mail
    servers treat the local part case-insensitively in practice, and so do people."""
    _, address = parseaddr(raw.strip())
    address = address.strip().lower()
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain or " " in address:
        raise InvalidIdentity("not an e-mail address")
    return address


# short channel names adapters use in client strings ("tg:42")
CHANNEL_ALIASES = {"tg": "telegram", "wa": "whatsapp", "fb": "facebook", "ig": "instagram"}


def parse_client(text: str | None, region: str = "DE") -> Identity | None:
    """The identity in a conversation router's ``client`` string: ``"tg:42"`` or
    ``"telegram:42"`` (messenger), ``"ann@x.org"`` / ``"mailto:ann@x.org"`` (e-mail),
    ``"+49 30 1234567"`` / ``"tel:..."`` (phone). None if it is none of these."""
    text = (text or "").strip()
    scheme, sep, rest = text.partition(":")
    scheme = scheme.strip().lower()
    try:
        if sep and scheme in ("mailto", "email"):
            return Identity.email(rest)
        if sep and scheme in ("tel", "phone"):
            return parse_phone(rest, region)
        if sep and scheme and scheme.replace("_", "").replace("-", "").isalnum() and rest.strip():
            return Identity.messenger(CHANNEL_ALIASES.get(scheme, scheme), rest)
        if "@" in text:
            return Identity.email(text)
    except InvalidIdentity:
        return None
    return parse_phone(text, region)


def parse_phone(raw: str | None, region: str = "DE") -> Identity | None:
    """Lenient form for caller ids from the PBX: "anonymous", "" or an extension give None."""
    if not raw:
        return None
    e164 = _e164_or_none(raw, region)
    return Identity(PHONE, e164) if e164 is not None else None


def phone_to_look_up(raw: str | None, region: str = "DE") -> Identity | None:
    """The identity ``raw`` has if it is a client's number, without checking that it is
    one: a fifth of :func:`parse_phone`'s time, for the owner look-up on a call's way to
    its first ring. Only to look up among stored identities (each was checked when it
    was stored, and the check depends on the E.164 form alone); never to store."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, check_region(region))
    except phonenumbers.NumberParseException:
        return None
    return Identity(PHONE, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


@functools.lru_cache(maxsize=4096)
def _e164_or_none(raw: str, region: str) -> str | None:
    """A call's number is read on arrival (routing asks for the caller's owner) and again
    when it is answered and ends; people call again. Parsing costs ~0.1 ms of the GIL."""
    try:
        return normalise_phone(raw, region)
    except InvalidIdentity:
        return None

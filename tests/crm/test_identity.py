import pytest

from acd.crm import Identity, InvalidIdentity, normalise_email, normalise_phone, parse_phone
from acd.crm.identity import phone_to_look_up


@pytest.mark.parametrize("raw", ["030 1234567", "+49 30 1234567", "0049 30 1234567", "+49 (30) 123-45-67",
                                 "030/1234567"])
def test_national_and_international_forms_of_a_number_are_one_number(raw):
    assert normalise_phone(raw, "DE") == "+49301234567"


@pytest.mark.parametrize(("raw", "region", "e164"), [
    ("(202) 555-0143", "US", "+12025550143"),
    ("1-202-555-0143", "US", "+12025550143"),
    ("8 (495) 123-45-67", "RU", "+74951234567"),
    ("+7 495 123 45 67", "DE", "+74951234567"),
    ("+1 202 555 0143", "RU", "+12025550143"),
])
def test_the_region_decides_how_a_number_without_country_code_is_read(raw, region, e164):
    assert normalise_phone(raw, region) == e164


@pytest.mark.parametrize("raw", ["", "anonymous", "101", "12", None])
def test_extensions_and_hidden_numbers_are_no_client(raw):
    assert parse_phone(raw, "DE") is None


@pytest.mark.parametrize(("raw", "region"), [
    ("030 1234567", "DE"), ("0049 30 1234567", "DE"), ("+49 (30) 123-45-67", "DE"), ("(202) 555-0143", "US"),
    ("8 (495) 123-45-67", "RU"), ("+1 202 555 0143", "RU"), ("+1 555 0000042", "US"), ("+39 06 1234 5678", "DE"),
])
def test_a_number_looked_up_on_the_way_to_the_first_ring_has_the_stored_form(raw, region):
    assert phone_to_look_up(raw, region) == parse_phone(raw, region)


@pytest.mark.parametrize("raw", ["", "anonymous", None])
def test_a_hidden_number_is_not_looked_up(raw):
    assert phone_to_look_up(raw, "DE") is None


def test_an_unknown_region_is_a_configuration_error():
    with pytest.raises(ValueError, match="region"):
        normalise_phone("030 1234567", "XX")


def test_email_addresses_match_whatever_their_case():
    assert normalise_email("Ann Lee <Ann.Lee@Example.ORG>") == "ann.lee@example.org"
    assert Identity.email("ANN.LEE@example.org") == Identity.email(" ann.lee@EXAMPLE.org ")


@pytest.mark.parametrize("raw", ["", "ann", "ann@", "@example.org", "ann@localhost"])
def test_what_is_not_an_email_address_is_refused(raw):
    with pytest.raises(InvalidIdentity):
        normalise_email(raw)


def test_a_messenger_identity_is_channel_and_user_id():
    identity = Identity.messenger("Telegram", " 12345 ")
    assert identity == Identity("messenger", "telegram:12345")
    assert (identity.channel, identity.user_id) == ("telegram", "12345")
    with pytest.raises(InvalidIdentity):
        Identity.messenger("telegram", "")


@pytest.mark.parametrize(("client", "identity"), [
    ("tg:42", Identity("messenger", "telegram:42")),
    ("telegram:42", Identity("messenger", "telegram:42")),
    ("whatsapp:4915112345678", Identity("messenger", "whatsapp:4915112345678")),
    ("Ann@Example.org", Identity("email", "ann@example.org")),
    ("mailto:Ann@Example.org", Identity("email", "ann@example.org")),
    ("030 1234567", Identity("phone", "+49301234567")),
    ("tel:+49-30-1234567", Identity("phone", "+49301234567")),
    ("", None), ("anonymous", None), ("mailto:nobody", None),
])
def test_the_conversation_routers_client_strings_are_read_as_identities(client, identity):
    from acd.crm import parse_client

    assert parse_client(client, "DE") == identity

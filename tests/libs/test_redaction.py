"""PII redaction on the email fixtures: Presidio's recognizers offline, stable placeholders,
exact restoration, and checksums that keep order numbers out of the card type."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("presidio_analyzer", reason="needs the redaction extra")

from libs.redaction import policy_for, redactor_for
from libs.redaction.redactor import Redactor
from schemas.redaction import PIIEntity
from sluice.settings import Settings, SettingsError, load_settings
from tests.conftest import REPO_ROOT, SluiceEnv

EVERYTHING = frozenset(PIIEntity)
CASES = [json.loads(line) for line in
         (REPO_ROOT / "tests/fixtures/eval/support_tickets.jsonl").open()]


def source(case: dict[str, Any]) -> str:
    return str(case.get("email") or case.get("text"))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Detection must not reach for the internet (tldextract's suffix list, a model hub)."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a network connection was attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_every_fixture_email_loses_its_addresses_and_keeps_its_order_number(
    case: dict[str, Any],
) -> None:
    text = source(case)
    redactor = Redactor(EVERYTHING)
    redacted = redactor.redact(text)
    gold = case["gold"] or {}
    if gold.get("customer_email"):
        assert gold["customer_email"] not in redacted
        assert "email-1@redacted.invalid" in redacted
    if gold.get("order_id"):
        assert gold["order_id"] in redacted  # an order number is no phone or card
    assert "@" not in redacted.replace("@redacted.invalid", "")
    assert redactor.restore(redacted) == text
    # Stable: the same text (or a later message quoting it) gets the same placeholders.
    assert redactor.redact(text) == redacted
    assert Redactor(EVERYTHING).redact(text) == redacted


@pytest.mark.usefixtures("no_network")
def test_header_names_are_found_wherever_they_recur() -> None:
    case = next(case for case in CASES if case["id"] == "en-plain-absolute-date")
    redacted = Redactor({PIIEntity.PERSON}).redact(source(case))
    assert "Maria Lopez" not in redacted
    assert redacted.count("<PERSON_1>") == 2  # the From line and the signature


@pytest.mark.usefixtures("no_network")
def test_cards_and_ibans_are_redacted_only_when_their_checksum_holds() -> None:
    redactor = Redactor({PIIEntity.CARD, PIIEntity.IBAN})
    text = ("Card 4111 1111 1111 1111, not 4111 1111 1111 1112; IBAN DE89 3704 0044 0532 "
            "0130 00, not DE88 3704 0044 0532 0130 00.")
    assert redactor.redact(text) == (
        "Card <CARD_1>, not 4111 1111 1111 1112; IBAN <IBAN_1>, not DE88 3704 0044 0532 "
        "0130 00.")


@pytest.mark.usefixtures("no_network")
def test_phones_and_street_addresses() -> None:
    redactor = Redactor({PIIEntity.PHONE, PIIEntity.ADDRESS})
    text = ("Call +1 415 555 0182 or visit 1200 Market Street or Hauptstraße 5. "
            "The parcel is on its way, order 48213 from 2025-10-02.")
    assert redactor.redact(text) == (
        "Call <PHONE_1> or visit <ADDRESS_1> or <ADDRESS_2>. "
        "The parcel is on its way, order 48213 from 2025-10-02.")


def test_a_schemas_policy_beats_its_kinds() -> None:
    settings = Settings.model_validate({"redaction": json.dumps(
        {"support_ticket": ["email"], "extract": ["email", "phone"]})})
    assert policy_for(settings, schema_name="support_ticket", kind="extract") == {
        PIIEntity.EMAIL}
    assert policy_for(settings, schema_name="invoice", kind="extract") == {
        PIIEntity.EMAIL, PIIEntity.PHONE}
    assert redactor_for(Settings(), schema_name="support_ticket", kind="extract") is None


def test_an_unknown_entity_type_stops_start_up_naming_the_variable() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(redaction='{"support_ticket": ["emails"]}')
    assert "SLUICE_REDACTION" in str(refused.value)


def test_a_streamed_answer_gets_its_values_back_even_when_a_placeholder_is_split() -> None:
    redactor = Redactor({PIIEntity.EMAIL, PIIEntity.CARD})
    redactor.redact("Mail maria.lopez@example.com, card 4111 1111 1111 1111.")
    answer = "Write to email-1@redacted.invalid about <CARD_1> (not <CARD_2>), thanks."
    received: list[str] = []
    restorer = redactor.restoring(received.append)
    for char in answer:  # the worst case: one character a token
        restorer(char)
    restorer.flush()
    assert "".join(received) == (
        "Write to maria.lopez@example.com about 4111 1111 1111 1111 (not <CARD_2>), thanks.")
    assert all("redacted" not in piece for piece in received)


def test_a_streamed_call_sends_placeholders_and_the_sink_reads_real_values(
    sluice_env: SluiceEnv,
) -> None:
    from libs.llm.stream import stream_chat
    from tests.support.scripted_llm import Reply, ScriptedLLM

    redactor = Redactor({PIIEntity.EMAIL})
    question = [{"role": "user", "content": "Who wrote from maria.lopez@example.com?"}]
    with ScriptedLLM(lambda body: Reply(content="It was email-1@redacted.invalid indeed.")) as llm:
        settings = sluice_env.settings.model_copy(update={"llm_base_url": llm.url})
        received: list[str] = []
        restorer = redactor.restoring(received.append)
        done = stream_chat(settings, question, restorer, max_tokens=20, temperature=0.0,
                           redaction=redactor)
        restorer.flush()
    assert "maria.lopez@example.com" not in json.dumps(llm.requests)
    assert "email-1@redacted.invalid" in llm.requests[0]["messages"][0]["content"]
    assert "".join(received) == "It was maria.lopez@example.com indeed."
    assert done.text == "It was email-1@redacted.invalid indeed."  # as the model wrote it

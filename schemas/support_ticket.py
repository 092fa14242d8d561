"""The built-in extraction target ``support_ticket``: one customer support request.

Field rules are what the record must look like anywhere (a sink, a reviewer's form).
Grounding rules run only when a validation context carries the source document
(``{"source": text, "message_date": date}``, see :mod:`workers.extraction.grounding`):
the extracted email and order id must occur in the source, and the order date may not
be after the message. They are what keep a plausible-looking invention out of the sinks;
a reviewer resolving a dead job validates without them, since a person may know better.

In the default ``verified`` acceptance mode the gate supersedes the "occurs in the source"
rules: each field's ``acceptance`` metadata says where its value may come from.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from schemas.acceptance import acceptance


class IssueType(StrEnum):
    REFUND_REQUEST = "refund_request"
    DELIVERY_ISSUE = "delivery_issue"
    PRODUCT_DEFECT = "product_defect"
    GENERAL_INQUIRY = "general_inquiry"


# `[0-9]`, never `\d`: llama.cpp's grammar compiler crashes on the escape.
OrderId = Annotated[str, StringConstraints(pattern=r"^[0-9]{5}$")]
CustomerName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


# Words (or word beginnings) that ground each issue type in the customer's own text, in the
# languages the acceptance gate reads: a label none of them supports goes to a person, so a
# model that always answers the first value cannot pass by agreeing with itself. The lists
# overlap ("missing" is a defect or a delivery): a cue supports a label, it does not pick it.
# general_inquiry is the catch-all and needs none.
ISSUE_CUES: dict[str, list[str]] = {
    "refund_request": [
        "refund", "money back", "reimburs", "repay", "pay me back", "chargeback",
        "erstatt", "rückerstatt", "geld zurück", "rückzahlung", "zurückzahl",
        "rembours", "argent en retour",
        "reembols", "devolución del dinero", "devuelvan el dinero", "devuélvanme",
        "rimbors", "soldi indietro", "restituzione dei soldi",
        "estorno", "dinheiro de volta", "devolução do dinheiro",
        "terugbetal", "geld terug", "restitutie", "terugstort",
    ],
    "delivery_issue": [
        "deliver", "shipping", "shipment", "shipped", "parcel", "package", "tracking",
        "courier", "never arrived", "not arrived", "hasn't arrived", "has not arrived",
        "didn't arrive", "did not arrive", "not received", "never received", "still waiting",
        "missing", "lost", "late", "delayed", "wrong address", "fehlt", "verspät", "manque",
        "retard", "falta", "retras", "manca", "ritard", "atras", "ontbreekt", "vertraagd",
        "liefer", "paket", "sendung", "zustell", "versand", "nicht angekommen",
        "livr", "colis", "expédi", "pas reçu", "pas arrivé", "jamais reçu",
        "entreg", "envío", "paquete", "no ha llegado", "no llegó", "mensajer",
        "consegn", "spedizion", "pacco", "non è arrivato", "non è mai arrivato", "corriere",
        "envio", "pacote", "não chegou", "nunca chegou", "transportadora",
        "bezorg", "levering", "geleverd", "pakket", "verzend", "niet aangekomen",
    ],
    "product_defect": [
        "broken", "broke", "defect", "damaged", "cracked", "faulty", "doesn't work",
        "does not work", "not working", "stopped working", "malfunction", "scratched",
        "shattered", "dead pixel", "leaking", "torn", "won't turn on", "will not turn on",
        "crackl", "noise", "noisy", "rattl", "buzz", "flicker", "overheat", "stopped",
        "missing", "without", "wrong", "fehlt", "ohne", "falsch", "manque", "sans", "mauvais",
        "falta", "sin", "equivocad", "manca", "senza", "sbagliat", "sem", "errad", "ontbreekt",
        "zonder", "verkeerd",
        "kaputt", "defekt", "beschädigt", "gebrochen", "funktioniert nicht", "gesprungen",
        "zerkratzt", "cassé", "cassée", "défectueu", "endommag", "abîmé",
        "ne fonctionne pas", "ne marche pas", "fissur", "rayé", "roto", "rota", "defectuos",
        "dañad", "no funciona", "agrietad", "rayad", "rotto", "rotta", "difettos",
        "danneggiat", "non funziona", "crepat", "graffiat", "quebrad", "defeito",
        "defeituos", "danificad", "não funciona", "rachad", "riscad", "kapot",
        "beschadigd", "gebroken", "werkt niet", "gebarsten",
    ],
}


# Words a general inquiry never holds: with one of these in the sender's words, the catch-all
# label is refused (a consistently wrong model cannot file a broken screen as a question).
STRONG_ISSUE_CUES: dict[str, list[str]] = {
    "refund_request": [
        "refund", "money back", "reimburs", "rückerstatt", "geld zurück", "rembours",
        "reembols", "rimbors", "estorno", "reembols", "terugbetal", "geld terug",
    ],
    "product_defect": [
        "broken", "defect", "damaged", "cracked", "faulty", "doesn't work", "does not work",
        "stopped working", "kaputt", "defekt", "beschädigt", "funktioniert nicht", "cassé",
        "défectueu", "endommag", "ne fonctionne pas", "roto", "rota", "defectuos", "no funciona",
        "rotto", "rotta", "difettos", "danneggiat", "non funziona", "quebrad", "defeituos",
        "danificad", "não funciona", "kapot", "beschadigd", "werkt niet",
    ],
    "delivery_issue": [
        "never arrived", "not arrived", "hasn't arrived", "has not arrived", "didn't arrive",
        "did not arrive", "not received", "never received", "still waiting", "rien reçu",
        "toujours pas reçu", "nicht angekommen", "noch nicht da",
        "nie angekommen", "pas reçu", "jamais reçu", "pas arrivé", "no ha llegado",
        "no llegó", "non è arrivato", "non è mai arrivato", "não chegou", "nunca chegou",
        "niet aangekomen", "nooit aangekomen",
    ],
}

# What makes a number the ORDER number: its quote must name it so ("my order 48213",
# "Bestellnummer 48213"), or a customer number or a postcode could pass for one.
ORDER_ID_CUES: list[str] = [
    "order", "bestell", "auftrag", "command", "pedido", "ordin", "encomenda", "bestelling",
]

# Numbers named otherwise: an invoice, a customer number, a parcel, a phone extension.
NOT_ORDER_ID_CUES: list[str] = [
    "invoice", "customer number", "customer no", "account", "tracking", "parcel number",
    "ticket", "case", "ext", "phone", "tel", "fax", "postcode", "zip", "suite",
    "rechnung", "kundennummer", "sendungsnummer", "telefon", "plz",
    "facture", "numéro client", "téléphone", "factura", "número de cliente", "teléfono",
    "fattura", "codice cliente", "telefono", "fatura", "número do cliente", "telefone",
    "factuur", "klantnummer", "telefoon", "postcode",
]

# What makes a date in the customer's words the ORDER date: its quote must hold one of these
# ("ordered on 2 March", "Bestellung vom 2. März"), not only a date ("arrived yesterday").
ORDER_CUES: list[str] = [
    "order", "bought", "purchas", "placed", "buy",
    "bestell", "gekauft", "kaufte", "kauf", "aufgegeben",
    "command", "achet", "acquis",
    "pedid", "pedí", "compr", "encarg", "hice", "hecho", "realic", "realiz",
    "ordin", "acquist", "effettu",
    "encomend", "feit", "fiz", "efetu",
    "besteld", "gekocht", "kocht", "aangeschaft", "geplaatst",
]


# Dates of something else than the order: the cue nearer to a date decides whose it is.
NOT_ORDER_DATE_CUES: list[str] = [
    "arriv", "deliver", "receiv", "came", "ship", "dispatch", "sent", "return", "refund",
    "angekommen", "geliefert", "erhalten", "bekommen", "versandt", "verschickt", "zugestellt",
    "arrivé", "livr", "reçu", "expédi", "envoy",
    "lleg", "entreg", "recib", "envi",
    "arrivat", "consegn", "ricevut", "spedit",
    "cheg", "recebi", "enviad",
    "aangekomen", "geleverd", "ontvangen", "verzonden", "bezorgd",
]


class SupportTicket(BaseModel):
    """A support request as the sinks receive it."""

    model_config = ConfigDict(extra="forbid")

    # The acceptance gate's demands (see libs/acceptance/fields.py): the sender's address and
    # name may come from the headers and the signature too; the order number only from the
    # customer's own words or the subject; the order date only from the customer's words
    # (the header's date is the message's), quoted with what makes it the order's; the issue
    # type by its cue words and agreement of 3 samples.
    customer_email: EmailStr = Field(
        description="The customer's email address.",
        json_schema_extra=acceptance(regions=("author", "header", "signature")),
    )
    order_id: OrderId = Field(
        description="The order number: exactly 5 digits.",
        json_schema_extra=acceptance(
            regions=("author", "header"), quote_cues=ORDER_ID_CUES, counter_cues=NOT_ORDER_ID_CUES
        ),
    )
    issue_type: IssueType = Field(
        description="What the customer needs.",
        json_schema_extra=acceptance(
            agree=3, cues=ISSUE_CUES, fallback="general_inquiry", strong_cues=STRONG_ISSUE_CUES
        ),
    )
    order_date: date = Field(
        description="The date the order was placed (YYYY-MM-DD).",
        json_schema_extra=acceptance(
            regions=("author",), quote_cues=ORDER_CUES, counter_cues=NOT_ORDER_DATE_CUES
        ),
    )
    customer_name: CustomerName = Field(
        description="The customer's name.",
        json_schema_extra=acceptance(regions=("author", "header", "signature"), sender=True),
    )

    @field_validator("customer_email")
    @classmethod
    def _email_in_source(cls, value: str, info: ValidationInfo) -> str:
        source = _source(info)
        if source is not None and value.lower() not in source.lower():
            raise PydanticCustomError(
                "not_in_source",
                "{value} does not occur in the source message; copy the address exactly",
                {"value": value},
            )
        return value

    @field_validator("order_id")
    @classmethod
    def _order_id_in_source(cls, value: str, info: ValidationInfo) -> str:
        source = _source(info)
        if source is not None and not re.search(rf"(?<![0-9]){re.escape(value)}(?![0-9])", source):
            raise PydanticCustomError(
                "not_in_source",
                "order number {value} does not occur in the source message",
                {"value": value},
            )
        return value

    @field_validator("order_date")
    @classmethod
    def _order_date_not_after_message(cls, value: date, info: ValidationInfo) -> date:
        message_date = _message_date(info)
        if message_date is not None and value > message_date:
            raise PydanticCustomError(
                "date_after_message",
                "order date {value} is after the message date {message_date}",
                {"value": value.isoformat(), "message_date": message_date.isoformat()},
            )
        return value


def _source(info: ValidationInfo) -> str | None:
    context: Any = info.context
    if isinstance(context, dict):
        source = context.get("source")
        return source if isinstance(source, str) else None
    return None


def _message_date(info: ValidationInfo) -> date | None:
    context: Any = info.context
    if not isinstance(context, dict):
        return None
    value = context.get("message_date")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None

"""Two extraction schemas that differ only in whether an order number may come from an
attached file: the acceptance gate's ``attachment`` region, refused by default."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.acceptance import acceptance


class MailOrder(BaseModel):
    """The order number must be in the sender's own words or the headers (the default)."""

    __sluice_schema__ = ("mail_order", 1)

    order_number: str = Field(pattern="^ORD-[0-9]{6}$")


class AttachedOrder(BaseModel):
    """The order number may come from a file attached to the message too."""

    __sluice_schema__ = ("attached_order", 1)

    order_number: str = Field(
        pattern="^ORD-[0-9]{6}$",
        json_schema_extra=acceptance(regions={"author", "header", "attachment"}),
    )


SCHEMAS = ",".join(f"{__name__}:{model.__name__}" for model in (MailOrder, AttachedOrder))

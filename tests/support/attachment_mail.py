"""An email whose order number is only in its attached PDF (page 2), built by the tests."""

from __future__ import annotations

from email.message import EmailMessage

from tests.support.files import pdf_with_text

ORDER_NUMBER = "ORD-774512"
INVOICE_PAGES = [
    "Kettle Shop invoice\nThank you for your purchase.",
    f"Order number: {ORDER_NUMBER}\nItem: stainless kettle, 1 piece\nTotal: 49.00 EUR",
]


def mail_with_invoice(message_id: str = "<invoice-mail@example.com>") -> bytes:
    message = EmailMessage()
    message["From"] = "Ann Buyer <ann@example.com>"
    message["To"] = "support@shop.example"
    message["Subject"] = "Where is my kettle?"
    message["Date"] = "Mon, 10 Mar 2025 09:00:00 +0000"
    message["Message-ID"] = message_id
    message.set_content("Hello, my kettle has not arrived yet. The invoice is attached.\nAnn")
    message.add_attachment(pdf_with_text(INVOICE_PAGES), maintype="application",
                           subtype="pdf", filename="invoice.pdf")
    return message.as_bytes()

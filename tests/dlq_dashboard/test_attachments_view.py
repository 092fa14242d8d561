"""The item page lists the message's attachments beside the source: each file's name, its
warehouse id and the text read from it, or why it could not be read."""

from __future__ import annotations

from tests.dlq_dashboard.conftest import SOURCE_EMAIL, Dashboard, dead_job


def test_an_item_shows_its_attachments_with_their_text_or_why_not(dashboard: Dashboard) -> None:
    job = dead_job(dashboard.store, input={
        "schema": "support_ticket", "text": "The invoice is attached.",
        "email": {"from": "jane@example.com", "subject": "Invoice"},
        "attachments": [
            {"filename": "invoice.pdf", "document_id": "d0c1", "content_type": "application/pdf",
             "text": "Order number: ORD-774512"},
            {"filename": "locked.pdf", "document_id": "d0c2", "content_type": "application/pdf",
             "error": "the PDF is encrypted with a password"},
        ],
    })
    raw = dead_job(dashboard.store, input={
        "schema": "support_ticket", "email": SOURCE_EMAIL.replace(
            "Content-Type: text/plain; charset=utf-8\n",
            "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
            "Content-Type: text/plain; charset=utf-8\n") + "\n--b\nContent-Type: application/pdf"
            "\nContent-Disposition: attachment; filename=\"receipt.pdf\"\n\n%PDF-1.4\n--b--\n"})
    client = dashboard.signed_in("vera")

    page = client.get(f"/items/{job.id}").text
    listed = client.get(f"/items/{raw.id}").text

    assert "Attachments (2)" in page
    assert "invoice.pdf" in page and "Order number: ORD-774512" in page and "d0c1" in page
    assert "Not read: the PDF is encrypted with a password" in page
    assert "receipt.pdf" in listed and "Attachments (1)" in listed

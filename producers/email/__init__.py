"""Email producer: IMAP mailboxes and .eml files/maildirs become documents and extract jobs."""

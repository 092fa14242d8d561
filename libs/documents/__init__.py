"""Documents: the warehouse of raw emails, pages and uploads that get embedded."""

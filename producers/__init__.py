"""Event sources that turn events into jobs: the API, email, crawl, CDC, batch."""

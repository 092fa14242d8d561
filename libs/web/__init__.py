"""What the HTTP edges share: ASGI middleware of the API and the dashboard, and the SSRF
guard of every outbound request to a URL a user gave (crawl, job callbacks)."""

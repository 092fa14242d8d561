"""Crawl producer: polite fetches on the io queue; pages go to the warehouse and get embedded."""

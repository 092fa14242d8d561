"""CDC producer: the warehouse collection's MongoDB change stream drives embed/delete jobs."""
